package abxbus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/typedbus/abxbus-go/abxbus"
)

// Tests of spec §10-§14: event concurrency, handler concurrency, completion modes, timeouts and
// cancellation (issue 3). Synchronisation is by channels and recorded orders; the few short sleeps only
// widen a window in which a violation would be observed, they never order anything.

// emitWith emits p with per-event options on bus.
func emitWith[P abxbus.Payload[R], R any](t testing.TB, bus *abxbus.Bus, p P, o abxbus.EventOptions) *abxbus.Event[P, R] {
	t.Helper()
	e, err := abxbus.EmitWith[P, R](context.Background(), bus, p, o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// gauge tracks how many handlers are inside a section and the maximum ever seen.
type gauge struct{ cur, max atomic.Int64 }

func (g *gauge) enter() {
	n := g.cur.Add(1)
	for {
		m := g.max.Load()
		if n <= m || g.max.CompareAndSwap(m, n) {
			return
		}
	}
}
func (g *gauge) leave() { g.cur.Add(-1) }

// rendezvous returns a function each of n parties calls; it returns nil once all n arrived, or an error
// when ctx ends first (a test failure, never a hang).
func rendezvous(n int) func(ctx context.Context) error {
	var count atomic.Int64
	all := make(chan struct{})
	return func(ctx context.Context) error {
		if count.Add(1) == int64(n) {
			close(all)
		}
		select {
		case <-all:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("rendezvous of %d not reached: %w", n, ctx.Err())
		case <-time.After(10 * time.Second):
			return errors.New("rendezvous not reached in 10s")
		}
	}
}

func resultErr(t testing.TB, r *abxbus.EventResult) error {
	t.Helper()
	if r.Status() != abxbus.ResultError {
		t.Fatalf("result of %s: status %s, want error", r.HandlerName(), r.Status())
	}
	return r.Err()
}

func resultsByHandler(e *abxbus.BaseEvent) map[string]*abxbus.EventResult {
	m := map[string]*abxbus.EventResult{}
	for _, r := range e.Results() {
		m[r.HandlerName()] = r
	}
	return m
}

// F112, D10: global-serial buses share one slot: never more than one event in flight across them, and
// each bus starts its own events in FIFO order.
func TestGlobalSerialOneSlotF112(t *testing.T) {
	ctx := tctx(t)
	opts := &abxbus.Options{EventConcurrency: abxbus.GlobalSerial, LockDomain: t.Name()}
	buses := []*abxbus.Bus{newBus(t, "GlobalA", opts), newBus(t, "GlobalB", opts)}
	var g gauge
	starts := map[string]*recorder{}
	for _, b := range buses {
		rec := &recorder{}
		starts[b.Name()] = rec
		must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) {
			g.enter()
			defer g.leave()
			rec.add(fmt.Sprint(p.N))
			time.Sleep(time.Millisecond) // widen the window in which an overlap would show
			return p.N, nil
		}))
	}
	var evs []*abxbus.Event[Ping, int]
	for i := range 3 {
		for _, b := range buses {
			evs = append(evs, must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{N: i})))
		}
	}
	for _, e := range evs {
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if m := g.max.Load(); m != 1 {
		t.Fatalf("max in flight across two global-serial buses = %d, want 1", m)
	}
	for name, rec := range starts {
		if diff := cmp.Diff([]string{"0", "1", "2"}, rec.get()); diff != "" {
			t.Fatalf("%s start order (-want +got):\n%s", name, diff)
		}
	}
}

// D10: buses in different global-serial lock domains do not share a slot.
func TestGlobalSerialLockDomainsD10(t *testing.T) {
	ctx := tctx(t)
	meet := rendezvous(2)
	for _, domain := range []string{t.Name() + "-x", t.Name() + "-y"} {
		b := newBus(t, "Domain", &abxbus.Options{EventConcurrency: abxbus.GlobalSerial, LockDomain: domain})
		must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return p.N, meet(ctx) }))
		e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{N: 1}))
		t.Cleanup(func() {
			if _, err := e.Result(tctx(t)); err != nil {
				t.Errorf("domain %s: %v", domain, err)
			}
		})
	}
}

