package cli

import (
	"testing"
)

// A line given to emit (--payload or --stdin) either becomes an event that encodes back to JSON, or is
// refused with an error, without a panic.
func FuzzEventFrom(f *testing.F) {
	for _, s := range []string{`{}`, `{"n":1}`, `{"event_type":"X","event_id":"bad"}`, `[1]`, `null`, `"s"`,
		`{"event_type":"","n":1}`, `{"event_created_at":"2026-01-01T00:00:00+00:00"}`, `{"event_results":{"x":1}}`} {
		f.Add([]byte(s), "Num")
	}
	f.Fuzz(func(t *testing.T, raw []byte, typ string) {
		e, err := eventFrom(raw, typ)
		if err != nil {
			return
		}
		if _, err := e.ToJSON(); err != nil {
			t.Fatalf("eventFrom(%q) built an event that does not encode: %v", raw, err)
		}
	})
}
