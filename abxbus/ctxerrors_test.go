package abxbus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Issue 12 item 6, D6, F137-F142: every outcome caused by a deadline matches context.DeadlineExceeded and
// every outcome caused by a cancellation matches context.Canceled (never both), through every API that
// reports it (Call, Result, Wait/Now, EventResult.Err, the handler's own context, context.Cause of it),
// while errors.As and the sentinels still tell the abxbus kinds apart.

// ctxOutcome is one error seen through one API, with the abxbus kind it must also be (nil: a plain
// context error).
type ctxOutcome struct {
	api  string
	err  error
	kind func(error) bool
}

func asKind[E error](sentinel error) func(error) bool {
	return func(err error) bool {
		var e E
		return errors.As(err, &e) && errors.Is(err, sentinel)
	}
}

var (
	isTimeout   = asKind[*abxbus.EventHandlerTimeoutError](abxbus.ErrHandlerTimeout)
	isAborted   = asKind[*abxbus.EventHandlerAbortedError](abxbus.ErrHandlerAborted)
	isCancelled = asKind[*abxbus.EventHandlerCancelledError](abxbus.ErrHandlerCancelled)
	isDestroyed = asKind[*abxbus.EventBusDestroyedError](abxbus.ErrBusDestroyed)
)

// ctxSeen is what a handler saw of its own context once it was done.
type ctxSeen struct{ err, cause error }

// blockUntilDone is a handler body that waits for its context and reports what it saw.
func reportWhenDone(ctx context.Context, seen chan<- ctxSeen) {
	<-ctx.Done()
	seen <- ctxSeen{ctx.Err(), context.Cause(ctx)}
}

func handlerCtxOutcomes(who string, s ctxSeen) []ctxOutcome {
	return []ctxOutcome{{who + " ctx.Err", s.err, nil}, {who + " context.Cause", s.cause, nil}}
}

