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

// Engine correctness regressions (issue 10). Each test names the issue item it pins.

// Issue 10 item 2: a handler that emits its own event (or an ancestor) as a linked child is refused;
// no lineage cycle forms, so the bus, the accessors and Destroy keep working.
func TestLinkedEmitOfSelfOrAncestorIsRefused(t *testing.T) {
	b := newBus(t, "SelfEmit", nil)
	ctx := tctx(t)
	var selfErr, ancestorErr error
	must[*abxbus.Handler](t)(abxbus.OnEvent(b, func(ctx context.Context, e *abxbus.Event[Parent, string]) (string, error) {
		_, selfErr = abxbus.EmitChild(ctx, e.Base())
		kid := abxbus.NewEvent(Kid{N: 1})
		if _, err := abxbus.EmitChild(ctx, kid.Base()); err != nil {
			return "", err
		}
		if err := kid.Now(ctx); err != nil {
			return "", err
		}
		return "done", nil
	}))
	must[*abxbus.Handler](t)(abxbus.OnEvent(b, func(ctx context.Context, k *abxbus.Event[Kid, int]) (int, error) {
		parent, ok := b.HistoryEvent(k.Base().ParentID())
		if !ok {
			return 0, errors.New("kid's parent is not in the history")
		}
		_, ancestorErr = abxbus.EmitChild(ctx, parent)
		return 1, nil
	}))
	got, err := abxbus.Call(ctx, b, Parent{Name: "p"})
	if err != nil || got != "done" {
		t.Fatalf("Call = %q, %v", got, err)
	}
	for name, err := range map[string]error{"self": selfErr, "ancestor": ancestorErr} {
		if !errors.Is(err, abxbus.ErrLineageCycle) {
			t.Errorf("EmitChild of the %s: %v, want ErrLineageCycle", name, err)
		}
	}
	idle(t, b)
}

// Issue 10 item 3: runtime.Goexit in a handler (t.FailNow from a test's handler) settles the result as an
// error and the bus goes on with the next handler and the next event.
func TestGoexitInHandlerSettlesAsError(t *testing.T) {
	for _, mode := range []abxbus.HandlerConcurrency{abxbus.HandlersSerial, abxbus.HandlersParallel} {
		t.Run(string(mode), func(t *testing.T) {
			b := newBus(t, "Goexit", &abxbus.Options{HandlerConcurrency: mode, EventTimeout: abxbus.NoTimeout})
			ctx := tctx(t)
			must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) {
				if p.N == 1 {
					runtime.Goexit()
				}
				return p.N, nil
			}, abxbus.WithName("exits")))
			must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return 10 * p.N, nil }, abxbus.WithName("second")))
			ev := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{N: 1}))
			if err := ev.Now(ctx); err != nil {
				t.Fatal(err)
			}
			rs := ev.EventResults()
			if len(rs) != 2 || rs[0].Status() != abxbus.ResultError || !errors.Is(rs[0].Err(), abxbus.ErrHandlerPanic) || !strings.Contains(rs[0].Err().Error(), "runtime.Goexit") {
				t.Fatalf("first result: %v %v", rs[0].Status(), rs[0].Err())
			}
			if v, err := rs[1].Value(); err != nil || v != 10 {
				t.Fatalf("second handler: %v, %v", v, err)
			}
			// The bus keeps running.
			ev2 := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{N: 2}))
			if vs, err := ev2.Results(ctx); err != nil || len(vs) != 2 || vs[0] != 2 || vs[1] != 20 {
				t.Fatalf("next event: %v, %v", vs, err)
			}
			idle(t, b)
		})
	}
}