// F113: bus-serial is one event at a time per bus, FIFO per bus, and a busy bus does not hold up another.
func TestBusSerialPerBusFIFOF113(t *testing.T) {
	ctx := tctx(t)
	slow, fast := newBus(t, "SlowBus", nil), newBus(t, "FastBus", nil)
	gate := make(chan struct{})
	var g gauge
	rec := &recorder{}
	must[*abxbus.Handler](t)(abxbus.On(slow, func(ctx context.Context, p Ping) (int, error) {
		g.enter()
		defer g.leave()
		rec.add(fmt.Sprint("slow-", p.N))
		if p.N == 0 {
			<-gate
		}
		return p.N, nil
	}))
	must[*abxbus.Handler](t)(abxbus.On(fast, func(ctx context.Context, p Ping) (int, error) {
		rec.add(fmt.Sprint("fast-", p.N))
		return p.N, nil
	}))
	var slowEvs []*abxbus.Event[Ping, int]
	for i := range 4 {
		slowEvs = append(slowEvs, must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, slow, Ping{N: i})))
	}
	for i := range 4 {
		e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, fast, Ping{N: i}))
		if err := e.Wait(ctx); err != nil { // completes while SlowBus is blocked
			t.Fatal(err)
		}
	}
	for _, e := range slowEvs[1:] {
		if s := e.Status(); s != abxbus.EventPending {
			t.Fatalf("%s is %s while the bus is busy, want pending", e, s)
		}
	}
	close(gate)
	for _, e := range slowEvs {
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var slowOrder []string
	for _, s := range rec.get() {
		if s[:4] == "slow" {
			slowOrder = append(slowOrder, s)
		}
	}
	if diff := cmp.Diff([]string{"slow-0", "slow-1", "slow-2", "slow-3"}, slowOrder); diff != "" {
		t.Fatalf("per-bus FIFO (-want +got):\n%s", diff)
	}
	if g.max.Load() != 1 {
		t.Fatalf("max in flight on one bus-serial bus = %d", g.max.Load())
	}
}

// F114: parallel event concurrency lets two events of one bus overlap; F115: an event that resolves to
// parallel starts at once even on a bus whose other events are serialised.
func TestParallelEventsOverlapF114F115(t *testing.T) {
	ctx := tctx(t)
	t.Run("bus option", func(t *testing.T) {
		bus := newBus(t, "ParallelBus", &abxbus.Options{EventConcurrency: abxbus.Parallel})
		meet := rendezvous(2)
		must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { return p.N, meet(ctx) }))
		a := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: 1}))
		b := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: 2}))
		for _, e := range []*abxbus.Event[Ping, int]{a, b} {
			if _, err := e.Result(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("event option on a serial bus", func(t *testing.T) {
		bus := newBus(t, "SerialBus", nil)
		meet := rendezvous(2)
		must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { return p.N, meet(ctx) }))
		a := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: 1}))
		b := emitWith[Ping, int](t, bus, Ping{N: 2}, abxbus.EventOptions{Concurrency: abxbus.Parallel})
		for _, e := range []*abxbus.Event[Ping, int]{a, b} {
			if _, err := e.Result(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// F119: serial handlers run one at a time in registration order. F120: parallel handlers all start.
func TestHandlerConcurrencyF119F120(t *testing.T) {
	ctx := tctx(t)
	t.Run("serial", func(t *testing.T) {
		bus := newBus(t, "SerialHandlers", nil)
		rec := &recorder{}
		for _, name := range []string{"h1", "h2"} {
			must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
				rec.add(name + "_start")
				time.Sleep(time.Millisecond)
				rec.add(name + "_end")
				return 0, nil
			}, abxbus.WithName(name)))
		}
		e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{}))
		if err := e.Now(ctx); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"h1_start", "h1_end", "h2_start", "h2_end"}, rec.get()); diff != "" {
			t.Fatalf("(-want +got):\n%s", diff)
		}
	})
	t.Run("parallel", func(t *testing.T) {
		bus := newBus(t, "ParallelHandlers", &abxbus.Options{HandlerConcurrency: abxbus.HandlersParallel})
		meet := rendezvous(3)
		for i := range 3 {
			must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { return i, meet(ctx) }))
		}
		e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{}))
		vals, err := e.Results(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]int{0, 1, 2}, vals); diff != "" {
			t.Fatalf("results in registration order (-want +got):\n%s", diff)
		}
	})
}

