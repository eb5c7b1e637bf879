package abxbustest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/abxbustest"
)

type Order struct {
	abxbus.Returns[string]
	ID string `json:"id"`
}

type Reserve struct {
	abxbus.Returns[string]
	ID string `json:"id"`
}

type Notify struct {
	abxbus.Returns[bool]
	ID string `json:"id"`
}

type Ping struct {
	abxbus.Returns[int]
	N int `json:"n"`
}

// on checks a registration: on(t)(abxbus.On(bus, fn)).
func on(t testing.TB) func(*abxbus.Handler, error) {
	return func(_ *abxbus.Handler, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// emit emits p on bus, failing the test on an error.
func emit[P abxbus.Payload[R], R any](t testing.TB, bus *abxbus.Bus, p P) *abxbus.Event[P, R] {
	t.Helper()
	ev, err := abxbus.Emit(context.Background(), bus, p)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// shop registers an order workflow: Order calls Reserve as a child and emits a detached Notify.
func shop(t testing.TB, bus *abxbus.Bus) {
	t.Helper()
	on(t)(abxbus.On(bus, func(ctx context.Context, o Order) (string, error) {
		if _, err := abxbus.EmitChildOf(ctx, Notify{ID: o.ID}); err != nil {
			return "", err
		}
		return abxbus.CallChild(ctx, Reserve{ID: o.ID})
	}))
	on(t)(abxbus.On(bus, func(ctx context.Context, r Reserve) (string, error) { return "rsv-" + r.ID, nil }))
	on(t)(abxbus.On(bus, func(ctx context.Context, n Notify) (bool, error) { return true, nil }))
}

// The recorder is not a handler: every event keeps exactly the result rows of its own handlers, and Call
// answers as without a recorder.
func TestRecordLeavesResultsAlone(t *testing.T) {
	ctx := context.Background()
	bus := abxbustest.NewBus(t, "Shop", nil)
	rec := abxbustest.Record(t, bus)
	shop(t, bus)
	got, err := abxbus.Call(ctx, bus, Order{ID: "o1"})
	if err != nil || got != "rsv-o1" {
		t.Fatalf("Call = %q, %v; want rsv-o1", got, err)
	}
	abxbustest.WaitIdle(t, bus, 0)
	events := rec.Events()
	if len(events) != 3 {
		t.Fatalf("recorded %d events, want 3: %v", len(events), events)
	}
	for _, e := range events {
		if n := len(e.Results()); n != 1 {
			t.Errorf("%s has %d result rows, want 1 (its own handler's)", e, n)
		}
	}
	if len(bus.Handlers()) != 3 {
		t.Errorf("bus has %d handlers, want the 3 registered", len(bus.Handlers()))
	}
	if rec.Bus() != bus {
		t.Errorf("Recorder.Bus is not the recorded bus")
	}
}

// payloadID reads the id of an event of this file.
func payloadID(t *testing.T, e *abxbus.BaseEvent) string {
	t.Helper()
	raw, err := e.PayloadJSON()
	if err != nil {
		t.Fatal(err)
	}
	return e.Type() + ":" + strings.Trim(strings.TrimPrefix(string(raw), `{"id":`), `"}`)
}

func ids(t *testing.T, events []*abxbus.BaseEvent) string {
	t.Helper()
	var out []string
	for _, e := range events {
		out = append(out, payloadID(t, e))
	}
	return strings.Join(out, " ")
}

// Expect checks relative order: other events may be interleaved. Each matcher takes the earliest event
// after the previous one's, and the matched events are returned; every call looks at the whole recording.
func TestExpectSubsequence(t *testing.T) {
	ctx := context.Background()
	bus := abxbustest.NewBus(t, "Shop", nil)
	rec := abxbustest.Record(t, bus)
	shop(t, bus)
	for _, id := range []string{"o1", "o2"} {
		if _, err := abxbus.Call(ctx, bus, Order{ID: id}); err != nil {
			t.Fatal(err)
		}
		abxbustest.WaitIdle(t, bus, 0)
	}
	if got, want := ids(t, rec.Events()), "Order:o1 Notify:o1 Reserve:o1 Order:o2 Notify:o2 Reserve:o2"; got != want {
		t.Fatalf("recorded %s, want %s", got, want)
	}
	got := abxbustest.Expect(t, rec,
		abxbustest.Type[Order](nil),
		abxbustest.Type[Reserve](func(r Reserve) bool { return r.ID == "o2" }),
	)
	if s := ids(t, got); s != "Order:o1 Reserve:o2" {
		t.Errorf("Expect returned %s, want Order:o1 Reserve:o2", s)
	}
	got = abxbustest.Expect(t, rec,
		abxbustest.Type[Notify](nil),
		abxbustest.Type[Order](nil),
		abxbustest.Type[Notify](nil),
	)
	if s := ids(t, got); s != "Notify:o1 Order:o2 Notify:o2" {
		t.Errorf("Expect returned %s, want Notify:o1 Order:o2 Notify:o2", s)
	}
	if got := abxbustest.Expect(t, rec); got != nil {
		t.Errorf("Expect with no matcher = %v, want nil", got)
	}
}

// Expect waits for events that arrive after it started waiting: here a detached event emitted by a
// handler that runs only once the test lets it.
func TestExpectWaits(t *testing.T) {
	ctx := context.Background()
	bus := abxbustest.NewBus(t, "Shop", nil)
	rec := abxbustest.Record(t, bus)
	release := make(chan struct{})
	on(t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		if p.N < 3 {
			if _, err := abxbus.Emit(ctx, bus, Ping{N: p.N + 1}); err != nil {
				return 0, err
			}
		}
		return p.N, nil
	}))
	if _, err := abxbus.Emit(ctx, bus, Ping{N: 1}); err != nil {
		t.Fatal(err)
	}
	go close(release)
	n := func(want int) abxbustest.Matcher {
		return abxbustest.Type[Ping](func(p Ping) bool { return p.N == want })
	}
	abxbustest.Expect(t, rec, n(1), n(2), n(3))
	abxbustest.WaitIdle(t, bus, 0)
}

// Issue 12 item 11: an order mismatch fails with what matched, what is missing, what was recorded (in
// acceptance order, with payloads) and the bus's history tree.
func TestExpectOrderMismatchMessage(t *testing.T) {
	bus := abxbustest.NewBus(t, "Shop", nil)
	rec := abxbustest.Record(t, bus)
	rec.SetTimeout(20 * time.Millisecond)
	on(t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { return p.N, nil }))
	on(t)(abxbus.On(bus, func(ctx context.Context, n Notify) (bool, error) { return true, nil }))
	notify := emit(t, bus, Notify{ID: "n1"})
	ping := emit(t, bus, Ping{N: 7})
	abxbustest.WaitIdle(t, bus, 0)

	f := newFakeTB(t)
	if f.run(func() { abxbustest.Expect(f, rec, abxbustest.Type[Ping](nil), abxbustest.Type[Notify](nil)) }) {
		t.Fatal("Expect returned after a failed expectation")
	}
	wantOneFailure(t, f,
		"abxbustest.Expect on bus "+bus.Label()+": 1 of 2 expected events matched; not recorded within 20ms",
		"expected, in this order (other events may come between them):",
		"ok      1. Ping: recorded event 2, "+ping.String(),
		"MISSING 2. Notify: none after recorded event 2",
		"recorded (2), in the order the bus accepted them:",
		"1. "+notify.String()+` completed {"id":"n1"}`,
		"2. "+ping.String()+` completed {"n":7}`,
		"Event History Tree for "+bus.Label(),
		"✅ "+notify.String(),
	)

	// A predicate that matches nothing: the matcher is named as having one.
	f = newFakeTB(t)
	f.run(func() { abxbustest.Expect(f, rec, abxbustest.Type[Ping](func(p Ping) bool { return p.N == 8 })) })
	wantOneFailure(t, f, "0 of 1 expected events matched", "MISSING 1. Ping (with a predicate)\n", `{"n":7}`)
}

