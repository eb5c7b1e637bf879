package abxbus_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Issue 13 item 5: a handler registered WithInline runs on the goroutine of a Now or Call from outside a
// handler; every other handler keeps running on a goroutine of its own, so a stuck one never holds the
// caller.

// onCallerStack reports whether the calling goroutine's stack holds a frame of the test function fn
// itself (not of a closure inside it, such as the handler): true only when the handler runs on that
// test's goroutine.
func onCallerStack(fn string) bool {
	buf := make([]byte, 64<<10)
	return strings.Contains(string(buf[:runtime.Stack(buf, false)]), "abxbus_test."+fn+"(")
}

func TestInlineHandlerRunsOnCallersGoroutine(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "Inline", nil)
	const me = "TestInlineHandlerRunsOnCallersGoroutine"
	var inlineHere, plainHere []bool
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, p Ping) (int, error) {
		if p.N >= 0 { // Call: always inline. (Emit starts the dispatcher, which may take the event before Now does.)
			inlineHere = append(inlineHere, onCallerStack(me))
		}
		return p.N * 2, nil
	}, abxbus.WithInline()))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, k Kid) (int, error) {
		plainHere = append(plainHere, onCallerStack(me))
		return k.N, nil
	}))
	for i := range 3 {
		if v, err := abxbus.Call(ctx, bus, Ping{N: i}); err != nil || v != 2*i {
			t.Fatalf("Call %d: %v %v", i, v, err)
		}
		e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: -1 - i}))
		if err := e.Now(ctx); err != nil {
			t.Fatal(err)
		}
		if v, err := e.Result(ctx); err != nil || v != 2*(-1-i) {
			t.Fatalf("Emit + Now %d: %v %v", i, v, err)
		}
		if v, err := abxbus.Call(ctx, bus, Kid{N: i}); err != nil || v != i {
			t.Fatalf("Call Kid %d: %v %v", i, v, err)
		}
	}
	idle(t, bus)
	for i, here := range inlineHere {
		if !here {
			t.Errorf("WithInline handler run %d was not on the caller's goroutine", i)
		}
	}
	for i, here := range plainHere {
		if here {
			t.Errorf("handler without WithInline, run %d, ran on the caller's goroutine", i)
		}
	}
	if len(inlineHere) != 3 || len(plainHere) != 3 {
		t.Fatalf("%d inline and %d plain runs, want 3 and 3", len(inlineHere), len(plainHere))
	}
}

// One handler without the option keeps the whole run off the caller's goroutine; so do FirstResult and
// a wait from a handler (a queue-jump).
func TestInlineOnlyWhenEveryHandlerAllowsIt(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "InlineMixed", nil)
	const me = "TestInlineOnlyWhenEveryHandlerAllowsIt"
	here := make(chan bool, 16)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, p Ping) (int, error) {
		here <- onCallerStack(me)
		return 1, nil
	}, abxbus.WithInline()))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, p Ping) (int, error) {
		here <- onCallerStack(me)
		return 2, nil
	}))
	if _, err := abxbus.Call(ctx, bus, Ping{}); err != nil {
		t.Fatal(err)
	}
	if a, b := <-here, <-here; a || b {
		t.Fatalf("mixed handlers ran on the caller's goroutine: %v %v", a, b)
	}

	solo := newBus(t, "InlineFirst", nil)
	must[*abxbus.Handler](t)(abxbus.On(solo, func(hctx context.Context, k Kid) (int, error) {
		here <- onCallerStack(me)
		return k.N, nil
	}, abxbus.WithInline()))
	e := must[*abxbus.Event[Kid, int]](t)(abxbus.Emit(ctx, solo, Kid{N: 4}))
	if err := e.Now(ctx, abxbus.FirstResult); err != nil {
		t.Fatal(err)
	}
	if <-here {
		t.Fatal("Now with FirstResult ran the handler on the caller's goroutine")
	}
	idle(t, solo)
}