// F124, F125, D12: first-completion with serial handlers: a nil result does not win, the first non-nil
// value does, later handlers never start and are recorded as cancelled; reading the winner needs no option.
func TestFirstCompletionSerialF125(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "FirstSerial", &abxbus.Options{Completion: abxbus.CompleteFirst})
	var thirdRan atomic.Bool
	must[*abxbus.Handler](t)(bus.OnType("Side", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return nil, nil
	}, abxbus.WithName("none")))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Side) (string, error) { return "win", nil }, abxbus.WithName("winner")))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Side) (string, error) {
		thirdRan.Store(true)
		return "late", nil
	}, abxbus.WithName("third")))
	e := must[*abxbus.Event[Side, string]](t)(abxbus.Emit(ctx, bus, Side{}))
	v, err := e.Result(ctx)
	if err != nil || v != "win" {
		t.Fatalf("Result = %q, %v; want win", v, err)
	}
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if thirdRan.Load() {
		t.Fatal("a handler after the winner ran (F125)")
	}
	rs := resultsByHandler(e.Base())
	if rs["none"].Status() != abxbus.ResultCompleted {
		t.Fatalf("nil-returning handler: %s", rs["none"].Status())
	}
	var ce *abxbus.EventHandlerCancelledError
	if err := resultErr(t, rs["third"]); !errors.As(err, &ce) || !errors.Is(err, abxbus.ErrHandlerCancelled) {
		t.Fatalf("skipped handler error %v, want EventHandlerCancelledError", err)
	}
	vals, err := e.Results(ctx)
	if err != nil || !cmp.Equal([]string{"win"}, vals) {
		t.Fatalf("Results = %v, %v (D12: losers are not failures)", vals, err)
	}
}

// F126, F130: first-completion with parallel handlers aborts the running loser: its context is done,
// its result is EventHandlerAbortedError, and the child it was awaiting is interrupted too.
func TestFirstCompletionParallelAbortsLosersF126F130(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "FirstParallel", &abxbus.Options{
		Completion:         abxbus.CompleteFirst,
		HandlerConcurrency: abxbus.HandlersParallel,
	})
	childStarted := make(chan struct{})
	loserCtxDone := make(chan error, 1)
	childCtxDone := make(chan error, 1)
	var loserReturned atomic.Bool
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) {
		close(childStarted)
		<-ctx.Done()
		childCtxDone <- context.Cause(ctx)
		return 7, nil
	}, abxbus.WithName("grandchild")))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Side) (string, error) {
		kid, err := abxbus.EmitChildOf(ctx, Kid{N: 1})
		if err != nil {
			return "", err
		}
		_ = kid.Now(ctx) // interrupted by the loss
		<-ctx.Done()
		loserCtxDone <- ctx.Err()
		loserReturned.Store(true)
		return "loser", nil
	}, abxbus.WithName("loser")))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Side) (string, error) {
		<-childStarted // the loser is running and its child too
		return "winner", nil
	}, abxbus.WithName("winner")))
	e := must[*abxbus.Event[Side, string]](t)(abxbus.Emit(ctx, bus, Side{}))
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := e.Result(ctx); err != nil || v != "winner" {
		t.Fatalf("Result = %q, %v", v, err)
	}
	if err := <-loserCtxDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("loser context: %v", err)
	}
	rs := resultsByHandler(e.Base())
	var ae *abxbus.EventHandlerAbortedError
	if err := resultErr(t, rs["loser"]); !errors.As(err, &ae) {
		t.Fatalf("loser error %v, want EventHandlerAbortedError", err)
	}
	if v, _ := rs["loser"].Value(); v != nil {
		t.Fatalf("loser's late return %v was recorded (F41)", v)
	}
	if err := <-childCtxDone; err == nil {
		t.Fatal("grandchild context not cancelled")
	}
	kids := e.Base().Children()
	if len(kids) != 1 {
		t.Fatalf("children: %v", kids)
	}
	if err := kids[0].Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := resultErr(t, kids[0].Results()[0]); !errors.As(err, &ae) {
		t.Fatalf("loser's child handler error %v, want EventHandlerAbortedError (F130)", err)
	}
}

