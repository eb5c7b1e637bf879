package abxbus_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/typedbus/abxbus-go/abxbus"
)

// F156: the exact raise table, for the single-result and the list accessor, on every handler outcome.
func TestResultRaiseTableF156(t *testing.T) {
	ctx := tctx(t)
	errA, errB := errors.New("a failed"), errors.New("b failed")
	type outcome struct {
		value any
		err   error
	}
	scenarios := []struct {
		name     string
		handlers []outcome
	}{
		{"values only", []outcome{{value: "x"}, {value: "y"}}},
		{"one error", []outcome{{err: errA}, {value: "y"}}},
		{"two errors", []outcome{{err: errA}, {value: "y"}, {err: errB}}},
		{"all nil", []outcome{{value: nil}, {value: nil}}},
		{"all errors", []outcome{{err: errA}, {err: errB}}},
		{"no handlers", nil},
	}
	type want struct {
		first   any
		list    []any
		errKind string // "", "single", "aggregate", "none"
	}
	// expected follows the table row by row; errors are checked before values (F154).
	expected := func(sc int, anyRaise, noneRaise bool) want {
		hs := scenarios[sc].handlers
		var errs []error
		var vals []any
		for _, h := range hs {
			if h.err != nil {
				errs = append(errs, h.err)
			} else if h.value != nil {
				vals = append(vals, h.value)
			}
		}
		if anyRaise && len(errs) == 1 {
			return want{errKind: "single"}
		}
		if anyRaise && len(errs) > 1 {
			return want{errKind: "aggregate"}
		}
		if noneRaise && len(vals) == 0 {
			return want{errKind: "none"}
		}
		w := want{list: vals}
		if w.list == nil {
			w.list = []any{}
		}
		if len(vals) > 0 {
			w.first = vals[0]
		}
		return w
	}
	for si, sc := range scenarios {
		for _, anyRaise := range []bool{true, false} {
			for _, noneRaise := range []bool{false, true} {
				name := fmt.Sprintf("%s/raise_if_any=%v/raise_if_none=%v", sc.name, anyRaise, noneRaise)
				t.Run(name, func(t *testing.T) {
					bus := newBus(t, "Table", nil)
					for i, h := range sc.handlers {
						must[*abxbus.Handler](t)(bus.OnType("Side", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
							return h.value, h.err
						}, abxbus.WithName(fmt.Sprint("h", i))))
					}
					e := must[*abxbus.Event[Side, string]](t)(abxbus.Emit(ctx, bus, Side{}))
					o := abxbus.ResultOptions{IgnoreErrors: !anyRaise, RequireResult: noneRaise}
					w := expected(si, anyRaise, noneRaise)
					list, lerr := e.Base().ResultsList(ctx, o)
					first, ferr := e.Base().Result(ctx, o)
					for _, got := range []error{lerr, ferr} {
						checkErrKind(t, w.errKind, got, errA, errB)
					}
					if w.errKind != "" {
						return
					}
					if first != w.first {
						t.Fatalf("Result = %v, want %v", first, w.first)
					}
					if diff := cmp.Diff(w.list, list); diff != "" {
						t.Fatalf("ResultsList (-want +got):\n%s", diff)
					}
				})
			}
		}
	}
}

func checkErrKind(t *testing.T, kind string, err error, errA, errB error) {
	t.Helper()
	var agg *abxbus.EventHandlerErrors
	var none *abxbus.EventResultNoneError
	switch kind {
	case "":
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
	case "single":
		if !errors.Is(err, errA) || errors.As(err, &agg) {
			t.Fatalf("error %v, want the single handler error itself", err)
		}
	case "aggregate":
		if !errors.As(err, &agg) || len(agg.Errors) != 2 || !errors.Is(err, errA) || !errors.Is(err, errB) {
			t.Fatalf("error %v, want an aggregate of both", err)
		}
		if want := fmt.Sprintf("Event Side#%s had 2 handler error(s): a failed; b failed", agg.EventID[len(agg.EventID)-4:]); err.Error() != want {
			t.Fatalf("aggregate message %q, want %q (F154)", err.Error(), want)
		}
	case "none":
		if !errors.As(err, &none) || !errors.Is(err, abxbus.ErrNoResult) {
			t.Fatalf("error %v, want EventResultNoneError", err)
		}
	}
}

// F152: the default filter keeps non-null values (0, false, "" and empty lists count) and drops nil and
// forwarded events; Include replaces it. F153: registration order, not completion order.
func TestResultFilterAndOrderF152F153(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "Filter", &abxbus.Options{HandlerConcurrency: abxbus.HandlersParallel})
	other := newBus(t, "Other", nil)
	slowGate := make(chan struct{})
	fastDone := make(chan struct{})
	values := []any{0, false, "", []int{}, nil}
	must[*abxbus.Handler](t)(bus.OnType("Loose", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		<-fastDone // the first-registered handler finishes last
		<-slowGate
		return "slow-first", nil
	}, abxbus.WithName("slow")))
	for i, v := range values {
		must[*abxbus.Handler](t)(bus.OnType("Loose", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			return v, nil
		}, abxbus.WithName(fmt.Sprint("v", i))))
	}
	must[*abxbus.Handler](t)(bus.OnType("Loose", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		defer close(fastDone)
		return other.Emit(ctx, e) // forwarding returns the event itself
	}, abxbus.WithName("forward")))
	e := must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("Loose", map[string]any{"k": 1})) // untyped: no result type
	must[*abxbus.BaseEvent](t)(bus.Emit(ctx, e))
	<-fastDone
	close(slowGate)
	list, err := e.ResultsList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"slow-first", 0, false, "", []int{}}, list); diff != "" {
		t.Fatalf("default filter / order (-want +got):\n%s", diff)
	}
	first, err := e.Result(ctx)
	if err != nil || first != "slow-first" {
		t.Fatalf("Result = %v %v, want the first-registered handler's value", first, err)
	}
	onlyBools, err := e.ResultsList(ctx, abxbus.ResultOptions{Include: func(r *abxbus.EventResult) bool {
		v, _ := r.Value()
		_, ok := v.(bool)
		return ok
	}})
	if err != nil || !cmp.Equal([]any{false}, onlyBools) {
		t.Fatalf("Include filter: %v %v", onlyBools, err)
	}
}

// F157, D13: the accessors drive a pending event and wait, bounded by the caller's context.
func TestAccessorsDriveAndWaitF157(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "Drive", nil)
	gate := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		if p.N == 0 {
			<-gate
		}
		return p.N, nil
	}))
	blocker := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: 0}))
	e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: 5}))
	short, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := blocker.Result(short); !errors.Is(err, context.Canceled) {
		t.Fatalf("Result with a done context: %v", err)
	}
	close(gate)
	if v, err := e.Result(ctx); err != nil || v != 5 {
		t.Fatalf("Result = %v %v", v, err)
	}
	if vs, err := blocker.Results(ctx); err != nil || !cmp.Equal([]int{0}, vs) {
		t.Fatalf("Results = %v %v", vs, err)
	}
}
