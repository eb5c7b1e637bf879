package abxbus_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Lifecycle (spec §31): WaitUntilIdle, Destroy with and without clear.

// F268: WaitUntilIdle returns nil at once on an idle bus, waits for queued and in-flight events, and
// returns the context's error when the context ends first (processing goes on).
func TestWaitUntilIdleF268(t *testing.T) {
	b := newBus(t, "IdleBus", nil)
	if err := b.WaitUntilIdle(context.Background()); err != nil || !b.IsIdle() {
		t.Fatalf("idle bus: %v, IsIdle=%v", err, b.IsIdle())
	}
	gate, started := make(chan struct{}), make(chan struct{}, 3)
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, o Order) (string, error) {
		started <- struct{}{}
		<-gate
		return o.OrderID, nil
	}))
	var evs []*abxbus.Event[Order, string]
	for _, id := range []string{"a", "b", "c"} {
		evs = append(evs, must[*abxbus.Event[Order, string]](t)(abxbus.Emit(tctx(t), b, Order{OrderID: id})))
	}
	<-started
	if b.IsIdle() {
		t.Fatal("IsIdle with events in flight")
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.WaitUntilIdle(ended); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitUntilIdle with an ended context = %v", err)
	}
	// Several waiters are released together once the last event finished.
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() { errs <- b.WaitUntilIdle(tctx(t)) }()
	}
	close(gate)
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range evs {
		if e.Status() != abxbus.EventCompleted {
			t.Fatalf("%s not completed after WaitUntilIdle", e)
		}
	}
	if b.QueueLen() != 0 || !b.IsIdle() {
		t.Fatal("bus not idle after WaitUntilIdle")
	}
}

// F269, F270, D2: Destroy(clear=true) is immediate and terminal: the running handler's context is
// cancelled and its result records an aborted error caused by the destroy; queued events finish without
// running; a waiting find gets nil; the event completes; every later operation returns ErrBusDestroyed
// naming the bus and the operation; handlers and history are cleared. Destroy is idempotent.
func TestDestroyClearF269F270(t *testing.T) {
	ctx := tctx(t)
	b, err := abxbus.New("DoomedBus", nil)
	if err != nil {
		t.Fatal(err)
	}
	started, leave := make(chan struct{}), make(chan struct{})
	calls := 0
	must[*abxbus.Handler](t)(abxbus.On(b, func(hctx context.Context, o Order) (string, error) {
		calls++
		close(started)
		<-hctx.Done() // the destroy cancels it
		<-leave       // and the handler may outlive the destroy: the bus does not wait for it
		return "late", nil
	}))
	running := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, b, Order{OrderID: "run"}))
	queued := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, b, Order{OrderID: "queued"}))
	waiting := waitingFinds(t)
	found := goFind(ctx, b, "Shipment", abxbus.FindOptions{Future: abxbus.Always})
	<-waiting
	<-started

	b.Destroy(true)

	if r := <-found; r.e != nil || r.err != nil {
		t.Fatalf("waiting find after Destroy = %v, %v; want nil, nil", r.e, r.err)
	}
	if err := running.Wait(ctx); err != nil {
		t.Fatalf("%s: Wait after Destroy = %v", running, err)
	}
	// Issue 10 item 12: the queued event never ran; its waits say why.
	if err := queued.Wait(ctx); !errors.Is(err, abxbus.ErrBusDestroyed) {
		t.Fatalf("%s: Wait after Destroy = %v, want the bus-destroyed error", queued, err)
	}
	rows := running.EventResults()
	if len(rows) != 1 {
		t.Fatalf("running event results: %d", len(rows))
	}
	rerr := rows[0].Err()
	var aborted *abxbus.EventHandlerAbortedError
	if !errors.As(rerr, &aborted) || !errors.Is(rerr, abxbus.ErrBusDestroyed) {
		t.Fatalf("running handler after Destroy: %v (%T)", rerr, rerr)
	}
	if len(queued.EventResults()) != 0 || calls != 1 {
		t.Fatalf("queued event ran a handler after Destroy (results %d, calls %d)", len(queued.EventResults()), calls)
	}
	if err := b.WaitUntilIdle(ctx); err != nil {
		t.Fatalf("WaitUntilIdle on a destroyed bus: %v", err)
	}

	// Terminal: every later operation is rejected with an error naming the bus and the operation.
	_, err = abxbus.Emit(ctx, b, Order{OrderID: "after"})
	if !errors.Is(err, abxbus.ErrBusDestroyed) || err.Error() != b.Label()+".Emit rejected: event bus has been destroyed" {
		t.Fatalf("Emit after Destroy: %v", err)
	}
	if _, err := b.OnType("Order", func(context.Context, *abxbus.BaseEvent) (any, error) { return nil, nil }); !errors.Is(err, abxbus.ErrBusDestroyed) {
		t.Fatalf("OnType after Destroy: %v", err)
	}
	if _, err := b.Find(ctx, "Order", abxbus.FindOptions{Future: abxbus.Always}); !errors.Is(err, abxbus.ErrBusDestroyed) {
		t.Fatalf("future Find after Destroy: %v", err)
	}
	// clear=true: handlers and history are gone.
	if len(b.Handlers()) != 0 || b.HistoryLen() != 0 || !b.IsDestroyed() {
		t.Fatalf("after Destroy(true): %d handlers, %d history", len(b.Handlers()), b.HistoryLen())
	}
	b.Destroy(true) // idempotent
	b.Destroy(false)
	close(leave)
	// The late return changes nothing (F41).
	if v, _ := rows[0].Value(); v != nil || rows[0].Status() != abxbus.ResultError {
		t.Fatalf("late return altered the result: %v %s", v, rows[0].Status())
	}
}

