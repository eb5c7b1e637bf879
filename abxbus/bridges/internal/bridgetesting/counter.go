package bridgetesting

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// FaultPing is a FaultPing event (untyped) with seq and a pad of any size, the event of the fault
// tests of the table bridges.
func FaultPing(t testing.TB, seq int, pad string) *abxbus.BaseEvent {
	e, err := abxbus.NewBaseEvent("FaultPing", map[string]any{"seq": seq, "pad": pad})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Counter records how often each seq arrived, and the pad size of each.
type Counter struct {
	mu     sync.Mutex
	counts map[int]int
	pad    map[int]int
	ch     chan struct{}
}

// NewCounter returns an empty Counter.
func NewCounter() *Counter {
	return &Counter{counts: map[int]int{}, pad: map[int]int{}, ch: make(chan struct{}, 1)}
}

// Handler is the HandlerFunc that records an event's seq and pad.
func (c *Counter) Handler(_ context.Context, e *abxbus.BaseEvent) (any, error) {
	raw, err := e.PayloadJSON()
	if err != nil {
		return nil, err
	}
	var p struct {
		Seq int    `json:"seq"`
		Pad string `json:"pad"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.counts[p.Seq]++
	c.pad[p.Seq] = len(p.Pad)
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
	return nil, nil
}

// Wait waits until n distinct seqs arrived or ctx ends; it returns, of seqs 0..n-1, how many were
// delivered, how many extra deliveries there were, and how many were lost.
func (c *Counter) Wait(ctx context.Context, n int) (delivered, dup, lost int) {
	for ctx.Err() == nil {
		if c.Distinct() >= n {
			break
		}
		select {
		case <-c.ch:
		case <-ctx.Done():
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range n {
		if k := c.counts[s]; k == 0 {
			lost++
		} else {
			delivered++
			dup += k - 1
		}
	}
	return delivered, dup, lost
}

// Distinct returns how many distinct seqs arrived.
func (c *Counter) Distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.counts)
}

// Pad returns the pad size of seq's last delivery.
func (c *Counter) Pad(seq int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pad[seq]
}

// EmitBig has em emit FaultPing 0 carrying pad, then FaultPing 1, waits for both on c (the listener
// runs c.Handler) until ctx ends, logs the outcome and returns the duplicates and losses.
func (c *Counter) EmitBig(ctx context.Context, t testing.TB, em Emitter, pad string) (dup, lost int) {
	t.Helper()
	if err := em.Emit(ctx, FaultPing(t, 0, pad)); err != nil {
		t.Fatal(err)
	}
	if err := em.Emit(ctx, FaultPing(t, 1, "")); err != nil {
		t.Fatal(err)
	}
	delivered, dup, lost := c.Wait(ctx, 2)
	t.Logf("10 MB event: emitted 2, delivered %d, duplicated %d, lost %d", delivered, dup, lost)
	return dup, lost
}

// Two Go types under one event type name: a listener whose Registry decodes "FaultClash" as
// clashA (ClashRegistry) while its bus is bound to clashB (BindClash) has its bus refuse them.
type clashA struct {
	abxbus.Returns[abxbus.Void]
	N int `json:"n"`
}

func (clashA) EventSpec() abxbus.EventSpec { return abxbus.EventSpec{Type: "FaultClash"} }

type clashB struct {
	abxbus.Returns[abxbus.Void]
	N int `json:"n"`
}

func (clashB) EventSpec() abxbus.EventSpec { return abxbus.EventSpec{Type: "FaultClash"} }

// ClashRegistry returns a registry that decodes "FaultClash" as one Go type (see BindClash).
func ClashRegistry(t testing.TB) *abxbus.Registry {
	t.Helper()
	reg := abxbus.NewRegistry()
	if err := abxbus.Register[clashA](reg); err != nil {
		t.Fatal(err)
	}
	return reg
}

// BindClash binds bus to another Go type named "FaultClash", so that it refuses the events a
// ClashRegistry decodes.
func BindClash(bus *abxbus.Bus) {
	abxbus.OnNotify(bus, func(ctx context.Context, p clashB) error { return nil })
}

// EmitAroundRefused has em emit FaultPing 0, a FaultClash (which the listener's bus refuses), then
// FaultPing 1 and 2, and checks that the three pings are delivered once each, and still once each
// settle later (a redelivery loop would show).
func (c *Counter) EmitAroundRefused(ctx context.Context, t testing.TB, em Emitter, settle time.Duration) {
	t.Helper()
	clash, err := abxbus.NewBaseEvent("FaultClash", map[string]any{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*abxbus.BaseEvent{FaultPing(t, 0, ""), clash, FaultPing(t, 1, ""), FaultPing(t, 2, "")} {
		if err := em.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	delivered, dup, lost := c.Wait(ctx, 3)
	time.Sleep(settle)
	_, dup2, _ := c.Wait(ctx, 3)
	if delivered != 3 || dup != 0 || lost != 0 || dup2 != 0 {
		t.Fatalf("delivered %d, duplicated %d (%d after %d ms), lost %d", delivered, dup, dup2, settle.Milliseconds(), lost)
	}
}
