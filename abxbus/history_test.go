package abxbus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// histGates lets a test decide when each Order (by OrderID) finishes: the handler blocks until the gate
// of its order is opened. All gates are created before any emit, so handlers only read the map.
type histGates map[string]chan struct{}

func newHistGates(ids ...string) histGates {
	g := histGates{}
	for _, id := range ids {
		g[id] = make(chan struct{})
	}
	return g
}

func (g histGates) open(id string) { close(g[id]) }

// histBus is a parallel bus whose Order handler waits for the order's gate (or its own cancellation).
func histBus(t *testing.T, size int, drop bool, gates histGates, logger *slog.Logger) *abxbus.Bus {
	t.Helper()
	b := newBus(t, "HistBus", &abxbus.Options{
		MaxHistorySize:   abxbus.Ptr(size),
		MaxHistoryDrop:   drop,
		EventConcurrency: abxbus.Parallel,
		Logger:           logger,
	})
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, o Order) (string, error) {
		if g, ok := gates[o.OrderID]; ok {
			select {
			case <-g:
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return "done:" + o.OrderID, nil
	}))
	return b
}

// histEmit emits an Order and fails the test on an emit error.
func histEmit(t *testing.T, b *abxbus.Bus, id string) *abxbus.BaseEvent {
	t.Helper()
	e, err := abxbus.Emit(tctx(t), b, Order{OrderID: id})
	if err != nil {
		t.Fatalf("emit %s: %v", id, err)
	}
	return e.Base()
}

// histFinish opens the gate of e's order and waits until e completed.
func histFinish(t *testing.T, g histGates, id string, e *abxbus.BaseEvent) {
	t.Helper()
	g.open(id)
	if err := e.Wait(tctx(t)); err != nil {
		t.Fatalf("wait %s: %v", id, err)
	}
}

// histIDs lists the order ids of the retained history, oldest first.
func histIDs(t *testing.T, b *abxbus.Bus) []string {
	t.Helper()
	var out []string
	for _, e := range b.History() {
		p, ok := e.Payload().(Order)
		if !ok {
			out = append(out, e.Type())
			continue
		}
		out = append(out, p.OrderID)
	}
	return out
}

func histWant(t *testing.T, b *abxbus.Bus, want ...string) {
	t.Helper()
	got := histIDs(t, b)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("history = %v, want %v", got, want)
	}
	if b.HistoryLen() != len(want) {
		t.Fatalf("HistoryLen = %d, want %d", b.HistoryLen(), len(want))
	}
}

// histLog is a slog handler target that counts lines; safe for concurrent use.
type histLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *histLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *histLog) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), substr)
}

const histDropWarning = "dropping oldest history entries"

// D1 (max_history_drop=false), F189 overridden: at the limit the oldest *completed* event is evicted to
// make room; an emit is rejected with ErrHistoryFull only when every retained event is in flight. The
// rejected event reports the rejection from Wait, never panics, and in-flight events are never evicted.
func TestHistoryEvictsCompletedThenRejectsD1(t *testing.T) {
	g := newHistGates("a", "b", "c", "d", "e", "f", "x")
	b := histBus(t, 3, false, g, nil)
	a, bb, c := histEmit(t, b, "a"), histEmit(t, b, "b"), histEmit(t, b, "c")
	histWant(t, b, "a", "b", "c")

	// Full of in-flight events: rejected.
	x, err := abxbus.Emit(tctx(t), b, Order{OrderID: "x"})
	if !errors.Is(err, abxbus.ErrHistoryFull) {
		t.Fatalf("emit into a history full of in-flight events: err = %v, want ErrHistoryFull", err)
	}
	var full *abxbus.HistoryFullError
	if !errors.As(err, &full) || full.Limit != 3 || full.Bus != b.Label() || !strings.Contains(err.Error(), x.String()) {
		t.Fatalf("rejection error %#v (%v) does not name bus, limit and event", full, err)
	}
	if werr := x.Wait(tctx(t)); !errors.Is(werr, abxbus.ErrHistoryFull) {
		t.Fatalf("Wait on the rejected event = %v, want ErrHistoryFull", werr)
	}
	if x.Base().Status() != abxbus.EventPending || len(x.Base().Path()) != 0 {
		t.Fatalf("rejected event was accepted: status %s path %v", x.Base().Status(), x.Base().Path())
	}
	histWant(t, b, "a", "b", "c")

	// b completes: it is the only completed entry, so it is the one evicted, not the older in-flight a.
	histFinish(t, g, "b", bb)
	d := histEmit(t, b, "d")
	histWant(t, b, "a", "c", "d")

	// a and c complete: the oldest completed (a) leaves first, then c.
	histFinish(t, g, "c", c)
	histFinish(t, g, "a", a)
	e := histEmit(t, b, "e")
	histWant(t, b, "c", "d", "e")
	f := histEmit(t, b, "f")
	histWant(t, b, "d", "e", "f")

	// Full of in-flight again: rejected again.
	if _, err := abxbus.Emit(tctx(t), b, Order{OrderID: "y"}); !errors.Is(err, abxbus.ErrHistoryFull) {
		t.Fatalf("second rejection: err = %v", err)
	}
	for _, id := range []string{"d", "e", "f"} {
		g.open(id)
	}
	idle(t, b)
	for _, ev := range []*abxbus.BaseEvent{d, e, f} {
		if v, err := ev.Result(tctx(t)); err != nil || v != "done:"+ev.Payload().(Order).OrderID {
			t.Fatalf("%s result = %v, %v", ev, v, err)
		}
	}
	// Retained after idle: up to N (F189), and a new emit now evicts instead of rejecting.
	histWant(t, b, "d", "e", "f")
	histEmit(t, b, "z")
	idle(t, b)
	histWant(t, b, "e", "f", "z")
}