// Issue 10 item 5 (F79, F171): a future find's filters see the event as it was accepted, however fast it
// completes afterwards: a filter on event_status=completed never matches a just-accepted event.
func TestFutureFindFiltersSeeAcceptedEvent(t *testing.T) {
	b := newBus(t, "FindAccept", nil)
	ctx := tctx(t)
	waiting := waitingFinds(t)
	for i := range 100 {
		found := make(chan *abxbus.BaseEvent, 2)
		go func() {
			e, _ := b.Find(ctx, "Side", abxbus.FindOptions{Past: abxbus.Never, Future: abxbus.Within(20 * time.Millisecond), Equals: map[string]any{"event_status": "completed"}})
			found <- e
		}()
		go func() {
			e, _ := b.Find(ctx, "Side", abxbus.FindOptions{Past: abxbus.Never, Future: abxbus.Within(20 * time.Millisecond), Where: func(e *abxbus.BaseEvent) bool { return e.Status() == abxbus.EventCompleted }})
			found <- e
		}()
		<-waiting
		<-waiting
		must[*abxbus.Event[Side, string]](t)(abxbus.Emit(ctx, b, Side{Tag: "x"}))
		for range 2 {
			if e := <-found; e != nil {
				t.Fatalf("run %d: a future find with a completed-status filter matched the event as accepted (%s)", i, e.Status())
			}
		}
	}
	idle(t, b)
}

// Issue 10 item 7 (F92, F157): Now from outside any handler processes a queued event at once, even while
// another event runs on that bus-serial bus.
func TestNowOutsideHandlerProcessesAtOnce(t *testing.T) {
	b := newBus(t, "NowOutside", nil)
	ctx := tctx(t)
	release := make(chan struct{})
	started := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Parent) (string, error) {
		close(started)
		<-release
		return "slow", nil
	}))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, s Side) (string, error) { return "side " + s.Tag, nil }))
	must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctx, b, Parent{}))
	<-started
	side := must[*abxbus.Event[Side, string]](t)(abxbus.Emit(ctx, b, Side{Tag: "a"}))
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := side.Now(wctx)
	close(release)
	if err != nil {
		t.Fatalf("Now on a queued event while another runs: %v", err)
	}
	if v, err := side.Result(ctx); err != nil || v != "side a" {
		t.Fatalf("result %q, %v", v, err)
	}
	// A result helper drives the same way.
	release2 := make(chan struct{})
	started2 := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, k Kid) (int, error) {
		close(started2)
		<-release2
		return 0, nil
	}))
	must[*abxbus.Event[Kid, int]](t)(abxbus.Emit(ctx, b, Kid{}))
	<-started2
	side2 := must[*abxbus.Event[Side, string]](t)(abxbus.Emit(ctx, b, Side{Tag: "b"}))
	v, err := side2.Result(wctx)
	close(release2)
	if err != nil || v != "side b" {
		t.Fatalf("Result on a queued event while another runs: %q, %v", v, err)
	}
	idle(t, b)
}

// Issue 10 item 8 (F85): awaiting an already-completed linked child from the handler that emitted it still
// marks it as blocking the parent.
func TestAwaitCompletedChildStillBlocksParent(t *testing.T) {
	b := newBus(t, "BlockFlag", &abxbus.Options{EventConcurrency: abxbus.Parallel})
	ctx := tctx(t)
	var kid *abxbus.Event[Kid, int]
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Parent) (string, error) {
		var err error
		kid, err = abxbus.EmitChildOf(ctx, Kid{N: 3})
		if err != nil {
			return "", err
		}
		select {
		case <-kid.Base().Done(): // a parallel child completes on its own
		case <-ctx.Done():
			return "", ctx.Err()
		}
		if kid.Base().BlocksParentCompletion() {
			return "", errors.New("flag set before the await")
		}
		if err := kid.Now(ctx); err != nil {
			return "", err
		}
		return "ok", nil
	}))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, k Kid) (int, error) { return k.N, nil }))
	if _, err := abxbus.Call(ctx, b, Parent{}); err != nil {
		t.Fatal(err)
	}
	if !kid.Base().BlocksParentCompletion() {
		t.Fatal("awaiting a completed linked child did not set event_blocks_parent_completion")
	}
	idle(t, b)
}

// Issue 10 item 9 (F20): an event with no handlers starts and completes at the same instant.
func TestNoHandlerEventStartedEqualsCompleted(t *testing.T) {
	b := newBus(t, "NoHandlers", nil)
	ctx := tctx(t)
	for range 20 {
		ev := must[*abxbus.Event[Side, string]](t)(abxbus.Emit(ctx, b, Side{}))
		if err := ev.Now(ctx); err != nil {
			t.Fatal(err)
		}
		if s, c := ev.Base().StartedAt(), ev.Base().CompletedAt(); s.IsZero() || s != c {
			t.Fatalf("event_started_at %v, event_completed_at %v", s, c)
		}
	}
}

