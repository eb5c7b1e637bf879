package inbound_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inbound"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func newInbound(t *testing.T, queue int) *inbound.Inbound {
	t.Helper()
	in, err := inbound.New(inbound.Options{Name: "Inbound", QueueSize: queue})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.Destroy)
	return in
}

func jobJSON(t *testing.T, path ...string) []byte {
	t.Helper()
	e, err := abxbus.NewBaseEvent("Job", map[string]any{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := e.ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	if path == nil {
		return raw
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["event_path"] = path
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Deliver names what went wrong: undecodable data is a *DecodeError, an echo is skipped (nil, nil),
// a full window past ctx is ctx's own error, not wrapped.
func TestDeliverOutcomes(t *testing.T) {
	in := newInbound(t, 1)
	release := make(chan struct{})
	if _, err := in.On("Job", func(ctx context.Context, _ *abxbus.BaseEvent) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	}, nil, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	_, err := in.Deliver(t.Context(), []byte(`not json`), true)
	var de *inbound.DecodeError
	if !errors.As(err, &de) || inbound.Cause(err) != de.Err {
		t.Fatalf("bad JSON: %v, want a *DecodeError", err)
	}
	if e, err := in.Deliver(t.Context(), jobJSON(t, "App#1", in.Bus().Label()), true); e != nil || err != nil {
		t.Fatalf("echo: %v, %v, want nil, nil", e, err)
	}
	first, err := in.Deliver(t.Context(), jobJSON(t), true)
	if err != nil || first == nil {
		t.Fatalf("first: %v, %v", first, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := in.Deliver(ctx, jobJSON(t), true); err != context.DeadlineExceeded {
		t.Fatalf("full window: %v, want context.DeadlineExceeded itself", err)
	}
	if n := in.Unfinished(); n != 1 {
		t.Fatalf("Unfinished = %d, want 1", n)
	}
	close(release)
	<-first.Done()
	if n := in.Unfinished(); n != 0 {
		t.Fatalf("Unfinished after completion = %d, want 0", n)
	}
}

// Close waits for the bus up to d, then calls cut with the unfinished count and returns its error.
func TestCloseCutsShort(t *testing.T) {
	in := newInbound(t, 4)
	if _, err := in.On("Job", func(ctx context.Context, _ *abxbus.BaseEvent) (any, error) {
		<-ctx.Done()
		return nil, nil
	}, nil, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := in.Deliver(t.Context(), jobJSON(t), true); err != nil {
			t.Fatal(err)
		}
	}
	got := -1
	err := in.Close(50*time.Millisecond, func(n int) error { got = n; return errors.New("cut") })
	if got != 2 || err == nil || err.Error() != "cut" {
		t.Fatalf("Close: cut(%d), %v; want cut(2) and its error", got, err)
	}
}

// Encode refuses an event above the limit with an error matching bridges.ErrTooLarge that names it.
func TestEncodeLimit(t *testing.T) {
	e, err := abxbus.NewBaseEvent("Job", map[string]any{"pad": strings.Repeat("x", 100)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inbound.Encode(e, "test bridge", 0); err != nil {
		t.Fatalf("no limit: %v", err)
	}
	_, err = inbound.Encode(e, "test bridge", 50)
	if !errors.Is(err, bridges.ErrTooLarge) || !strings.HasPrefix(err.Error(), "test bridge: ") {
		t.Fatalf("over the limit: %v", err)
	}
}

// Decode of outside input errs or returns both events, never panics (the bridges' frames and rows
// all go through it).
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"event_type":"Job","n":1}`))
	f.Add([]byte(`{"event_type":"Job","event_path":["A#1"],"event_created_at":"2024-01-01T00:00:00.000Z"}`))
	f.Add([]byte(`[1,2]`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sent, ev, err := inbound.Decode(nil, data)
		if err == nil && (sent == nil || ev == nil) {
			t.Fatal("nil event without error")
		}
		if err != nil && (sent != nil || ev != nil) {
			t.Fatal("an event with an error")
		}
	})
}
