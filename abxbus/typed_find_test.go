package abxbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Typed payload predicates of Find and FilterOf (F164-F176 with a predicate on the typed payload).

// The common call forms infer the type arguments: from a predicate alone, or from the payload type
// given explicitly (R comes from the Returns marker).
func TestTypedFindInference(t *testing.T) {
	ctx := tctx(t)
	b := orderBus(t, nil)
	orders := emitOrders(t, b, "o1", "o2", "o3")

	e, err := abxbus.Find(ctx, b, abxbus.FindOptions{}, func(p Order) bool { return p.OrderID == "o2" })
	if err != nil || e != orders[1] {
		t.Fatalf("Find(pred) = %v, %v; want %v", e, err, orders[1])
	}
	var _ *abxbus.Event[Order, string] = e // the inferred R is the declared result type

	e, err = abxbus.Find[Order](ctx, b, abxbus.FindOptions{})
	if err != nil || e != orders[2] {
		t.Fatalf("Find[Order] = %v, %v; want %v", e, err, orders[2])
	}
	e, err = abxbus.Find[Order](ctx, b, abxbus.FindOptions{}, func(p Order) bool { return p.Qty == 1 })
	if err != nil || e != orders[0] {
		t.Fatalf("Find[Order](pred) = %v, %v; want %v", e, err, orders[0])
	}

	list, err := abxbus.FilterOf(ctx, b, abxbus.FindOptions{}, func(p Order) bool { return p.Qty >= 2 })
	if err != nil || len(list) != 2 || list[0] != orders[2] || list[1] != orders[1] {
		t.Fatalf("FilterOf(pred) = %v, %v; want o3 o2", list, err)
	}
	list, err = abxbus.FilterOf[Order](ctx, b, abxbus.FindOptions{})
	if err != nil || len(list) != 3 {
		t.Fatalf("FilterOf[Order] = %v, %v; want 3 orders", list, err)
	}

	// A named predicate variable works the same way.
	isO1 := func(p Order) bool { return p.OrderID == "o1" }
	if e, err := abxbus.Find(ctx, b, abxbus.FindOptions{}, isO1); err != nil || e != orders[0] {
		t.Fatalf("Find(isO1) = %v, %v", e, err)
	}
}

// The predicates are ANDed with each other and with every filter of FindOptions (Where, Equals, Limit).
func TestTypedFindANDsWithOptions(t *testing.T) {
	ctx := tctx(t)
	b := orderBus(t, nil)
	orders := emitOrders(t, b, "o1", "o2", "o3", "o4", "o5")

	qtyAtLeast := func(n int) func(Order) bool { return func(p Order) bool { return p.Qty >= n } }
	notO4 := func(p Order) bool { return p.OrderID != "o4" }
	list, err := abxbus.FilterOf(ctx, b, abxbus.FindOptions{}, qtyAtLeast(2), notO4)
	if err != nil || len(list) != 3 || list[0] != orders[4] || list[1] != orders[2] || list[2] != orders[1] {
		t.Fatalf("two predicates = %v, %v; want o5 o3 o2", list, err)
	}

	where := abxbus.FindOptions{Where: func(e *abxbus.BaseEvent) bool { return e != orders[4].Base() }}
	list, err = abxbus.FilterOf(ctx, b, where, qtyAtLeast(2), notO4)
	if err != nil || len(list) != 2 || list[0] != orders[2] || list[1] != orders[1] {
		t.Fatalf("Where and predicates = %v, %v; want o3 o2", list, err)
	}

	eq := abxbus.FindOptions{Equals: map[string]any{"order_id": "o3"}}
	if e, err := abxbus.Find(ctx, b, eq, qtyAtLeast(2)); err != nil || e != orders[2] {
		t.Fatalf("Equals and predicate = %v, %v; want o3", e, err)
	}
	if e, err := abxbus.Find(ctx, b, eq, qtyAtLeast(4)); err != nil || e != nil {
		t.Fatalf("Equals and a failing predicate = %v, %v; want no match", e, err)
	}

	// Limit counts the events that pass the predicates.
	list, err = abxbus.FilterOf(ctx, b, abxbus.FindOptions{Limit: 2}, notO4)
	if err != nil || len(list) != 2 || list[0] != orders[4] || list[1] != orders[2] {
		t.Fatalf("Limit with predicate = %v, %v; want o5 o3", list, err)
	}

	// A nil predicate is ignored; the evaluation stops at the first false.
	var calls atomic.Int32
	never := func(p Order) bool { calls.Add(1); return false }
	counted := func(p Order) bool { calls.Add(100); return true }
	if e, err := abxbus.Find(ctx, b, abxbus.FindOptions{}, nil, never, counted); err != nil || e != nil {
		t.Fatalf("nil, never, counted = %v, %v; want no match", e, err)
	}
	if got := calls.Load(); got != 5 {
		t.Fatalf("predicate calls = %d; want 5 (one per order, the second predicate never reached)", got)
	}
}