// D1 (max_history_drop=true), F190, D14: never rejects; completed events leave first (oldest first),
// then the oldest unfinished ones, with one warning per bus. A dropped in-flight event is still processed
// to completion and its waiters are woken; find no longer sees it (F173).
func TestHistoryDropModeD1D14(t *testing.T) {
	logs := &histLog{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	g := newHistGates("a", "b", "c", "d", "e", "f", "g", "h")
	b := histBus(t, 3, true, g, logger)
	a, bb, c := histEmit(t, b, "a"), histEmit(t, b, "b"), histEmit(t, b, "c")

	// A waiter on a, started before a is dropped.
	waited := make(chan error, 1)
	go func() { waited <- a.Wait(tctx(t)) }()

	histFinish(t, g, "b", bb)
	d := histEmit(t, b, "d") // evicts the completed b, not the older in-flight a
	histWant(t, b, "a", "c", "d")
	if n := logs.count(histDropWarning); n != 0 {
		t.Fatalf("warning logged before an unfinished event was dropped (%d)", n)
	}

	e := histEmit(t, b, "e") // nothing completed: the oldest unfinished (a) is dropped
	histWant(t, b, "c", "d", "e")
	if n := logs.count(histDropWarning); n != 1 {
		t.Fatalf("drop warnings = %d, want 1\n%s", n, logs.buf.String())
	}
	if !strings.Contains(logs.buf.String(), b.Label()) || !strings.Contains(logs.buf.String(), "max_history_size=3") {
		t.Fatalf("warning does not name the bus and its limit: %s", logs.buf.String())
	}
	f := histEmit(t, b, "f") // drops c, still only one warning per bus
	histEmit(t, b, "g")      // drops d
	histWant(t, b, "e", "f", "g")
	if n := logs.count(histDropWarning); n != 1 {
		t.Fatalf("drop warnings = %d, want exactly 1 per bus", n)
	}

	// F173: a dropped event is invisible to find, though still running.
	if got, err := b.Filter(tctx(t), "Order", abxbus.FindOptions{}); err != nil || len(got) != 3 {
		t.Fatalf("Filter after drops = %v, %v", got, err)
	}
	if got, _ := b.Find(tctx(t), "Order", abxbus.FindOptions{Equals: map[string]any{"order_id": "a"}}); got != nil {
		t.Fatalf("find returned the dropped event %v", got)
	}

	// D14: dropped events still complete, with their results, and the waiter wakes.
	for _, id := range []string{"a", "c", "d", "e", "f", "g"} {
		g.open(id)
	}
	if err := <-waited; err != nil {
		t.Fatalf("waiter of the dropped event: %v", err)
	}
	idle(t, b)
	for _, ev := range []*abxbus.BaseEvent{a, c, d, e, f} {
		v, err := ev.Result(tctx(t))
		if err != nil || !strings.HasPrefix(v.(string), "done:") {
			t.Fatalf("%s after being dropped: %v, %v", ev, v, err)
		}
		if ev.Status() != abxbus.EventCompleted {
			t.Fatalf("%s status %s", ev, ev.Status())
		}
	}
	histWant(t, b, "e", "f", "g")

	// Another bus warns on its own (one warning per bus, not per process).
	g2 := newHistGates("p", "q")
	b2 := histBus(t, 1, true, g2, logger)
	histEmit(t, b2, "p")
	histEmit(t, b2, "q")
	if n := logs.count(histDropWarning); n != 2 {
		t.Fatalf("second bus: drop warnings = %d, want 2 in total", n)
	}
	g2.open("p")
	g2.open("q")
	idle(t, b2)
}

// F188: max_history_size=0 keeps only in-flight events visible and never rejects; each event leaves the
// history as it completes. F173: future lookups still work.
func TestHistoryZeroKeepsInFlightOnlyF188(t *testing.T) {
	g := newHistGates("a", "b", "c", "d", "e")
	b := histBus(t, 0, false, g, nil)
	evs := map[string]*abxbus.BaseEvent{}
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		evs[id] = histEmit(t, b, id) // never rejected, however many are in flight
	}
	histWant(t, b, "a", "b", "c", "d", "e")
	histFinish(t, g, "c", evs["c"])
	histWant(t, b, "a", "b", "d", "e")
	for _, id := range []string{"a", "b", "d", "e"} {
		histFinish(t, g, id, evs[id])
	}
	idle(t, b)
	histWant(t, b)
	if e, err := b.Find(tctx(t), "Order", abxbus.FindOptions{}); e != nil || err != nil {
		t.Fatalf("past find with max_history_size=0 = %v, %v", e, err)
	}
}