// F127: in first mode, when nothing succeeds the event completes after every handler failed or returned nil.
func TestFirstCompletionNoWinnerF127(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "NoWinner", &abxbus.Options{Completion: abxbus.CompleteFirst})
	boom := errors.New("boom")
	must[*abxbus.Handler](t)(bus.OnType("Side", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil }))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Side) (string, error) { return "", boom }))
	e := must[*abxbus.Event[Side, string]](t)(abxbus.Emit(ctx, bus, Side{}))
	if _, err := e.Result(ctx); !errors.Is(err, boom) {
		t.Fatalf("Result error %v, want the handler's error", err)
	}
	if e.Status() != abxbus.EventCompleted || len(e.EventResults()) != 2 {
		t.Fatalf("status %s, %d results", e.Status(), len(e.EventResults()))
	}
}

// F94, F129: Now with FirstResult returns on the first valid result and cancels nothing.
func TestNowFirstResultCancelsNothingF129(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "FirstResult", &abxbus.Options{HandlerConcurrency: abxbus.HandlersParallel})
	gate := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Side) (string, error) { return "fast", nil }))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Side) (string, error) {
		select {
		case <-gate:
			return "slow", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}))
	e := must[*abxbus.Event[Side, string]](t)(abxbus.Emit(ctx, bus, Side{}))
	if err := e.Now(ctx, abxbus.FirstResult); err != nil {
		t.Fatal(err)
	}
	if e.Status() == abxbus.EventCompleted {
		t.Fatal("event completed before the slow handler was released")
	}
	close(gate)
	vals, err := e.Results(ctx)
	if err != nil || !cmp.Equal([]string{"fast", "slow"}, vals) {
		t.Fatalf("Results = %v, %v; want both handlers' values", vals, err)
	}
}

// F102 under every event mode and both handler modes: the awaited child runs before the parent
// handler ends; under serial event modes the detached sibling runs after the parent (F109).
func TestQueueJumpUnderEachModeF102(t *testing.T) {
	for _, em := range []abxbus.EventConcurrency{abxbus.GlobalSerial, abxbus.BusSerial, abxbus.Parallel} {
		for _, hm := range []abxbus.HandlerConcurrency{abxbus.HandlersSerial, abxbus.HandlersParallel} {
			t.Run(fmt.Sprintf("%s/%s", em, hm), func(t *testing.T) {
				ctx := tctx(t)
				bus := newBus(t, "JumpBus", &abxbus.Options{EventConcurrency: em, HandlerConcurrency: hm, LockDomain: t.Name()})
				rec := &recorder{}
				must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) {
					rec.add(fmt.Sprint("kid-", k.N))
					return k.N * 10, nil
				}))
				must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, s Side) (string, error) {
					rec.add("sibling")
					return s.Tag, nil
				}))
				must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Parent) (string, error) {
					rec.add("parent_start")
					if _, err := abxbus.Emit(ctx, bus, Side{Tag: "s"}); err != nil {
						return "", err
					}
					v, err := abxbus.CallChild(ctx, Kid{N: 1})
					if err != nil {
						return "", err
					}
					rec.add(fmt.Sprint("parent_end-", v))
					return "ok", nil
				}))
				p := must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctx, bus, Parent{}))
				if v, err := p.Result(ctx); err != nil || v != "ok" {
					t.Fatalf("parent: %q %v", v, err)
				}
				idle(t, bus)
				child, end, sib := rec.index("kid-1"), rec.index("parent_end-10"), rec.index("sibling")
				if child < 0 || end < 0 || sib < 0 || child > end {
					t.Fatalf("order %v: the child must run before the parent ends", rec.get())
				}
				if em != abxbus.Parallel && end > sib {
					t.Fatalf("order %v: the sibling must run after the parent (F109)", rec.get())
				}
			})
		}
	}
}