// Match describes what a payload does not show; here lineage.
func TestMatchLineage(t *testing.T) {
	bus := abxbustest.NewBus(t, "Shop", nil)
	rec := abxbustest.Record(t, bus)
	rec.SetTimeout(20 * time.Millisecond)
	shop(t, bus)
	order := emit(t, bus, Order{ID: "o1"})
	abxbustest.WaitIdle(t, bus, 0)
	childOfOrder := abxbustest.Match("a child of the order", func(e *abxbus.BaseEvent) bool { return e.IsChildOf(order.Base()) })
	got := abxbustest.Expect(t, rec, childOfOrder, childOfOrder)
	if s := ids(t, got); s != "Notify:o1 Reserve:o1" {
		t.Errorf("children = %s", s)
	}
	f := newFakeTB(t)
	f.run(func() { abxbustest.Expect(f, rec, childOfOrder, childOfOrder, childOfOrder) })
	wantOneFailure(t, f, "2 of 3 expected events matched", "MISSING 3. a child of the order: none after recorded event 3")
}

// ExpectExactly: exactly these events, in this order; it waits for the bus to be idle so that the
// detached Notify counts, and an unexpected or mismatching event fails.
func TestExpectExactly(t *testing.T) {
	ctx := context.Background()
	bus := abxbustest.NewBus(t, "Shop", nil)
	rec := abxbustest.Record(t, bus)
	shop(t, bus)
	if _, err := abxbus.Emit(ctx, bus, Order{ID: "o1"}); err != nil {
		t.Fatal(err)
	}
	got := abxbustest.ExpectExactly(t, rec,
		abxbustest.Type[Order](nil), abxbustest.Type[Notify](nil), abxbustest.Type[Reserve](nil))
	if s := ids(t, got); s != "Order:o1 Notify:o1 Reserve:o1" {
		t.Errorf("ExpectExactly returned %s", s)
	}

	f := newFakeTB(t)
	f.run(func() { abxbustest.ExpectExactly(f, rec, abxbustest.Type[Order](nil), abxbustest.Type[Notify](nil)) })
	wantOneFailure(t, f, "abxbustest.ExpectExactly on bus "+bus.Label()+": 2 of 2 expected events matched; 3 events recorded, 2 expected",
		"expected exactly, in this order:", "recorded (3)", "3. "+got[2].String())

	f = newFakeTB(t)
	f.run(func() {
		abxbustest.ExpectExactly(f, rec, abxbustest.Type[Order](nil), abxbustest.Type[Reserve](nil), abxbustest.Type[Notify](nil))
	})
	wantOneFailure(t, f, "1 of 3 expected events matched; event 2 ("+got[1].String()+") is not Reserve",
		"ok      1. Order", "WRONG   2. Reserve: recorded event 2 is "+got[1].String(), "MISSING 3. Notify")

	// Nothing expected on a recorder of a bus that saw nothing: passes once the bus is idle.
	other := abxbustest.NewBus(t, "Quiet", nil)
	if got := abxbustest.ExpectExactly(t, abxbustest.Record(t, other)); len(got) != 0 {
		t.Errorf("ExpectExactly() = %v", got)
	}
}