func TestContextErrorsByCauseIssue12(t *testing.T) {
	cases := []struct {
		name string
		want error // context.DeadlineExceeded or context.Canceled
		run  func(t *testing.T) []ctxOutcome
	}{
		{"handler timeout", context.DeadlineExceeded, func(t *testing.T) []ctxOutcome {
			ctx := tctx(t)
			bus := newBus(t, "HandlerTimeout", &abxbus.Options{HandlerConcurrency: abxbus.HandlersParallel})
			seen := make(chan ctxSeen, 2)
			observed := make(chan struct{}, 2)
			must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
				reportWhenDone(ctx, seen)
				observed <- struct{}{}
				return 1, ctx.Err()
			}, abxbus.WithName("slow"), abxbus.WithHandlerTimeout(20*time.Millisecond)))
			// keeps the event running until the timed-out handler has looked at its context
			must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
				<-observed
				return 0, nil
			}, abxbus.WithName("holder")))
			_, callErr := abxbus.Call(ctx, bus, Ping{})
			// The emitter's context is cancelled (with a cause of its own) while the handler runs: that
			// does not reach the handler, and context.Cause of the handler's context is not the emitter's.
			ectx, cancel := context.WithCancelCause(ctx)
			e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ectx, bus, Ping{}))
			cancel(errors.New("the emitter's own cause"))
			_, resultErr := e.Result(ctx)
			out := []ctxOutcome{
				{"Call", callErr, isTimeout},
				{"Result", resultErr, isTimeout},
				{"EventResult.Err", resultsByHandler(e.Base())["slow"].Err(), isTimeout},
			}
			out = append(out, handlerCtxOutcomes("first run", <-seen)...)
			return append(out, handlerCtxOutcomes("second run", <-seen)...)
		}},
		{"event timeout", context.DeadlineExceeded, func(t *testing.T) []ctxOutcome {
			ctx := tctx(t)
			bus := newBus(t, "EventTimeout", &abxbus.Options{EventTimeout: 20 * time.Millisecond})
			seen := make(chan ctxSeen, 1)
			// its own budget is longer: the event deadline caps it (aborted, not timed out)
			must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
				reportWhenDone(ctx, seen)
				return 1, nil
			}, abxbus.WithName("running"), abxbus.WithHandlerTimeout(time.Hour)))
			must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { return 2, nil },
				abxbus.WithName("pending")))
			e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{}))
			_, resultErr := e.Result(ctx)
			rs := resultsByHandler(e.Base())
			timedOut := asKind[*abxbus.EventTimeoutError](abxbus.ErrEventTimeout)
			out := []ctxOutcome{
				{"Result (aggregate)", resultErr, func(err error) bool { return isAborted(err) && isCancelled(err) }},
				{"EventResult.Err running", rs["running"].Err(), func(err error) bool { return isAborted(err) && timedOut(err) }},
				{"EventResult.Err pending", rs["pending"].Err(), func(err error) bool { return isCancelled(err) && timedOut(err) }},
			}
			return append(out, handlerCtxOutcomes("running", <-seen)...)
		}},
		{"parent handler timeout cascades", context.DeadlineExceeded, func(t *testing.T) []ctxOutcome {
			return parentStopCascade(t, func(bus *abxbus.Bus) []abxbus.HandlerOption {
				return []abxbus.HandlerOption{abxbus.WithHandlerTimeout(30 * time.Millisecond)}
			}, nil)
		}},
		{"parent event timeout cascades", context.DeadlineExceeded, func(t *testing.T) []ctxOutcome {
			return parentStopCascade(t, nil, &abxbus.Options{EventTimeout: 30 * time.Millisecond})
		}},
		{"caller's context deadline", context.DeadlineExceeded, func(t *testing.T) []ctxOutcome {
			return callerContext(t, func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 10*time.Millisecond)
			})
		}},
		{"caller's context cancelled", context.Canceled, func(t *testing.T) []ctxOutcome {
			return callerContext(t, func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			})
		}},
		{"first-completion losers", context.Canceled, func(t *testing.T) []ctxOutcome {
			ctx := tctx(t)
			bus := newBus(t, "FirstLosers", &abxbus.Options{Completion: abxbus.CompleteFirst, HandlerConcurrency: abxbus.HandlersParallel})
			started := make(chan struct{})
			seen := make(chan ctxSeen, 1)
			must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
				close(started)
				reportWhenDone(ctx, seen)
				return 0, nil
			}, abxbus.WithName("loser")))
			must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
				<-started
				return 1, nil
			}, abxbus.WithName("winner")))
			e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{}))
			if v, err := e.Result(ctx); err != nil || v != 1 {
				t.Fatalf("Result = %v, %v: a first-completion loss is not a failure", v, err)
			}
			serial := newBus(t, "FirstSerial", &abxbus.Options{Completion: abxbus.CompleteFirst})
			must[*abxbus.Handler](t)(abxbus.On(serial, func(ctx context.Context, p Ping) (int, error) { return 1, nil }, abxbus.WithName("winner")))
			must[*abxbus.Handler](t)(abxbus.On(serial, func(ctx context.Context, p Ping) (int, error) { return 2, nil }, abxbus.WithName("never")))
			s := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, serial, Ping{}))
			if err := s.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			out := []ctxOutcome{
				{"EventResult.Err running loser", resultsByHandler(e.Base())["loser"].Err(), isAborted},
				{"EventResult.Err pending loser", resultsByHandler(s.Base())["never"].Err(), isCancelled},
			}
			return append(out, handlerCtxOutcomes("loser", <-seen)...)
		}},
		{"parent cancelled cascades", context.Canceled, func(t *testing.T) []ctxOutcome {
			return parentStopCascade(t, nil, &abxbus.Options{Completion: abxbus.CompleteFirst, HandlerConcurrency: abxbus.HandlersParallel})
		}},
		{"Destroy", context.Canceled, func(t *testing.T) []ctxOutcome {
			ctx := tctx(t)
			bus := newBus(t, "Destroyed", nil)
			started := make(chan struct{})
			seen := make(chan ctxSeen, 1)
			must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
				if p.N == 1 {
					close(started)
					reportWhenDone(ctx, seen)
				}
				return p.N, nil
			}, abxbus.WithName("running")))
			running := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: 1}))
			queued := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: 2}))
			<-started
			bus.Destroy(false)
			_, resultErr := running.Result(ctx)
			_, queuedResultErr := queued.Result(ctx)
			out := []ctxOutcome{
				{"Result of the running event", resultErr, isAborted},
				{"EventResult.Err", resultsByHandler(running.Base())["running"].Err(), func(err error) bool { return isAborted(err) && isDestroyed(err) }},
				{"Wait on a queued event", queued.Wait(ctx), isDestroyed},
				{"Now on a queued event", queued.Now(ctx), isDestroyed},
				{"Result of a queued event", queuedResultErr, isDestroyed},
			}
			return append(out, handlerCtxOutcomes("running", <-seen)...)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			other := context.Canceled
			if c.want == context.Canceled {
				other = context.DeadlineExceeded
			}
			outcomes := c.run(t)
			if len(outcomes) == 0 {
				t.Fatal("no outcomes")
			}
			for _, o := range outcomes {
				if o.err == nil {
					t.Errorf("%s: nil error", o.api)
					continue
				}
				if !errors.Is(o.err, c.want) {
					t.Errorf("%s: %v (%T) does not match %v", o.api, o.err, o.err, c.want)
				}
				if errors.Is(o.err, other) {
					t.Errorf("%s: %v (%T) also matches %v", o.api, o.err, o.err, other)
				}
				if o.kind != nil && !o.kind(o.err) {
					t.Errorf("%s: %v (%T) is not the expected abxbus kind", o.api, o.err, o.err)
				}
			}
		})
	}
}