// F105: several children awaited as a group; each failure is reported on its own child.
func TestParallelFanOutF105(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "FanOut", &abxbus.Options{EventConcurrency: abxbus.Parallel})
	meet := rendezvous(3)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) {
		if err := meet(ctx); err != nil {
			return 0, err
		}
		if k.N == 2 {
			return 0, fmt.Errorf("kid %d failed", k.N)
		}
		return k.N, nil
	}))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Parent) (string, error) {
		var kids []*abxbus.Event[Kid, int]
		for i := 1; i <= 3; i++ {
			kids = append(kids, must[*abxbus.Event[Kid, int]](t)(abxbus.EmitChildOf(ctx, Kid{N: i})))
		}
		out := ""
		for _, k := range kids {
			if err := k.Now(ctx); err != nil {
				return "", err
			}
			v, err := k.Result(ctx)
			out += fmt.Sprintf("[%d %v]", v, err)
		}
		return out, nil
	}))
	v, err := abxbus.Call(ctx, bus, Parent{})
	if err != nil || v != "[1 <nil>][0 kid 2 failed][3 <nil>]" {
		t.Fatalf("fan-out = %q, %v", v, err)
	}
}

// F137, F141, D6: a handler's own timeout records EventHandlerTimeoutError and cancels its context; the
// next serial handler still runs; a late return and a late child emit are refused.
func TestHandlerTimeoutRefusesLateWorkF137F141(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "TimeoutBus", nil)
	release := make(chan struct{})
	lateEmit := make(chan error, 1)
	ctxErr := make(chan error, 1)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, p Ping) (int, error) {
		<-hctx.Done()
		ctxErr <- hctx.Err()
		<-release // ignores its context and returns late
		_, err := abxbus.EmitChildOf(hctx, Kid{N: 9})
		lateEmit <- err
		return 99, nil
	}, abxbus.WithName("sleepy"), abxbus.WithHandlerTimeout(20*time.Millisecond)))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { return 2, nil }, abxbus.WithName("next")))
	e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{}))
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-ctxErr; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("handler context error %v, want DeadlineExceeded", err)
	}
	rs := resultsByHandler(e.Base())
	var te *abxbus.EventHandlerTimeoutError
	err := resultErr(t, rs["sleepy"])
	if !errors.As(err, &te) || !errors.Is(err, abxbus.ErrHandlerTimeout) {
		t.Fatalf("timed-out handler error %v", err)
	}
	if v, _ := rs["next"].Value(); v != 2 {
		t.Fatalf("the next serial handler did not run: %v", v)
	}
	close(release)
	if err := <-lateEmit; !errors.Is(err, abxbus.ErrHandlerFinished) {
		t.Fatalf("late child emit: %v, want ErrHandlerFinished (F141)", err)
	}
	idle(t, bus)
	if v, _ := rs["sleepy"].Value(); v != nil || rs["sleepy"].Status() != abxbus.ResultError {
		t.Fatalf("late return changed the result: %v %s (F41)", v, rs["sleepy"].Status())
	}
	if n := len(e.Base().Children()); n != 0 {
		t.Fatalf("late child was linked: %d children", n)
	}
	if bus.HistoryLen() != 1 {
		t.Fatalf("history %d: the refused child must not be retained", bus.HistoryLen())
	}
}

