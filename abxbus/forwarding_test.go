package abxbus_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Forwarding between buses (spec §21): forwarding is a wildcard (or per-type) handler that emits the
// same event on another bus and returns it.

// fwdTo registers on from a "*" handler forwarding every event to to (F195).
func fwdTo(t *testing.T, from, to *abxbus.Bus) *abxbus.Handler {
	t.Helper()
	return must[*abxbus.Handler](t)(from.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return to.Emit(ctx, e)
	}, abxbus.WithName("forward_to_"+to.Name())))
}

// fwdCount registers a typed Order handler on b that counts its calls and returns "<tag>:<order>".
func fwdCount(t *testing.T, b *abxbus.Bus, tag string) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, o Order) (string, error) {
		n.Add(1)
		return tag + ":" + o.OrderID, nil
	}, abxbus.WithName("on_order_"+tag)))
	return &n
}

// F195, F196, F198: the same record travels; event_path lists each bus once, in order; the results of
// every bus aggregate on the one event in handler registration order, each naming its bus; the
// forwarding handler's value is the event itself and the default accessors skip it.
func TestForwardSameRecordAggregatesResultsF196F198(t *testing.T) {
	ctx := tctx(t)
	auth := newBus(t, "AuthBus", nil)
	billing := newBus(t, "BillingBus", nil)
	fwdCount(t, auth, "auth-ok")
	fwd := fwdTo(t, auth, billing)
	fwdCount(t, billing, "billing-ok")

	var seen atomic.Pointer[abxbus.BaseEvent]
	must[*abxbus.Handler](t)(billing.OnType("Order", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		seen.Store(e)
		return nil, nil
	}))

	e := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, auth, Order{OrderID: "u-a8d1"}))
	// F198: the first result is auth's, although billing also produced one.
	if v, err := e.Result(ctx); err != nil || v != "auth-ok:u-a8d1" {
		t.Fatalf("Result = %q, %v", v, err)
	}
	if err := e.Now(ctx); err != nil {
		t.Fatal(err)
	}
	if seen.Load() != e.Base() {
		t.Fatal("the downstream bus did not receive the same record")
	}
	if got, want := e.Base().Path(), []string{auth.Label(), billing.Label()}; !slices.Equal(got, want) {
		t.Fatalf("event_path = %v, want %v", got, want)
	}
	vals, err := e.Results(ctx)
	if err != nil || !slices.Equal(vals, []string{"auth-ok:u-a8d1", "billing-ok:u-a8d1"}) {
		t.Fatalf("Results = %v, %v", vals, err)
	}
	rows := e.Base().Results()
	var names, buses []string
	for _, r := range rows {
		names = append(names, r.HandlerName())
		buses = append(buses, r.Bus().Label())
	}
	wantNames := []string{"on_order_auth-ok", "forward_to_BillingBus", "on_order_billing-ok"}
	if len(names) != 4 || !slices.Equal(names[:3], wantNames) {
		t.Fatalf("results in order %v, want %v then the untyped handler", names, wantNames)
	}
	if !slices.Equal(buses, []string{auth.Label(), auth.Label(), billing.Label(), billing.Label()}) {
		t.Fatalf("result buses = %v", buses)
	}
	for _, r := range rows {
		if r.Handler() == fwd {
			if v, err := r.Value(); err != nil || v != e.Base() {
				t.Fatalf("forwarding result = %v, %v; want the event itself", v, err)
			}
		}
	}
	if e.Base().PendingBusCount() != 0 || e.Status() != abxbus.EventCompleted {
		t.Fatalf("after Now: status %s, pending buses %d", e.Status(), e.Base().PendingBusCount())
	}
}