// Issue 10 item 10 (F29): a handler reaches the bus processing the event now; for a forwarded event that
// is the downstream bus, while BaseEvent.Bus stays the first bus that accepted it.
func TestHandlerSeesProcessingBus(t *testing.T) {
	up := newBus(t, "Up", nil)
	down := newBus(t, "Down", nil)
	ctx := tctx(t)
	fwdTo(t, up, down)
	seen := make(chan [2]*abxbus.Bus, 1)
	must[*abxbus.Handler](t)(abxbus.On(down, func(ctx context.Context, s Side) (string, error) {
		seen <- [2]*abxbus.Bus{abxbus.BusFromContext(ctx), abxbus.EventFromContext(ctx).Bus()}
		return "", nil
	}))
	ev := must[*abxbus.Event[Side, string]](t)(abxbus.Emit(ctx, up, Side{}))
	if err := ev.Now(ctx); err != nil {
		t.Fatal(err)
	}
	got := <-seen
	if got[0] != down || got[1] != up {
		t.Fatalf("BusFromContext = %v (want %v), BaseEvent.Bus = %v (want %v)", got[0], down, got[1], up)
	}
	if abxbus.BusFromContext(ctx) != nil || abxbus.EventFromContext(ctx) != nil {
		t.Fatal("outside a handler the accessors must return nil")
	}
}

// Issue 10 item 11 (D15): a handler's timeout falls back to the resolved event timeout, so an event with
// event_timeout disabled runs a handler longer than the bus's event timeout.
func TestHandlerTimeoutFallsBackToEventTimeout(t *testing.T) {
	b := newBus(t, "D15", &abxbus.Options{EventTimeout: 30 * time.Millisecond})
	ctx := tctx(t)
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, s Side) (string, error) {
		select {
		case <-time.After(80 * time.Millisecond):
			return "finished", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}))
	ev := must[*abxbus.Event[Side, string]](t)(abxbus.EmitWith(ctx, b, Side{}, abxbus.EventOptions{Timeout: abxbus.NoTimeout}))
	if v, err := ev.Result(ctx); err != nil || v != "finished" {
		t.Fatalf("event_timeout=0 on the event: %q, %v (the handler must not inherit the bus's 30 ms)", v, err)
	}
	// With the event's own timeout set, handlers fall back to it.
	ev = must[*abxbus.Event[Side, string]](t)(abxbus.EmitWith(ctx, b, Side{}, abxbus.EventOptions{Timeout: time.Second, HandlerTimeout: 20 * time.Millisecond}))
	var te *abxbus.EventHandlerTimeoutError
	if _, err := ev.Result(ctx); !errors.As(err, &te) {
		t.Fatalf("event_handler_timeout 20 ms: %v", err)
	}
}

// Issue 10 item 12 (F269, F270): events still queued at Destroy end with the bus-destroyed error;
// history-only lookups on a destroyed bus report it with their own operation name; an emit through the
// context of a handler of the destroyed bus says the bus was destroyed.
func TestDestroyQueuedAndLookups(t *testing.T) {
	b, err := abxbus.New("DestroyQ", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := tctx(t)
	started := make(chan struct{})
	emitErr := make(chan error, 1)
	must[*abxbus.Handler](t)(abxbus.On(b, func(hctx context.Context, p Parent) (string, error) {
		close(started)
		<-hctx.Done()
		_, err := abxbus.EmitChildOf(hctx, Kid{})
		emitErr <- err
		return "", nil
	}))
	must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctx, b, Parent{}))
	<-started
	queued := must[*abxbus.Event[Side, string]](t)(abxbus.Emit(ctx, b, Side{}))
	b.Destroy(false)
	if err := queued.Now(ctx); !errors.Is(err, abxbus.ErrBusDestroyed) {
		t.Fatalf("Now on an event queued at Destroy: %v", err)
	}
	if _, err := queued.Result(ctx); !errors.Is(err, abxbus.ErrBusDestroyed) {
		t.Fatalf("Result on an event queued at Destroy: %v", err)
	}
	if err := <-emitErr; !errors.Is(err, abxbus.ErrBusDestroyed) || errors.Is(err, abxbus.ErrHandlerFinished) {
		t.Fatalf("emit through a destroyed bus's handler context: %v", err)
	}
	if _, err := b.Find(ctx, "Side", abxbus.FindOptions{}); !errors.Is(err, abxbus.ErrBusDestroyed) || !strings.Contains(err.Error(), ".Find ") {
		t.Fatalf("history Find on a destroyed bus: %v", err)
	}
	if _, err := b.Filter(ctx, "Side", abxbus.FindOptions{}); !errors.Is(err, abxbus.ErrBusDestroyed) || !strings.Contains(err.Error(), ".Filter ") {
		t.Fatalf("history Filter on a destroyed bus: %v", err)
	}
	idle(t, b)
}