// A destroyed bus ends the recording: a pending expectation fails at once instead of waiting out its
// timeout, and says why.
func TestExpectAfterDestroy(t *testing.T) {
	bus, err := abxbus.New("Gone", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := abxbustest.Record(t, bus)
	rec.SetTimeout(time.Hour)
	bus.Destroy(true)
	f := newFakeTB(t)
	f.run(func() { abxbustest.Expect(f, rec, abxbustest.Type[Ping](nil)) })
	wantOneFailure(t, f, "0 of 1 expected events matched; recording ended (bus "+bus.Label()+" was destroyed)", "(nothing)")

	f = newFakeTB(t)
	f.run(func() { abxbustest.Record(f, bus) })
	wantOneFailure(t, f, "abxbustest.Record: bus "+bus.Label()+" is destroyed")
	f = newFakeTB(t)
	f.run(func() { abxbustest.Record(f, nil) })
	wantOneFailure(t, f, "abxbustest.Record: the bus is nil")
	f = newFakeTB(t)
	f.run(func() { abxbustest.Expect(f, nil) })
	wantOneFailure(t, f, "abxbustest.Expect: the recorder is nil")
}

// Issue 12 item 11: WaitIdle's timeout fails with the pending queue in start order, the events in
// flight and the history tree.
func TestWaitIdleTimeout(t *testing.T) {
	bus := abxbustest.NewBus(t, "Slow", nil)
	release := make(chan struct{})
	on(t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		select {
		case <-release:
			return p.N, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}))
	first := emit(t, bus, Ping{N: 1})
	second := emit(t, bus, Ping{N: 2})
	third := emit(t, bus, Ping{N: 3})
	// first is running once the queue holds only the other two.
	for len(bus.PendingQueue()) != 2 || first.Status() != abxbus.EventStarted {
		time.Sleep(100 * time.Microsecond)
	}
	f := newFakeTB(t)
	if f.run(func() { abxbustest.WaitIdle(f, bus, 20*time.Millisecond) }) {
		t.Fatal("WaitIdle returned on a busy bus")
	}
	wantOneFailure(t, f,
		"abxbustest.WaitIdle: bus "+bus.Label()+" not idle after 20ms",
		"pending queue (2), in start order:",
		"1. "+second.String()+` pending {"n":2}`,
		"2. "+third.String()+` pending {"n":3}`,
		"in flight (1):",
		first.String()+` started {"n":1}`,
		"🏃 "+first.String(),
	)
	close(release)
	abxbustest.WaitIdle(t, bus, 0)

	f = newFakeTB(t)
	f.run(func() { abxbustest.WaitIdle(f, bus, -time.Second) })
	wantOneFailure(t, f, "abxbustest.WaitIdle: negative timeout -1s")
	f = newFakeTB(t)
	f.run(func() { abxbustest.WaitIdle(f, nil, 0) })
	wantOneFailure(t, f, "abxbustest.WaitIdle: ", "invalid")
}

