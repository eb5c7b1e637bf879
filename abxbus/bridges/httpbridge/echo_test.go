package httpbridge_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
)

var echoed = bridgetesting.Echoed

// An event whose event_path names the listener's bus is answered 202 without being delivered and
// does not take a queue slot: more than QueueSize of them used to stop the listener for good (the bus
// skips them, so they never complete and the window's head never moves).
func TestEchoedEventsDoNotStopTheListener(t *testing.T) {
	for _, ack := range []bool{false, true} {
		t.Run(map[bool]string{false: "queued", true: "ackAfterHandled"}[ack], func(t *testing.T) {
			recv, c := newListener(t, &httpbridge.Options{QueueSize: 2, AckAfterHandled: ack})
			client := &http.Client{Timeout: 5 * time.Second}
			for i := range 4 {
				resp, err := client.Post(recv.ListenURL(), "application/json", strings.NewReader(echoed(t, 100+i, recv.Bus().Label())))
				if err != nil {
					t.Fatalf("echo %d: %v", i, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					t.Fatalf("echo %d: status %d %q, want 202", i, resp.StatusCode, body)
				}
			}
			send := newEmitter(t, recv.ListenURL(), &httpbridge.Options{AttemptTimeout: 5 * time.Second, MaxAttempts: 1})
			if err := send.Emit(t.Context(), ping(1)); err != nil {
				t.Fatal(err)
			}
			c.ExpectSeqs(t, 1)
		})
	}
}