type reqKey struct{}

// Issue 10 item 13 (F211, F212): the emitting context's values reach a linked background child that runs
// after its parent completed.
func TestContextValuesReachLateBackgroundChild(t *testing.T) {
	b := newBus(t, "CtxLate", nil)
	ctx := tctx(t)
	got := make(chan any, 2)
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Parent) (string, error) {
		if _, err := abxbus.EmitChildOf(ctx, Kid{N: 1}); err != nil { // linked, not awaited: runs after p
			return "", err
		}
		if _, err := abxbus.Emit(ctx, abxbus.BusFromContext(ctx), Side{}); err != nil { // detached
			return "", err
		}
		return "", nil
	}))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, k Kid) (int, error) { got <- ctx.Value(reqKey{}); return 0, nil }))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, s Side) (string, error) { got <- ctx.Value(reqKey{}); return "", nil }))
	parent := must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(context.WithValue(ctx, reqKey{}, "req-7"), b, Parent{}))
	if err := parent.Now(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if v := <-got; v != "req-7" {
			t.Fatalf("late child saw %v, want req-7", v)
		}
	}
	idle(t, b)
}

type (
	XQ struct {
		abxbus.Returns[string]
	}
	XD struct {
		abxbus.Returns[string]
	}
	XP struct {
		abxbus.Returns[string]
	}
	XC struct {
		abxbus.Returns[string]
	}
)

// Issue 10 item 1: two global-serial buses X and Y in one lock domain. Q on Y (bus-serial override) holds
// only Y's slot and awaits a linked child D that needs the global slot; P on X holds the global slot and
// awaits C on Y, which borrows the global slot and needs Y's. The runs take borrowed and owned slots in
// opposite orders. The detector breaks the cycle: an await fails at once with ErrWouldDeadlock (usually
// one; when both waits close the cycle at the same moment, both), its child runs later in queue order,
// and every event completes, without any timeout.
func TestCrossBusQueueJumpCycleIsBroken(t *testing.T) {
	for i := range 20 {
		ctx := tctx(t)
		opts := &abxbus.Options{EventConcurrency: abxbus.GlobalSerial, LockDomain: t.Name(), EventTimeout: abxbus.NoTimeout}
		x := newBus(t, "X", opts)
		y := newBus(t, "Y", opts)
		qRunning, pRunning := make(chan struct{}), make(chan struct{})
		var qErr, pErr error
		must[*abxbus.Handler](t)(abxbus.On(y, func(ctx context.Context, _ XQ) (string, error) {
			close(qRunning)
			<-pRunning
			_, qErr = abxbus.CallChild(ctx, XD{})
			return "q", nil
		}))
		must[*abxbus.Handler](t)(abxbus.On(y, func(ctx context.Context, _ XD) (string, error) { return "d", nil }))
		must[*abxbus.Handler](t)(abxbus.On(x, func(ctx context.Context, _ XP) (string, error) {
			close(pRunning)
			<-qRunning
			c, err := abxbus.Emit(ctx, y, XC{})
			if err != nil {
				return "", err
			}
			pErr = c.Now(ctx)
			return "p", nil
		}))
		must[*abxbus.Handler](t)(abxbus.On(y, func(ctx context.Context, _ XC) (string, error) { return "c", nil }))
		q := must[*abxbus.Event[XQ, string]](t)(abxbus.EmitWith(ctx, y, XQ{}, abxbus.EventOptions{Concurrency: abxbus.BusSerial}))
		p := must[*abxbus.Event[XP, string]](t)(abxbus.Emit(ctx, x, XP{}))
		for _, e := range []*abxbus.BaseEvent{q.Base(), p.Base()} {
			if err := e.Wait(ctx); err != nil {
				t.Fatalf("run %d: %s never completed: %v\n%s", i, e, err, abxbus.DumpWaits(x, y))
			}
		}
		idle(t, x)
		idle(t, y)
		failed := 0
		for _, err := range []error{qErr, pErr} {
			switch {
			case err == nil:
			case errors.Is(err, abxbus.ErrWouldDeadlock):
				failed++
			default:
				t.Fatalf("run %d: await failed with %v", i, err)
			}
		}
		if failed == 0 {
			t.Fatalf("run %d: no await failed with ErrWouldDeadlock (Q: %v, P: %v)", i, qErr, pErr)
		}
		for _, e := range append(y.History(), x.History()...) {
			if e.Status() != abxbus.EventCompleted {
				t.Fatalf("run %d: %s is %s", i, e, e.Status())
			}
			for _, r := range e.Results() {
				if r.Status() != abxbus.ResultCompleted {
					t.Fatalf("run %d: %s handler %s: %s %v", i, e, r.HandlerName(), r.Status(), r.Err())
				}
			}
		}
		x.Destroy(true)
		y.Destroy(true)
	}
}