// Issue 12 item 11: the cleanup of NewBus fails the test on events that did not finish, with their
// labels and statuses; a handler that honours its context is stopped by the Destroy that follows, so no
// goroutine is reported.
func TestNewBusUnfinishedEvents(t *testing.T) {
	ctx := context.Background()
	f := newFakeTB(t)
	var bus *abxbus.Bus
	var first, second *abxbus.Event[Ping, int]
	f.run(func() {
		bus = abxbustest.NewBus(f, "Leaky", nil)
		on(t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		}))
		first = emit(t, bus, Ping{N: 1})
		second = emit(t, bus, Ping{N: 2})
		for first.Status() != abxbus.EventStarted {
			time.Sleep(100 * time.Microsecond)
		}
	})
	if f.Failed() {
		t.Fatalf("failed before the end of the test: %v", f.failures())
	}
	f.finish()
	wantOneFailure(t, f,
		"abxbustest: 2 event(s) on bus "+bus.Label()+" had not finished when the test ended (wait for them with abxbustest.WaitIdle): ",
		first.String()+" (started), "+second.String()+" (pending)",
		"Event History Tree",
	)
	if !bus.IsDestroyed() {
		t.Error("the cleanup did not destroy the bus")
	}
	if err := first.Wait(ctx); !errors.Is(err, abxbus.ErrBusDestroyed) && err != nil {
		t.Errorf("first.Wait after the cleanup: %v", err)
	}
}

// Issue 12 item 11: a handler that ignores its context outlives Destroy; the cleanup reports its
// goroutine with the stack (naming the handler) once the grace period is over.
func TestNewBusLeakedGoroutine(t *testing.T) {
	defer abxbustest.SetGoroutineGrace(50 * time.Millisecond)()
	f := newFakeTB(t)
	release := make(chan struct{})
	var wg sync.WaitGroup
	var bus, other *abxbus.Bus
	f.run(func() {
		bus = abxbustest.NewBus(f, "Stuck", &abxbus.Options{HandlerConcurrency: abxbus.HandlersParallel})
		other = abxbustest.NewBus(f, "Other", nil) // its cleanup runs first: the stuck goroutine is reported once
		wg.Add(1)
		on(t)(abxbus.On(bus, stubbornHandler(release, &wg)))
		ev := emit(t, bus, Ping{N: 1})
		for ev.Status() != abxbus.EventStarted {
			time.Sleep(100 * time.Microsecond)
		}
	})
	f.finish()
	close(release)
	wg.Wait()
	errs := f.failures()
	if len(errs) != 2 {
		t.Fatalf("want 2 failures (unfinished event, goroutine), got %d:\n%s", len(errs), strings.Join(errs, "\n-----\n"))
	}
	wantInOrder(t, errs[0], "1 event(s) on bus "+bus.Label()+" had not finished")
	wantInOrder(t, errs[1], "abxbustest: 1 goroutine(s) running abxbus code outlived the test's buses ("+
		bus.Label()+", "+other.Label()+", destroyed at its end) by 50ms:", "stubbornHandler", "abxbus.(*run)")
}

