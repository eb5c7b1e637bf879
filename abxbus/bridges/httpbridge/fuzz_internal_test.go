package httpbridge

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// FuzzServe posts arbitrary bodies to the listener's handler: it never panics, answers 202 exactly
// when the body is an event abxbus.FromJSON accepts, 400 for a body that is not JSON, 413 above the
// limit, and 500 (with the refused header) for JSON that is not a valid event.
func FuzzServe(f *testing.F) {
	for _, s := range []string{
		`{"event_type":"X","seq":1}`, `{"event_type":"X","event_created_at":"2026-01-01T00:00:00+00:00"}`,
		`[1]`, `"s"`, `{`, ``, `{"event_type":"X","event_results":{"a":{}}}`, `{"event_type":"X","x":1,"x":2}`,
	} {
		f.Add([]byte(s))
	}
	br, err := New("", &Options{ListenOn: "http://127.0.0.1:0/e", MaxBodyBytes: 4096, DedupeSize: 64, QueueSize: 4})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { br.Close() })
	f.Fuzz(func(t *testing.T, body []byte) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/e", bytes.NewReader(body))
		br.serve(w, r)
		_, decErr := abxbus.FromJSON(body)
		var want int
		switch {
		case len(body) > 4096:
			want = 413
		case !json.Valid(body):
			want = 400
		case decErr != nil:
			want = 500
		default:
			want = 202
		}
		if w.Code != want {
			t.Fatalf("status %d (%q), want %d (decode error %v)", w.Code, w.Body.String(), want, decErr)
		}
		if want == 500 && w.Header().Get(RefusedHeader) != "event" {
			t.Fatal("500 without the refused header")
		}
	})
}