// Issue 10 item 1 (a): a run waiting for a slot (here a queue-jumping child that borrowed one slot and
// waits for the other) is reached by a timeout of the awaiting parent and by Destroy: it ends, the bus
// becomes idle, and no goroutine is left behind, while the slot's holder is still busy.
func TestRunWaitingForSlotEndsOnTimeoutAndDestroy(t *testing.T) {
	for _, how := range []string{"timeout", "destroy"} {
		t.Run(how, func(t *testing.T) {
			ctx := tctx(t)
			domain := t.Name()
			holder := newBus(t, "Holder", &abxbus.Options{EventConcurrency: abxbus.GlobalSerial, LockDomain: domain})
			y, err := abxbus.New("Waiter", &abxbus.Options{LockDomain: domain, EventTimeout: abxbus.NoTimeout})
			if err != nil {
				t.Fatal(err)
			}
			defer y.Destroy(true)
			release, holding := make(chan struct{}), make(chan struct{})
			must[*abxbus.Handler](t)(abxbus.On(holder, func(ctx context.Context, _ XP) (string, error) {
				close(holding)
				<-release
				return "held", nil
			}))
			awaiting := make(chan struct{})
			childErr := make(chan error, 1)
			must[*abxbus.Handler](t)(abxbus.On(y, func(ctx context.Context, _ XQ) (string, error) {
				// D needs the global slot, which the holder keeps: it borrows Y's slot and waits.
				d := abxbus.NewEvent(XD{})
				if err := d.Base().SetOptions(abxbus.EventOptions{Concurrency: abxbus.GlobalSerial}); err != nil {
					return "", err
				}
				if _, err := abxbus.EmitChild(ctx, d.Base()); err != nil {
					return "", err
				}
				close(awaiting)
				childErr <- d.Now(ctx)
				return "", ctx.Err()
			}))
			must[*abxbus.Handler](t)(abxbus.On(y, func(ctx context.Context, _ XD) (string, error) { return "d", nil }))
			must[*abxbus.Event[XP, string]](t)(abxbus.Emit(ctx, holder, XP{}))
			<-holding
			var o abxbus.EventOptions
			if how == "timeout" {
				o.Timeout = 30 * time.Millisecond
			}
			q := must[*abxbus.Event[XQ, string]](t)(abxbus.EmitWith(ctx, y, XQ{}, o))
			<-awaiting
			if how == "destroy" {
				time.Sleep(10 * time.Millisecond)
				y.Destroy(false)
			}
			if err := y.WaitUntilIdle(ctx); err != nil {
				t.Fatalf("%s never became idle while the slot's holder is busy: %v\n%s", y, err, abxbus.DumpWaits(holder, y))
			}
			if err := q.Wait(ctx); err != nil && !errors.Is(err, abxbus.ErrBusDestroyed) {
				t.Fatal(err)
			}
			<-childErr
			close(release)
			idle(t, holder)
		})
	}
}