// F138, D6: the event timeout aborts the started handler and cancels the pending one; completed ones
// are untouched; a handler's own longer budget is capped by the event deadline (aborted, not timeout).
func TestEventTimeoutFinalizesF138(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "EventTimeout", &abxbus.Options{EventTimeout: 30 * time.Millisecond})
	var pendingRan atomic.Bool
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { return 1, nil }, abxbus.WithName("done")))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}, abxbus.WithName("running"), abxbus.WithHandlerTimeout(time.Hour)))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		pendingRan.Store(true)
		return 3, nil
	}, abxbus.WithName("pending")))
	e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{}))
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	rs := resultsByHandler(e.Base())
	if v, _ := rs["done"].Value(); v != 1 || rs["done"].Status() != abxbus.ResultCompleted {
		t.Fatalf("completed result touched: %v %s", v, rs["done"].Status())
	}
	var ae *abxbus.EventHandlerAbortedError
	if err := resultErr(t, rs["running"]); !errors.As(err, &ae) || !errors.Is(err, abxbus.ErrEventTimeout) {
		t.Fatalf("running handler: %v, want EventHandlerAbortedError caused by the event timeout", err)
	}
	var ce *abxbus.EventHandlerCancelledError
	if err := resultErr(t, rs["pending"]); !errors.As(err, &ce) || !errors.Is(err, abxbus.ErrEventTimeout) {
		t.Fatalf("pending handler: %v, want EventHandlerCancelledError caused by the event timeout", err)
	}
	if pendingRan.Load() {
		t.Fatal("a pending handler ran after the event timed out")
	}
	if e.Status() != abxbus.EventCompleted {
		t.Fatalf("status %s", e.Status())
	}
}

// F134, D6: precedence handler > event_handler_timeout > bus event_timeout, each capped by the event
// deadline; 0 (NoTimeout) disables a level.
func TestTimeoutPrecedenceF134(t *testing.T) {
	ctx := tctx(t)
	const short = 15 * time.Millisecond
	cases := []struct {
		name    string
		bus     time.Duration
		event   abxbus.EventOptions
		handler time.Duration
		want    error // nil: runs to completion
	}{
		{"bus timeout applies to handlers", short, abxbus.EventOptions{}, 0, abxbus.ErrHandlerAborted},
		{"event handler timeout", abxbus.NoTimeout, abxbus.EventOptions{HandlerTimeout: short}, 0, abxbus.ErrHandlerTimeout},
		{"handler timeout beats event handler timeout", abxbus.NoTimeout, abxbus.EventOptions{HandlerTimeout: time.Hour}, short, abxbus.ErrHandlerTimeout},
		{"event deadline caps handler", abxbus.NoTimeout, abxbus.EventOptions{Timeout: short}, time.Hour, abxbus.ErrHandlerAborted},
		{"handler 0 disables own limit only", abxbus.NoTimeout, abxbus.EventOptions{Timeout: short}, abxbus.NoTimeout, abxbus.ErrHandlerAborted},
		// D15: handlers fall back to the resolved event timeout, so disabling the event budget removes
		// their fallback limit too; an event handler timeout still applies.
		{"event 0 removes the handler fallback", short, abxbus.EventOptions{Timeout: abxbus.NoTimeout}, 0, nil},
		{"event 0 keeps the event handler timeout", time.Hour, abxbus.EventOptions{Timeout: abxbus.NoTimeout, HandlerTimeout: short}, 0, abxbus.ErrHandlerTimeout},
		{"event and event-handler 0 disable all", short, abxbus.EventOptions{Timeout: abxbus.NoTimeout, HandlerTimeout: abxbus.NoTimeout}, 0, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bus := newBus(t, "Precedence", &abxbus.Options{EventTimeout: c.bus})
			release := make(chan struct{})
			var opts []abxbus.HandlerOption
			if c.handler != 0 {
				opts = append(opts, abxbus.WithHandlerTimeout(c.handler))
			}
			must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
				select {
				case <-ctx.Done():
					return 0, ctx.Err()
				case <-release:
					return 5, nil
				}
			}, opts...))
			e := emitWith[Ping, int](t, bus, Ping{}, c.event)
			if c.want == nil {
				time.Sleep(3 * short) // longer than the disabled limit would have allowed
				close(release)
				if v, err := e.Result(ctx); err != nil || v != 5 {
					t.Fatalf("Result = %v, %v", v, err)
				}
				return
			}
			defer close(release)
			if err := e.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			if err := resultErr(t, e.EventResults()[0]); !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
		})
	}
}