// On a Parallel bus Call runs WithInline handlers on the caller's goroutine too, unless it asks for the
// first result only.
func TestInlineCallOnParallelBus(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "InlineParallel", &abxbus.Options{EventConcurrency: abxbus.Parallel})
	const me = "TestInlineCallOnParallelBus"
	here := make(chan bool, 16)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, p Ping) (int, error) {
		here <- onCallerStack(me)
		return p.N + 1, nil
	}, abxbus.WithInline()))
	for i := range 3 {
		if v, err := abxbus.Call(ctx, bus, Ping{N: i}); err != nil || v != i+1 {
			t.Fatalf("Call %d: %v %v", i, v, err)
		}
		if !<-here {
			t.Fatalf("Call %d on a parallel bus did not run the WithInline handler on the caller's goroutine", i)
		}
	}
	if v, err := abxbus.Call(ctx, bus, Ping{N: 9}, abxbus.ResultOptions{First: true}); err != nil || v != 10 {
		t.Fatalf("Call with First: %v %v", v, err)
	}
	if <-here {
		t.Fatal("Call with First ran the handler on the caller's goroutine")
	}
	idle(t, bus)
}

// blockStarted is a middleware whose "started" hook waits for release (a hook doing slow I/O).
type blockStarted struct {
	entered chan struct{}
	release chan struct{}
}

func (m blockStarted) OnEventChange(b *abxbus.Bus, e *abxbus.BaseEvent, ph abxbus.EventStatus) {
	if ph == abxbus.EventStarted {
		close(m.entered)
		<-m.release
	}
}

// An event without handlers runs on the caller's goroutine only on a bus without middlewares: a hook is
// user code too, and one that blocks must not hold a Call past its context.
func TestNoHandlerEventWithMiddlewareNotInline(t *testing.T) {
	m := blockStarted{entered: make(chan struct{}), release: make(chan struct{})}
	bus := newBus(t, "NoHandlerHooked", &abxbus.Options{Middlewares: []abxbus.Middleware{m}})
	ctx, cancel := context.WithCancel(context.Background())
	callErr := make(chan error, 1)
	go func() { _, err := abxbus.Call(ctx, bus, Ping{}); callErr <- err }()
	<-m.entered
	cancel()
	select {
	case err := <-callErr:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Call: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a blocked middleware hook held Call past its context")
	}
	close(m.release)
	idle(t, bus)
}

// The event records the handler's timeout when it fires and completes for every other waiter, while the
// inline caller is still inside the handler; the caller sees the same outcome once the handler returns.
func TestInlineHandlerTimeoutCompletesForOthers(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "InlineTimeout", nil)
	release := make(chan struct{})
	entered := make(chan *abxbus.BaseEvent, 1)
	var sawCancel, here bool
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, p Ping) (int, error) {
		here = onCallerStack("callForInlineTest")
		entered <- abxbus.EventFromContext(hctx)
		<-hctx.Done() // cancelled by the handler timeout
		sawCancel = true
		<-release // then holds on, as a slow clean-up would
		return 1, nil
	}, abxbus.WithInline(), abxbus.WithHandlerTimeout(20*time.Millisecond)))
	callErr := make(chan error, 1)
	go callForInlineTest(ctx, bus, callErr)
	e := <-entered
	if err := e.Wait(ctx); err != nil { // another waiter: returns at the timeout
		t.Fatal(err)
	}
	var te *abxbus.EventHandlerTimeoutError
	te0, ok := abxbus.As[Ping, int](e)
	if !ok {
		t.Fatalf("the handler's event %s is not a Ping", e)
	}
	if _, err := te0.Result(ctx); !errors.As(err, &te) {
		t.Fatalf("result after the timeout: %v, want EventHandlerTimeoutError", err)
	}
	select {
	case err := <-callErr:
		t.Fatalf("the inline caller returned (%v) while its handler had not", err)
	default:
	}
	close(release)
	if err := <-callErr; !errors.As(err, &te) {
		t.Fatalf("Call after the handler returned: %v, want EventHandlerTimeoutError", err)
	}
	if !sawCancel || !here {
		t.Fatalf("handler context cancelled by the timeout: %v; ran on the caller's goroutine: %v", sawCancel, here)
	}
	idle(t, bus)
}