// parentStopCascade runs a parent whose handler awaits a blocking child (with a running and a pending
// handler) and is stopped (by its own timeout, the event timeout, or a first-completion loss when opts
// ask for completion first); it returns what the child's handlers and the parent's wait saw.
func parentStopCascade(t *testing.T, parentOpts func(*abxbus.Bus) []abxbus.HandlerOption, opts *abxbus.Options) []ctxOutcome {
	ctx := tctx(t)
	bus := newBus(t, "Cascade", opts)
	childStarted := make(chan struct{})
	seen := make(chan ctxSeen, 1)
	parentCall := make(chan error, 1)
	var hopts []abxbus.HandlerOption
	if parentOpts != nil {
		hopts = parentOpts(bus)
	}
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Parent) (string, error) {
		_, err := abxbus.CallChild(ctx, Kid{N: 1})
		parentCall <- err
		return "", err
	}, append(hopts, abxbus.WithName("parent"))...))
	first := opts != nil && opts.Completion == abxbus.CompleteFirst
	if first {
		must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Parent) (string, error) {
			<-childStarted
			return "winner", nil
		}, abxbus.WithName("winner")))
	}
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) {
		close(childStarted)
		reportWhenDone(ctx, seen)
		return 1, nil
	}, abxbus.WithName("kid")))
	if !first { // (in completion mode first a second child handler would win over the first)
		must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) { return 2, nil }, abxbus.WithName("kid-pending")))
	}
	p := must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctx, bus, Parent{}))
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	children := p.Base().Children()
	if len(children) != 1 {
		t.Fatalf("children %v", children)
	}
	child := children[0]
	_, childResultErr := child.Result(ctx)
	rs := resultsByHandler(child)
	out := []ctxOutcome{
		{"EventResult.Err running child handler", rs["kid"].Err(), isAborted},
		{"CallChild in the stopped parent handler", <-parentCall, nil},
	}
	if first {
		out = append(out, ctxOutcome{"Result of the child", childResultErr, isAborted})
	} else {
		out = append(out,
			ctxOutcome{"Result of the child", childResultErr, func(err error) bool { return isAborted(err) && isCancelled(err) }},
			ctxOutcome{"EventResult.Err pending child handler", rs["kid-pending"].Err(), isCancelled})
		prs := resultsByHandler(p.Base())
		kind := isTimeout
		if opts != nil {
			kind = isAborted
		}
		out = append(out, ctxOutcome{"EventResult.Err parent", prs["parent"].Err(), kind})
	}
	return append(out, handlerCtxOutcomes("child", <-seen)...)
}

// callerContext runs Call, Result, Wait and Now with a caller's context that ends (the handler keeps
// running: the caller's context bounds only the wait).
func callerContext(t *testing.T, mk func() (context.Context, context.CancelFunc)) []ctxOutcome {
	bus := newBus(t, "Caller", nil)
	gate := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		<-gate
		return 1, nil
	}))
	var out []ctxOutcome
	wait := func(api string, f func(ctx context.Context) error) {
		ctx, cancel := mk()
		defer cancel()
		out = append(out, ctxOutcome{api, f(ctx), nil})
	}
	wait("Call", func(ctx context.Context) error { _, err := abxbus.Call(ctx, bus, Ping{}); return err })
	e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(tctx(t), bus, Ping{}))
	wait("Result", func(ctx context.Context) error { _, err := e.Result(ctx); return err })
	wait("Wait", func(ctx context.Context) error { return e.Wait(ctx) })
	wait("Now", func(ctx context.Context) error { return e.Now(ctx) })
	close(gate)
	idle(t, bus)
	return out
}

// A rejected operation on a bus already destroyed is not a cancellation.
func TestDestroyedBusRejectionIsNotCancellationIssue12(t *testing.T) {
	bus := newBus(t, "Gone", nil)
	bus.Destroy(true)
	_, err := abxbus.Emit(tctx(t), bus, Ping{})
	if !errors.Is(err, abxbus.ErrBusDestroyed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Emit on a destroyed bus: %v", err)
	}
}
