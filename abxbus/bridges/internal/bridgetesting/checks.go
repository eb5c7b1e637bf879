package bridgetesting

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Echoed returns the JSON of Ping(seq) with an event_path that already names label, as the
// listener's own event comes back through a bidirectional wiring.
func Echoed(t *testing.T, seq int, label string) string {
	t.Helper()
	raw, err := Ping(seq).ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["event_path"] = []string{"App#1234", label}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// ExpectSeqs waits (5 s at most) until len(want) events were recorded, gives stragglers 50 ms, then
// checks that exactly want arrived, in that order.
func (c *Collector) ExpectSeqs(t testing.TB, want ...int) {
	t.Helper()
	c.Wait(t, len(want), 5*time.Second)
	time.Sleep(50 * time.Millisecond)
	if got := c.Snapshot(); !slices.Equal(got, want) {
		t.Fatalf("received %v, want %v", got, want)
	}
}

// CheckCloseHandlesAccepted checks that the events a listener accepted are handled before its Close
// returns: recv (not started) gets a handler that takes 50 ms, send (made once recv listens) emits 5
// pings, and Close must return nil with all 5 handled.
func CheckCloseHandlesAccepted(t *testing.T, recv Listener, send func() Emitter) {
	t.Helper()
	var handled atomic.Int32
	onAndEmit(t, recv, func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		select {
		case <-time.After(50 * time.Millisecond):
			handled.Add(1)
		case <-ctx.Done():
		}
		return nil, nil
	}, send, 5)
	if err := recv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := handled.Load(); n != 5 {
		t.Fatalf("%d of 5 accepted events handled when Close returned", n)
	}
}

// onAndEmit registers fn on recv for every event, then has send's emitter emit Ping(0..n-1).
func onAndEmit(t *testing.T, recv Listener, fn abxbus.HandlerFunc, send func() Emitter, n int) {
	t.Helper()
	if _, err := recv.On("*", fn); err != nil {
		t.Fatal(err)
	}
	em := send()
	for i := range n {
		if err := em.Emit(t.Context(), Ping(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// CheckCloseDrainTimeout checks that Close, past the drain timeout of recv (a short one, not
// started), cancels what is left within 5 s and says how many events it cut short: recv's handler
// waits for its cancellation, send emits 3 pings.
func CheckCloseDrainTimeout(t *testing.T, recv Listener, send func() Emitter) {
	t.Helper()
	onAndEmit(t, recv, func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		<-ctx.Done()
		return nil, nil
	}, send, 3)
	start := time.Now()
	err := recv.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if err == nil || !strings.Contains(err.Error(), "3 received event") {
		t.Fatalf("Close: %v, want an error naming 3 received events", err)
	}
}

// SlowHandler is a handler that takes 50 ms (or returns ctx's error when cancelled first) and counts
// the events it started and finished, for the checks that Close lets received events finish.
type SlowHandler struct {
	mu                sync.Mutex
	started, finished int
}

// Handle is the HandlerFunc.
func (h *SlowHandler) Handle(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
	h.mu.Lock()
	h.started++
	h.mu.Unlock()
	select {
	case <-time.After(50 * time.Millisecond):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	h.mu.Lock()
	h.finished++
	h.mu.Unlock()
	return nil, nil
}

// WaitStarted waits, polling every 2 ms, until an event started or ctx ended.
func (h *SlowHandler) WaitStarted(ctx context.Context) {
	for ctx.Err() == nil {
		h.mu.Lock()
		s := h.started
		h.mu.Unlock()
		if s > 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// ExpectFinished checks that n events finished (once Close returned).
func (h *SlowHandler) ExpectFinished(t testing.TB, n int) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.finished != n {
		t.Fatalf("handled %d of %d received events before Close returned (%d started)", h.finished, n, h.started)
	}
}