// callForInlineTest calls Ping on bus and sends the error (Call leaves the event queued for its own
// Now, so an inline handler runs on this goroutine: onCallerStack finds this function).
func callForInlineTest(ctx context.Context, bus *abxbus.Bus, errs chan<- error) {
	_, err := abxbus.Call(ctx, bus, Ping{})
	errs <- err
}

// An inline run on a bus-serial bus waives the serial slot like any Now from outside a handler, and the
// queued events still run in order after it; an event with no handler completes on the caller's
// goroutine too.
func TestInlineBesideTheDispatcher(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "InlineSerial", nil)
	gate := make(chan struct{})
	var order []int
	got := make(chan int, 64)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, k Kid) (int, error) {
		if k.N == 0 {
			<-gate
		}
		got <- k.N
		return k.N, nil
	}))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, p Ping) (int, error) {
		return p.N + 100, nil
	}, abxbus.WithInline()))
	var queued []*abxbus.Event[Kid, int]
	for i := range 10 {
		queued = append(queued, must[*abxbus.Event[Kid, int]](t)(abxbus.Emit(ctx, bus, Kid{N: i})))
	}
	for i := range 20 { // the dispatcher is held by Kid 0 meanwhile
		if v, err := abxbus.Call(ctx, bus, Ping{N: i}); err != nil || v != i+100 {
			t.Fatalf("Call %d: %v %v", i, v, err)
		}
	}
	bare := must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("InlineNobodyListens", nil))
	must[*abxbus.BaseEvent](t)(bus.Emit(ctx, bare))
	if err := bare.Now(ctx); err != nil || bare.Status() != abxbus.EventCompleted {
		t.Fatalf("event without handlers: %v, %s", err, bare.Status())
	}
	close(gate)
	for range queued {
		order = append(order, <-got)
	}
	for i, n := range order {
		if n != i {
			t.Fatalf("queued events ran in order %v", order)
		}
	}
	for _, e := range queued {
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	idle(t, bus)
}

// Issue 13 item 3: a typed Call whose handlers run inline reads the OS clock twice (creation, the
// handler's return); its run's start is stamped with the next tick after the creation, since nothing on
// the way waits or runs user code. Read back: started_at is the creation plus one nanosecond (a
// concurrent reading elsewhere in the process could add one more tick, hence the majority rule), and
// never before it. A Call whose run is handed to another goroutine reads the clock at the start.
func TestInlineCallStartIsTheNextTick(t *testing.T) {
	ctx := tctx(t)
	for _, shape := range []string{"serial", "parallel", "handed-off"} {
		opts := &abxbus.Options{}
		if shape == "parallel" {
			opts.EventConcurrency = abxbus.Parallel
		}
		bus := newBus(t, "Stamp"+strings.ReplaceAll(shape, "-", "_"), opts)
		var hopts []abxbus.HandlerOption
		if shape != "handed-off" {
			hopts = append(hopts, abxbus.WithInline())
		}
		var events []*abxbus.BaseEvent
		must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, p Ping) (int, error) {
			events = append(events, abxbus.EventFromContext(hctx))
			return p.N, nil
		}, hopts...))
		const calls = 50
		for i := range calls {
			if _, err := abxbus.Call(ctx, bus, Ping{N: i}); err != nil {
				t.Fatal(err)
			}
		}
		next := 0
		for i, e := range events {
			d := e.StartedAt().Sub(e.CreatedAt())
			if d <= 0 {
				t.Errorf("%s call %d: started %v after its creation, want after it", shape, i, d)
			}
			if d <= 2 {
				next++
			}
		}
		if len(events) != calls {
			t.Fatalf("%s: %d handler runs, want %d", shape, len(events), calls)
		}
		if shape == "handed-off" {
			continue // its start is a reading of its own: any gap
		}
		if next < calls/2 {
			t.Errorf("%s: %d of %d inline Calls started within 2 ns of their creation, want most (the next tick)", shape, next, calls)
		}
	}
}