// F136: a slow warning is logged while the work continues; it never cancels anything.
func TestSlowWarningsNeverCancelF136(t *testing.T) {
	ctx := tctx(t)
	logs := &syncBuffer{}
	bus := newBus(t, "SlowBus", &abxbus.Options{
		EventSlowTimeout:   5 * time.Millisecond,
		HandlerSlowTimeout: 5 * time.Millisecond,
		Logger:             newTextLogger(logs),
	})
	warned := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		select {
		case <-warned:
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}, abxbus.WithName("slowpoke")))
	e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{}))
	for !logs.contains("Slow event handler") || !logs.contains("Slow event processing") {
		select {
		case <-ctx.Done():
			t.Fatalf("no slow warnings logged: %q", logs.String())
		case <-time.After(time.Millisecond):
		}
	}
	close(warned)
	if v, err := e.Result(ctx); err != nil || v != 1 {
		t.Fatalf("Result = %v, %v", v, err)
	}
	if !logs.contains("SlowBus") || !logs.contains("Ping") || !logs.contains("slowpoke") {
		t.Fatalf("warnings do not name bus, event type and handler: %q", logs.String())
	}
}

// F140: a parent handler timeout cascades to its blocking children and grandchildren (started ones
// aborted, pending ones cancelled) and leaves background children alone.
func TestParentTimeoutCascadesF140(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "Cascade", nil)
	grandStarted := make(chan struct{})
	bgGate := make(chan struct{})
	bgCtxErr := make(chan error, 1)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Parent) (string, error) {
		// a background child (linked, never awaited): must survive the timeout
		if _, err := abxbus.EmitChildOf(ctx, Side{Tag: "bg"}); err != nil {
			return "", err
		}
		v, err := abxbus.CallChild(ctx, Kid{N: 1})
		return fmt.Sprint(v), err
	}, abxbus.WithName("parent"), abxbus.WithHandlerTimeout(40*time.Millisecond)))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) {
		if k.N == 1 { // child awaits grandchild
			v, err := abxbus.CallChild(ctx, Kid{N: 2})
			return v, err
		}
		close(grandStarted)
		<-ctx.Done()
		return 0, ctx.Err()
	}, abxbus.WithName("kid")))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) {
		return 100, nil // pending behind "kid" in serial mode: must be cancelled
	}, abxbus.WithName("kid-second")))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, s Side) (string, error) {
		<-bgGate
		bgCtxErr <- ctx.Err()
		return "bg-done", nil
	}, abxbus.WithName("background")))

	p := must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctx, bus, Parent{}))
	<-grandStarted
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	var te *abxbus.EventHandlerTimeoutError
	if err := resultErr(t, resultsByHandler(p.Base())["parent"]); !errors.As(err, &te) {
		t.Fatalf("parent: %v, want EventHandlerTimeoutError", err)
	}
	var child, grand, bg *abxbus.BaseEvent
	for _, c := range p.Base().Children() {
		if c.Type() == "Side" {
			bg = c
		} else {
			child = c
		}
	}
	if child == nil || bg == nil || len(child.Children()) != 1 {
		t.Fatalf("lineage: children %v", p.Base().Children())
	}
	grand = child.Children()[0]
	for _, ev := range []*abxbus.BaseEvent{child, grand} {
		if err := ev.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		rs := resultsByHandler(ev)
		var ae *abxbus.EventHandlerAbortedError
		if err := resultErr(t, rs["kid"]); !errors.As(err, &ae) {
			t.Fatalf("%s started handler: %v, want EventHandlerAbortedError", ev, err)
		}
		var ce *abxbus.EventHandlerCancelledError
		if err := resultErr(t, rs["kid-second"]); !errors.As(err, &ce) {
			t.Fatalf("%s pending handler: %v, want EventHandlerCancelledError", ev, err)
		}
	}
	close(bgGate)
	if err := bg.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-bgCtxErr; err != nil {
		t.Fatalf("background child's context was cancelled: %v", err)
	}
	if v, err := bg.Result(ctx); err != nil || v != "bg-done" {
		t.Fatalf("background child: %v, %v", v, err)
	}
}

