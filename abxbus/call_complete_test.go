package abxbus_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

var errSecond = errors.New("second handler failed")

// twoHandlerBus registers the issue 10 item 4 scenario on a fresh bus: two serial handlers for Ping, the
// first returns 42 at once, the second works a little and then returns errSecond. finished is set by
// the second handler just before it returns. gate, when non-nil, holds the second handler until closed.
func twoHandlerBus(t *testing.T, finished *atomic.Bool, gate <-chan struct{}) *abxbus.Bus {
	t.Helper()
	bus := newBus(t, "TwoHandlers", nil)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		return 42, nil
	}, abxbus.WithName("first")))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		if gate != nil {
			<-gate
		} else {
			time.Sleep(200 * time.Microsecond)
		}
		finished.Store(true)
		return 0, errSecond
	}, abxbus.WithName("second")))
	return bus
}

// Issue 10 item 4, D13 (revised), F151-F157: Call, CallChild and the result accessors wait for the event
// to complete and only then apply the error policy, so the answer never depends on timing: with the
// default raise-if-any policy the later handler's error is always the answer, and that handler has
// finished when the call returns.
func TestCallWaitsForCompletionD13(t *testing.T) {
	ctx := tctx(t)
	const runs = 200
	check := func(t *testing.T, what string, i int, v int, err error, finished *atomic.Bool) {
		t.Helper()
		if !finished.Load() {
			t.Fatalf("%s run %d returned (%v, %v) while the second handler was still running", what, i, v, err)
		}
		if !errors.Is(err, errSecond) || v != 0 {
			t.Fatalf("%s run %d = (%v, %v), want (0, %v)", what, i, v, err, errSecond)
		}
	}
	t.Run("Call", func(t *testing.T) {
		for i := range runs {
			var finished atomic.Bool
			bus := twoHandlerBus(t, &finished, nil)
			v, err := abxbus.Call(ctx, bus, Ping{N: i})
			check(t, "Call", i, v, err, &finished)
			bus.Destroy(true)
		}
	})
	t.Run("Result", func(t *testing.T) {
		for i := range runs {
			var finished atomic.Bool
			bus := twoHandlerBus(t, &finished, nil)
			e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: i}))
			v, err := e.Result(ctx)
			check(t, "Event.Result", i, v, err, &finished)
			bus.Destroy(true)
		}
	})
	t.Run("BaseResult", func(t *testing.T) {
		for i := range runs {
			var finished atomic.Bool
			bus := twoHandlerBus(t, &finished, nil)
			e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: i}))
			v, err := e.Base().Result(ctx)
			if v != nil {
				t.Fatalf("BaseEvent.Result run %d value %v, want nil", i, v)
			}
			check(t, "BaseEvent.Result", i, 0, err, &finished)
			bus.Destroy(true)
		}
	})
	// A handler reading the results of its own event cannot wait for that event's completion: the
	// read fails at once instead of hanging.
	t.Run("OwnEvent", func(t *testing.T) {
		bus := newBus(t, "OwnEvent", nil)
		got := make(chan error, 1)
		must[*abxbus.Handler](t)(abxbus.OnEvent(bus, func(hctx context.Context, e *abxbus.Event[Ping, int]) (int, error) {
			short, cancel := context.WithTimeout(hctx, 5*time.Second)
			defer cancel()
			_, err := e.Result(short)
			got <- err
			return 1, nil
		}))
		must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{})).Wait(ctx)
		if err := <-got; !errors.Is(err, abxbus.ErrWouldDeadlock) {
			t.Fatalf("Result of its own event from a handler: %v, want ErrWouldDeadlock", err)
		}
	})
	t.Run("CallChild", func(t *testing.T) {
		for i := range runs / 4 {
			var finished atomic.Bool
			bus := twoHandlerBus(t, &finished, nil)
			type answer struct {
				v   int
				err error
				fin bool
			}
			got := make(chan answer, 1)
			must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Parent) (string, error) {
				v, err := abxbus.CallChild(ctx, Ping{N: i})
				got <- answer{v, err, finished.Load()}
				return "", nil
			}))
			must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctx, bus, Parent{})).Wait(ctx)
			a := <-got
			var fin atomic.Bool
			fin.Store(a.fin)
			check(t, "CallChild", i, a.v, a.err, &fin)
			bus.Destroy(true)
		}
	})
}

// Issue 10 item 4, D13, F94: returning early is explicit. ResultOptions.First returns the first valid
// result as soon as it exists, and reports only the errors of handlers already finished; the other
// handlers keep running.
func TestResultFirstOptionD13F94(t *testing.T) {
	ctx := tctx(t)
	for i := range 20 {
		read := map[string]func(bus *abxbus.Bus) (any, error){
			"Call": func(bus *abxbus.Bus) (any, error) {
				return abxbus.Call(ctx, bus, Ping{N: i}, abxbus.ResultOptions{First: true})
			},
			"Event.Result": func(bus *abxbus.Bus) (any, error) {
				e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: i}))
				return e.Result(ctx, abxbus.ResultOptions{First: true})
			},
			"BaseEvent.Result": func(bus *abxbus.Bus) (any, error) {
				e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: i}))
				return e.Base().Result(ctx, abxbus.ResultOptions{First: true})
			},
			"ResultsList": func(bus *abxbus.Bus) (any, error) {
				e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: i}))
				vs, err := e.Base().ResultsList(ctx, abxbus.ResultOptions{First: true})
				if len(vs) != 1 {
					return vs, err
				}
				return vs[0], err
			},
		}
		for what, f := range read {
			var finished atomic.Bool
			gate := make(chan struct{})
			bus := twoHandlerBus(t, &finished, gate)
			v, err := f(bus)
			if err != nil || v != 42 {
				t.Fatalf("%s(First) run %d = (%v, %v), want 42", what, i, v, err)
			}
			if finished.Load() {
				t.Fatalf("%s run %d: the second handler finished before its gate opened", what, i)
			}
			close(gate)
			if err := bus.WaitUntilIdle(ctx); err != nil {
				t.Fatal(err)
			}
			bus.Destroy(true)
		}
	}
	// Once the second handler has finished, First reports its error (raise-if-any over the finished
	// handlers) and IgnoreErrors returns the value.
	var finished atomic.Bool
	bus := twoHandlerBus(t, &finished, nil)
	e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{}))
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := e.Result(ctx, abxbus.ResultOptions{First: true}); !errors.Is(err, errSecond) {
		t.Fatalf("Result(First) after completion = (%v, %v), want %v", v, err, errSecond)
	}
	if v, err := e.Result(ctx, abxbus.ResultOptions{First: true, IgnoreErrors: true}); err != nil || v != 42 {
		t.Fatalf("Result(First, IgnoreErrors) after completion = (%v, %v), want 42", v, err)
	}
}