// F197: cycles terminate through event_path: A->B->C->A processes the event once on each bus, and a
// bi-directional pair forwards once each way. Forwarding to a bus already on the path is a no-op that
// returns the event.
func TestForwardCycleTerminatesF197(t *testing.T) {
	ctx := tctx(t)
	a, b, c := newBus(t, "A", nil), newBus(t, "B", nil), newBus(t, "C", nil)
	na, nb, nc := fwdCount(t, a, "a"), fwdCount(t, b, "b"), fwdCount(t, c, "c")
	fwdTo(t, a, b)
	fwdTo(t, b, c)
	fwdTo(t, c, a)

	e := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, a, Order{OrderID: "o1"}))
	if err := e.Now(ctx); err != nil {
		t.Fatal(err)
	}
	for _, bus := range []*abxbus.Bus{a, b, c} {
		idle(t, bus)
	}
	if na.Load() != 1 || nb.Load() != 1 || nc.Load() != 1 {
		t.Fatalf("handler calls a=%d b=%d c=%d, want 1 each", na.Load(), nb.Load(), nc.Load())
	}
	if got, want := e.Base().Path(), []string{a.Label(), b.Label(), c.Label()}; !slices.Equal(got, want) {
		t.Fatalf("event_path = %v, want %v", got, want)
	}
	if vals := must[[]string](t)(e.Results(ctx)); !slices.Equal(vals, []string{"a:o1", "b:o1", "c:o1"}) {
		t.Fatalf("Results = %v", vals)
	}
	// Emitting again on a visited bus is a no-op returning the same event (F72).
	if got, err := a.Emit(ctx, e.Base()); err != nil || got != e.Base() {
		t.Fatalf("re-emit on a visited bus = %v, %v", got, err)
	}
	idle(t, a)
	if na.Load() != 1 || len(e.Base().Path()) != 3 {
		t.Fatal("a visited bus processed the event again")
	}

	// Bi-directional pair: each side forwards to the other.
	p, q := newBus(t, "P", nil), newBus(t, "Q", nil)
	np, nq := fwdCount(t, p, "p"), fwdCount(t, q, "q")
	fwdTo(t, p, q)
	fwdTo(t, q, p)
	for _, origin := range []*abxbus.Bus{p, q} {
		ev := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, origin, Order{OrderID: "x"}))
		if err := ev.Now(ctx); err != nil {
			t.Fatal(err)
		}
		if len(ev.Base().Path()) != 2 || ev.Base().Path()[0] != origin.Label() {
			t.Fatalf("pair path = %v", ev.Base().Path())
		}
	}
	idle(t, p)
	idle(t, q)
	if np.Load() != 2 || nq.Load() != 2 {
		t.Fatalf("pair calls p=%d q=%d, want 2 each", np.Load(), nq.Load())
	}
}

// F199: a forwarded event completes only when every bus it reached has processed it; after Now on the
// origin, the downstream handlers have run.
func TestForwardCompletionWaitsForEveryBusF199(t *testing.T) {
	ctx := tctx(t)
	a, b := newBus(t, "Origin", nil), newBus(t, "Downstream", nil)
	fwdCount(t, a, "a")
	fwdTo(t, a, b)
	started, gate := make(chan struct{}), make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, o Order) (string, error) {
		close(started)
		<-gate
		return "b:" + o.OrderID, nil
	}))
	e := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, a, Order{OrderID: "o1"}))
	<-started
	// a's handlers are done (the forwarder returned right after emitting), b's handler is running.
	rows := resultsByHandler(e.Base())
	if r := rows["on_order_a"]; r == nil || r.Status() != abxbus.ResultCompleted {
		t.Fatalf("origin handler not completed: %v", r)
	}
	select {
	case <-e.Base().Done():
		t.Fatal("event completed while a downstream handler was still running")
	default:
	}
	if e.Status() == abxbus.EventCompleted || e.Base().PendingBusCount() == 0 {
		t.Fatalf("status %s, pending buses %d while downstream runs", e.Status(), e.Base().PendingBusCount())
	}
	close(gate)
	if err := e.Now(ctx); err != nil {
		t.Fatal(err)
	}
	if vals := must[[]string](t)(e.Results(ctx)); !slices.Equal(vals, []string{"a:o1", "b:o1"}) {
		t.Fatalf("Results after Now = %v", vals)
	}
}