// stubbornHandler blocks until release, whatever its context says.
func stubbornHandler(release chan struct{}, wg *sync.WaitGroup) func(context.Context, Ping) (int, error) {
	return func(ctx context.Context, p Ping) (int, error) {
		defer wg.Done()
		<-release
		return p.N, nil
	}
}

// A bus whose work all finished passes its cleanup: no failure, bus destroyed.
func TestNewBusCleanPass(t *testing.T) {
	ctx := context.Background()
	f := newFakeTB(t)
	var bus *abxbus.Bus
	f.run(func() {
		bus = abxbustest.NewBus(f, "Shop", &abxbus.Options{EventConcurrency: abxbus.Parallel, HandlerConcurrency: abxbus.HandlersParallel})
		rec := abxbustest.Record(f, bus)
		shop(f, bus)
		for i := range 20 {
			if _, err := abxbus.Emit(ctx, bus, Order{ID: fmt.Sprint(i)}); err != nil {
				t.Error(err)
			}
		}
		abxbustest.WaitIdle(f, bus, 0)
		if n := len(rec.Events()); n != 60 {
			t.Errorf("recorded %d events, want 60", n)
		}
	})
	f.finish()
	if errs := f.failures(); len(errs) > 0 {
		t.Fatalf("clean test reported failures:\n%s", strings.Join(errs, "\n-----\n"))
	}
	if !bus.IsDestroyed() {
		t.Error("the cleanup did not destroy the bus")
	}

	f = newFakeTB(t)
	f.run(func() { abxbustest.NewBus(f, "not a name", nil) })
	wantOneFailure(t, f, "abxbustest.NewBus: ", "not an identifier")
}

// An event forwarded from another bus is recorded when the recorded bus accepts it.
func TestRecordForwarded(t *testing.T) {
	front := abxbustest.NewBus(t, "Front", nil)
	back := abxbustest.NewBus(t, "Back", nil)
	rec := abxbustest.Record(t, back)
	on(t)(front.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return back.Emit(ctx, e) }))
	on(t)(abxbus.On(back, func(ctx context.Context, p Ping) (int, error) { return p.N * 2, nil }))
	ev := emit(t, front, Ping{N: 21})
	got := abxbustest.Expect(t, rec, abxbustest.Type[Ping](func(p Ping) bool { return p.N == 21 }))
	if got[0] != ev.Base() {
		t.Errorf("recorded %s, want the forwarded %s", got[0], ev)
	}
	abxbustest.WaitIdle(t, front, 0)
	abxbustest.WaitIdle(t, back, 0)
}

// Record returns only once its lookup is registered: an event emitted right after it is recorded
// synchronously by the emit, even on a bus that keeps no completed event in its history (which could not
// make up for a late registration).
func TestRecordAttachedOnReturn(t *testing.T) {
	ctx := context.Background()
	for i := range 100 {
		bus := abxbustest.NewBus(t, "Attach", &abxbus.Options{MaxHistorySize: abxbus.Ptr(0)})
		on(t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { return p.N, nil }))
		rec := abxbustest.Record(t, bus)
		if _, err := abxbus.Call(ctx, bus, Ping{N: i}); err != nil {
			t.Fatal(err)
		}
		if n := len(rec.Events()); n != 1 {
			t.Fatalf("run %d: %d events recorded right after the call, want 1", i, n)
		}
		if bus.HistoryLen() != 0 {
			t.Fatalf("run %d: history holds %d events, want 0", i, bus.HistoryLen())
		}
	}
}

func BenchmarkCall(b *testing.B) {
	for _, recorded := range []bool{false, true} {
		b.Run(fmt.Sprintf("recorded=%v", recorded), func(b *testing.B) {
			ctx := context.Background()
			bus := abxbustest.NewBus(b, "Bench", &abxbus.Options{MaxHistorySize: abxbus.Ptr(16)})
			if recorded {
				abxbustest.Record(b, bus)
			}
			on(b)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { return p.N, nil }))
			for b.Loop() {
				if _, err := abxbus.Call(ctx, bus, Ping{N: 1}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