// F270, F272: Destroy(clear=false) is as terminal but keeps handlers and history for inspection; a
// later Destroy(true) clears them.
func TestDestroyKeepF270(t *testing.T) {
	ctx := tctx(t)
	b := orderBus(t, nil)
	orders := emitOrders(t, b, "o1", "o2")
	b.Destroy(false)
	if !b.IsDestroyed() || len(b.Handlers()) != 2 || b.HistoryLen() != 2 {
		t.Fatalf("after Destroy(false): destroyed=%v handlers=%d history=%d", b.IsDestroyed(), len(b.Handlers()), b.HistoryLen())
	}
	if e, ok := b.HistoryEvent(orders[1].ID()); !ok || e != orders[1].Base() {
		t.Fatalf("history after Destroy(false) = %v, %v", e, ok)
	}
	if _, err := b.Find(ctx, "Order", abxbus.FindOptions{}); !errors.Is(err, abxbus.ErrBusDestroyed) {
		t.Fatalf("history find after Destroy(false) = %v (issue 10 item 12: the destroyed error)", err)
	}
	if _, err := abxbus.Emit(ctx, b, Order{OrderID: "o3"}); !errors.Is(err, abxbus.ErrBusDestroyed) {
		t.Fatalf("Emit after Destroy(false): %v", err)
	}
	b.Destroy(true)
	if len(b.Handlers()) != 0 || b.HistoryLen() != 0 {
		t.Fatal("Destroy(true) after Destroy(false) did not clear")
	}
}

// F271: destroying one bus leaves other buses and shared events working: an event forwarded to a bus
// that is destroyed mid-flight still completes, with the origin's results, and the origin keeps working.
func TestDestroyIsLocalF271(t *testing.T) {
	ctx := tctx(t)
	a := newBus(t, "Keeper", nil)
	b := newBus(t, "Doomed", nil)
	fwdCount(t, a, "a")
	fwdTo(t, a, b)
	started := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, o Order) (string, error) {
		close(started)
		<-ctx.Done()
		return "", ctx.Err()
	}))
	e := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, a, Order{OrderID: "o1"}))
	<-started
	b.Destroy(true)
	if err := e.Now(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := e.Result(ctx, abxbus.ResultOptions{IgnoreErrors: true}); err != nil || v != "a:o1" {
		t.Fatalf("origin result after the downstream bus was destroyed: %v, %v", v, err)
	}
	if _, err := e.Result(ctx); !errors.Is(err, abxbus.ErrHandlerAborted) {
		t.Fatalf("downstream handler error = %v, want an aborted handler", err)
	}
	next := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, a, Order{OrderID: "o2"}))
	if v, err := next.Result(ctx, abxbus.ResultOptions{IgnoreErrors: true}); err != nil || v != "a:o2" {
		t.Fatalf("origin after the destroy: %v, %v", v, err)
	}
	if e.Base().Path()[1] != b.Label() || len(next.Base().Path()) != 1 {
		t.Fatalf("paths %v / %v", e.Base().Path(), next.Base().Path())
	}
}

// F270, F273: a destroyed, cleared bus holds nothing that keeps it alive: once the caller drops it,
// the garbage collector reclaims it.
func TestDestroyedBusIsCollectedF270(t *testing.T) {
	collected := make(chan struct{})
	func() {
		b, err := abxbus.New("Scoped", nil)
		if err != nil {
			t.Fatal(err)
		}
		must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, o Order) (string, error) { return o.OrderID, nil }))
		e := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(context.Background(), b, Order{OrderID: "x"}))
		if err := e.Now(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.Destroy(true)
		runtime.AddCleanup(b, func(ch chan struct{}) { close(ch) }, collected)
	}()
	deadline := time.After(10 * time.Second)
	for {
		runtime.GC()
		select {
		case <-collected:
			return
		case <-deadline:
			t.Fatal("a destroyed bus was not garbage collected")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