// F200: each bus applies its own defaults to unset event options when it processes the event, and
// forwarding never writes them into the event: here the origin has no timeout, the relay a 30 s one and
// history 0, so only the relay's handler sees a deadline and only the origin keeps the event.
func TestForwardPerBusDefaultsF200(t *testing.T) {
	ctx := tctx(t)
	auth := newBus(t, "AuthBus", &abxbus.Options{EventTimeout: abxbus.NoTimeout, MaxHistorySize: abxbus.Ptr(100)})
	relay := newBus(t, "RelayBus", &abxbus.Options{
		EventTimeout:       30 * time.Second,
		EventConcurrency:   abxbus.Parallel,
		HandlerConcurrency: abxbus.HandlersParallel,
		MaxHistorySize:     abxbus.Ptr(0),
	})
	deadline := map[string]bool{}
	record := func(bus *abxbus.Bus) {
		must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, o Order) (string, error) {
			_, ok := ctx.Deadline()
			deadline[bus.Name()] = ok // serial through the forwarder: no concurrent writes
			return bus.Name(), nil
		}))
	}
	record(auth)
	fwdTo(t, auth, relay)
	record(relay)
	e := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, auth, Order{OrderID: "o1"}))
	if err := e.Now(ctx); err != nil {
		t.Fatal(err)
	}
	if deadline["AuthBus"] || !deadline["RelayBus"] {
		t.Fatalf("handler deadlines %v: want none on AuthBus, one on RelayBus", deadline)
	}
	if o := e.Base().Options(); o != (abxbus.EventOptions{}) {
		t.Fatalf("forwarding hydrated the event options: %+v", o)
	}
	idle(t, relay)
	if relay.HistoryLen() != 0 || auth.HistoryLen() != 1 {
		t.Fatalf("history lengths auth=%d relay=%d, want 1 and 0", auth.HistoryLen(), relay.HistoryLen())
	}
}

// F201, F88, F204: lineage survives forwarding. A child emitted on the origin and forwarded keeps its
// parent; a child emitted by a downstream handler of the forwarded parent is linked to it, blocks its
// completion when awaited, and the downstream bus resolves the lineage through its own history.
func TestForwardLineageF201(t *testing.T) {
	ctx := tctx(t)
	a, b := newBus(t, "Front", nil), newBus(t, "Back", nil)
	fwdTo(t, a, b)
	var kids []*abxbus.BaseEvent
	must[*abxbus.Handler](t)(abxbus.On(a, func(ctx context.Context, p Parent) (string, error) {
		k, err := abxbus.EmitChildOf(ctx, Kid{N: 1})
		if err != nil {
			return "", err
		}
		kids = append(kids, k.Base())
		return "front", k.Now(ctx)
	}))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Parent) (string, error) {
		v, err := abxbus.CallChild(ctx, Kid{N: 2})
		return strings.Repeat("k", v), err
	}))
	must[*abxbus.Handler](t)(abxbus.OnEvent(b, func(ctx context.Context, k *abxbus.Event[Kid, int]) (int, error) {
		p, _ := k.Payload()
		return p.N, nil
	}))
	p := must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctx, a, Parent{Name: "root"}))
	if err := p.Now(ctx); err != nil {
		t.Fatal(err)
	}
	idle(t, a)
	idle(t, b)
	children := p.Base().Children()
	if len(kids) != 1 || len(children) != 2 || children[0] != kids[0] {
		t.Fatalf("children = %v (front kid %v)", children, kids)
	}
	for _, k := range children {
		if k.ParentID() != p.ID() || !k.IsChildOf(p.Base()) {
			t.Fatalf("%s lost its parent", k)
		}
		if !b.EventIsChildOf(k, p.Base()) || !b.EventIsParentOf(p.Base(), k) {
			t.Fatalf("downstream bus does not see %s as a child of %s", k, p)
		}
		if k.Status() != abxbus.EventCompleted {
			t.Fatalf("child %s not completed before its parent", k)
		}
	}
	// The front kid went to Back too (wildcard forward), with its parent link intact.
	if got := children[0].Path(); !slices.Equal(got, []string{a.Label(), b.Label()}) {
		t.Fatalf("forwarded child path = %v", got)
	}
	if got := children[1].Path(); !slices.Equal(got, []string{b.Label()}) {
		t.Fatalf("downstream child path = %v", got)
	}
	// F178 descendants find works on the downstream bus.
	found, err := b.Filter(ctx, "Kid", abxbus.FindOptions{ChildOf: p.Base()})
	if err != nil || len(found) != 2 {
		t.Fatalf("Filter(ChildOf) on Back = %v, %v", found, err)
	}
	if vals := must[[]string](t)(p.Results(ctx)); !slices.Equal(vals, []string{"front", "kk"}) {
		t.Fatalf("parent results = %v", vals)
	}
}