// The predicates run without any lock held: one may use the bus and the event it is offered.
func TestTypedFindPredicateHoldsNoLock(t *testing.T) {
	ctx := tctx(t)
	b := orderBus(t, nil)
	orders := emitOrders(t, b, "o1", "o2")
	reentrant := func(p Order) bool {
		inner, err := b.Filter(ctx, "*", abxbus.FindOptions{}) // takes the bus lock
		if err != nil || len(inner) != 2 {
			return false
		}
		for _, e := range inner {
			_ = e.Status() // takes the event lock
		}
		return p.OrderID == "o1"
	}
	if e, err := abxbus.Find(ctx, b, abxbus.FindOptions{}, reentrant); err != nil || e != orders[0] {
		t.Fatalf("re-entrant predicate = %v, %v", e, err)
	}

	// Future matching: the predicate runs on the emitting goroutine, after the bus lock was released.
	waiting := waitingFinds(t)
	got := make(chan *abxbus.Event[Order, string], 1)
	errs := make(chan error, 1)
	go func() {
		e, err := abxbus.Find(ctx, b, abxbus.FindOptions{Past: abxbus.Never, Future: abxbus.Always}, func(p Order) bool {
			if _, err := b.Find(ctx, "Shipment", abxbus.FindOptions{}); err != nil {
				return false
			}
			return p.OrderID == "wanted"
		})
		got <- e
		errs <- err
	}()
	<-waiting
	must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, b, Order{OrderID: "other"}))
	want := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, b, Order{OrderID: "wanted"}))
	if e, err := <-got, <-errs; err != nil || e != want {
		t.Fatalf("future Find with predicate = %v, %v; want %v", e, err, want)
	}
	idle(t, b)
}

// A panic in a predicate ends the lookup with an error naming the event, in history and future matching.
func TestTypedFindPredicatePanic(t *testing.T) {
	ctx := tctx(t)
	b := orderBus(t, nil)
	emitOrders(t, b, "o1")
	boom := func(p Order) bool { panic("boom " + p.OrderID) }
	e, err := abxbus.Find(ctx, b, abxbus.FindOptions{}, boom)
	if e != nil || err == nil || !strings.Contains(err.Error(), "payload predicate panicked") || !strings.Contains(err.Error(), "boom o1") {
		t.Fatalf("Find(panicking predicate) = %v, %v; want an error naming the panic", e, err)
	}
	list, err := abxbus.FilterOf(ctx, b, abxbus.FindOptions{}, boom)
	if len(list) != 0 || err == nil || !strings.Contains(err.Error(), "Order#") {
		t.Fatalf("FilterOf(panicking predicate) = %v, %v", list, err)
	}

	waiting := waitingFinds(t)
	errs := make(chan error, 1)
	go func() {
		_, err := abxbus.Find(ctx, b, abxbus.FindOptions{Past: abxbus.Never, Future: abxbus.Always}, boom)
		errs <- err
	}()
	<-waiting
	must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, b, Order{OrderID: "later"}))
	if err := <-errs; err == nil || !strings.Contains(err.Error(), "boom later") {
		t.Fatalf("future Find(panicking predicate) = %v", err)
	}
	idle(t, b)
}

// countedQty counts how often it is decoded from JSON.
type countedQty int

var qtyDecodes atomic.Int32

func (q *countedQty) UnmarshalJSON(b []byte) error {
	qtyDecodes.Add(1)
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*q = countedQty(n)
	return nil
}

type CountedOrder struct {
	abxbus.Returns[string]
	Qty countedQty `json:"qty"`
}

// Events of the type that arrived untyped (JSON) are decoded into P once per candidate, for all the
// predicates together; a payload that does not decode into P does not match and is no error.
func TestTypedFindDecodesForeignPayloadOnce(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "ForeignBus", nil)
	var events []*abxbus.BaseEvent
	for _, raw := range []string{
		`{"event_type":"CountedOrder","qty":1}`,
		`{"event_type":"CountedOrder","qty":"not a number"}`,
		`{"event_type":"CountedOrder","qty":3}`,
	} {
		e := must[*abxbus.BaseEvent](t)(abxbus.FromJSON([]byte(raw)))
		must[*abxbus.BaseEvent](t)(b.Emit(ctx, e))
		events = append(events, e)
	}
	idle(t, b)

	qtyDecodes.Store(0)
	var seen atomic.Int32
	list, err := abxbus.FilterOf(ctx, b, abxbus.FindOptions{},
		func(p CountedOrder) bool { seen.Add(1); return p.Qty >= 1 },
		func(p CountedOrder) bool { return p.Qty != 2 },
	)
	if err != nil || len(list) != 2 || list[0].Base() != events[2] || list[1].Base() != events[0] {
		t.Fatalf("FilterOf over JSON events = %v, %v; want the qty 3 and qty 1 events", list, err)
	}
	if got := qtyDecodes.Load(); got != 3 {
		t.Fatalf("payload decodes = %d; want 3 (one per candidate)", got)
	}
	if got := seen.Load(); got != 2 {
		t.Fatalf("predicate saw %d payloads; want 2 (the undecodable one never reaches it)", got)
	}
	// Without predicates nothing is decoded.
	qtyDecodes.Store(0)
	if list, err := abxbus.FilterOf[CountedOrder](ctx, b, abxbus.FindOptions{}); err != nil || len(list) != 3 {
		t.Fatalf("FilterOf without predicates = %v, %v", list, err)
	}
	if got := qtyDecodes.Load(); got != 0 {
		t.Fatalf("payload decodes without predicates = %d; want 0", got)
	}
}

// The typed lookups keep their errors: a destroyed or unusable bus, a cancelled future wait.
func TestTypedFindErrors(t *testing.T) {
	ctx := tctx(t)
	pred := func(p Order) bool { return true }
	if _, err := abxbus.Find(ctx, nil, abxbus.FindOptions{}, pred); err == nil {
		t.Fatal("Find on a nil bus: no error")
	}
	if _, err := abxbus.FilterOf(ctx, &abxbus.Bus{}, abxbus.FindOptions{}, pred); err == nil {
		t.Fatal("FilterOf on a zero bus: no error")
	}
	b := orderBus(t, nil)
	done, cancel := context.WithCancel(ctx)
	cancel()
	if e, err := abxbus.Find(done, b, abxbus.FindOptions{Future: abxbus.Always}, pred); e != nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled future Find = %v, %v; want the context error", e, err)
	}
}