// D5: a Wait from inside a handler on an event queued behind it on the same serial bus fails at once.
func TestWaitThatCannotFinishD5(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "D5", nil)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) { return 1, nil }))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Parent) (string, error) {
		later := must[*abxbus.Event[Kid, int]](t)(abxbus.Emit(ctx, bus, Kid{}))
		err := later.Wait(ctx)
		if !errors.Is(err, abxbus.ErrWouldDeadlock) {
			return "", fmt.Errorf("Wait on a later event of the same serial bus: %v", err)
		}
		// Now is the way to await it from here: it queue-jumps.
		if err := later.Now(ctx); err != nil {
			return "", err
		}
		return "ok", nil
	}))
	if v, err := abxbus.Call(ctx, bus, Parent{}); err != nil || v != "ok" {
		t.Fatalf("%q %v", v, err)
	}
}

// The error vocabulary (F142): messages name the bus label, the event type and its short id.
func TestErrorMessagesNameBusAndEventF142(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "Named", &abxbus.Options{EventTimeout: 10 * time.Millisecond})
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		<-ctx.Done()
		return 0, nil
	}))
	e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{}))
	_, err := e.Result(ctx)
	if err == nil {
		t.Fatal("no error")
	}
	short := e.ID().String()[len(e.ID().String())-4:]
	for _, want := range []string{bus.Label(), "Ping", short} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q does not name %q", err, want)
		}
	}
	var hs *abxbus.EventHandlerErrors
	_ = errors.As(err, &hs) // aggregate or single: both fine, but errors.Is must reach the cause
	if !errors.Is(err, abxbus.ErrHandlerAborted) {
		t.Fatalf("errors.Is(%v, ErrHandlerAborted) = false", err)
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) contains(sub string) bool { return strings.Contains(s.String(), sub) }

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// F15, F111: per-event options override the bus defaults; invalid ones are refused before emit.
func TestEmitWithOptions(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "EmitWith", nil)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}))
	e := must[*abxbus.Event[Ping, int]](t)(abxbus.EmitWith[Ping, int](ctx, bus, Ping{}, abxbus.EventOptions{Timeout: 5 * time.Millisecond}))
	if _, err := e.Result(ctx); !errors.Is(err, abxbus.ErrHandlerAborted) {
		t.Fatalf("per-event timeout not applied: %v", err)
	}
	bad, err := abxbus.EmitWith[Ping, int](ctx, bus, Ping{}, abxbus.EventOptions{Completion: "most"})
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "most") {
		t.Fatalf("invalid option: %v", err)
	}
	if err := bad.Now(ctx); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("Now on the refused event: %v", err)
	}
	if bus.HistoryLen() != 1 {
		t.Fatalf("refused event reached the bus: history %d", bus.HistoryLen())
	}
}