// F187: an unbounded history keeps every event.
func TestHistoryUnboundedF187(t *testing.T) {
	b := histBus(t, abxbus.UnlimitedHistory, false, nil, nil)
	const n = 250 // more than the default limit of 100
	for i := 0; i < n; i++ {
		histEmit(t, b, fmt.Sprint(i))
	}
	idle(t, b)
	ids := histIDs(t, b)
	if len(ids) != n || ids[0] != "0" || ids[n-1] != fmt.Sprint(n-1) {
		t.Fatalf("unbounded history kept %d events (%v...)", len(ids), ids[:3])
	}
}

// F52, F189 (as D1 reads it): the default limit is 100; after idle the history holds the newest 100.
// (Each emit is awaited: 130 emits queued at once would, correctly, hit the D1 backpressure.)
func TestHistoryDefaultLimit(t *testing.T) {
	d := newBus(t, "DefaultBus", nil)
	must[*abxbus.Handler](t)(abxbus.On(d, func(ctx context.Context, o Order) (string, error) { return o.OrderID, nil }))
	for i := 0; i < 130; i++ {
		if err := histEmit(t, d, fmt.Sprint(i)).Wait(tctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	idle(t, d)
	ids := histIDs(t, d)
	if len(ids) != 100 || ids[0] != "30" || ids[99] != "129" {
		t.Fatalf("%s history: %d events, first %v", d, len(ids), ids[:1])
	}
}

// F254, F255, F257: the store accessors, SetMaxHistory (applies a new policy at once) and TrimHistory
// with its on_remove callback (called outside the lock, oldest first). D14: RemoveFromHistory does not
// stop processing.
func TestHistoryStoreAPIF255F257(t *testing.T) {
	g := newHistGates("r1", "r2", "r3")
	b := histBus(t, 10, false, g, nil)
	var done []*abxbus.BaseEvent
	for i := 0; i < 3; i++ {
		done = append(done, histEmit(t, b, fmt.Sprint(i)))
	}
	for _, e := range done {
		if err := e.Wait(tctx(t)); err != nil {
			t.Fatal(err)
		}
	}
	r1, r2, r3 := histEmit(t, b, "r1"), histEmit(t, b, "r2"), histEmit(t, b, "r3")
	if got, ok := b.HistoryEvent(done[1].ID()); !ok || got != done[1] {
		t.Fatalf("HistoryEvent = %v, %v", got, ok)
	}
	if _, ok := b.HistoryEvent(abxbus.ID{}); ok {
		t.Fatal("HistoryEvent of an unknown id")
	}
	if !b.RemoveFromHistory(r1) || b.RemoveFromHistory(r1) || b.RemoveFromHistory(nil) {
		t.Fatal("RemoveFromHistory did not report presence")
	}
	histWant(t, b, "0", "1", "2", "r2", "r3")

	// A smaller limit evicts the completed events at once; in-flight ones stay (no drop).
	b.SetMaxHistory(1, false)
	histWant(t, b, "r2", "r3")

	// Once r2 completed, TrimHistory brings the history down to the limit and reports what it removed.
	histFinish(t, g, "r2", r2)
	var removed []string
	n := b.TrimHistory(func(e *abxbus.BaseEvent) {
		removed = append(removed, e.Payload().(Order).OrderID)
		_ = b.HistoryLen() // the callback runs without the bus lock
	})
	if n != 1 || strings.Join(removed, ",") != "r2" {
		t.Fatalf("TrimHistory = %d %v, want 1 [r2]", n, removed)
	}
	histWant(t, b, "r3")
	if n := b.TrimHistory(nil); n != 0 {
		t.Fatalf("TrimHistory at the limit removed %d", n)
	}

	// D14: the event removed by hand still completes.
	histFinish(t, g, "r1", r1)
	histFinish(t, g, "r3", r3)
	if v, err := r1.Result(tctx(t)); err != nil || v != "done:r1" {
		t.Fatalf("removed event result = %v, %v", v, err)
	}
	// In drop mode TrimHistory may remove unfinished events too; with size 0 only completed ones.
	g2 := newHistGates("p", "q")
	b2 := histBus(t, abxbus.UnlimitedHistory, false, g2, nil)
	p, q := histEmit(t, b2, "p"), histEmit(t, b2, "q")
	b2.SetMaxHistory(0, false)
	histWant(t, b2, "p", "q")
	if n := b2.TrimHistory(nil); n != 0 {
		t.Fatalf("size 0 TrimHistory removed %d in-flight events", n)
	}
	b2.SetMaxHistory(-1, true)
	b2.SetMaxHistory(1, true)
	histWant(t, b2, "q")
	histFinish(t, g2, "p", p)
	histFinish(t, g2, "q", q)
	idle(t, b)
	idle(t, b2)
}
