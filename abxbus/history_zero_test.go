package abxbus_test

import (
	"context"
	"slices"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Issue 13: a completion on a bus whose max_history_size is not 0 no longer takes the bus lock; one
// racing SetMaxHistory(0) must still leave no completed event behind (F187: size 0 keeps only in-flight
// events).
func TestSetMaxHistoryZeroWhileCompletingF187(t *testing.T) {
	ctx := tctx(t)
	for round := range 40 {
		bus := newBus(t, "HistZero", &abxbus.Options{EventConcurrency: abxbus.Parallel, MaxHistorySize: abxbus.Ptr(1000)})
		must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, p Ping) (int, error) { return p.N, nil }))
		var evs []*abxbus.Event[Ping, int]
		for i := range 200 {
			if i == 100+round {
				bus.SetMaxHistory(0, false)
			}
			evs = append(evs, must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: i})))
		}
		for _, e := range evs {
			if err := e.Wait(ctx); err != nil {
				t.Fatal(err)
			}
		}
		idle(t, bus)
		if n := bus.HistoryLen(); n != 0 {
			t.Fatalf("round %d: %d completed events left in a history of size 0", round, n)
		}
	}
}

// D1 in drop mode: a full history of unfinished events evicts its oldest one for each new event, and an
// event that completes meanwhile is evicted before any unfinished one (the scan for completed events
// remembers where it found none until a completion happens).
func TestDropEvictsCompletedFirstAfterScansD1(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "DropScan", &abxbus.Options{EventConcurrency: abxbus.Parallel, MaxHistorySize: abxbus.Ptr(4), MaxHistoryDrop: true})
	gates := make([]chan struct{}, 8)
	for i := range gates {
		gates[i] = make(chan struct{})
	}
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, p Ping) (int, error) {
		<-gates[p.N]
		return p.N, nil
	}))
	evs := make([]*abxbus.Event[Ping, int], 8)
	ids := func() []int {
		var out []int
		for _, e := range bus.History() {
			for i, x := range evs {
				if x != nil && x.ID() == e.ID() {
					out = append(out, i)
				}
			}
		}
		return out
	}
	for i := range 6 { // 0-3 fill it; 4 and 5 each drop the oldest unfinished one (0, then 1)
		evs[i] = must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: i}))
	}
	if got := ids(); !slices.Equal(got, []int{2, 3, 4, 5}) {
		t.Fatalf("history %v, want [2 3 4 5]", got)
	}
	close(gates[4])
	if err := evs[4].Wait(ctx); err != nil {
		t.Fatal(err)
	}
	evs[6] = must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: 6})) // evicts 4, the completed one
	if got := ids(); !slices.Equal(got, []int{2, 3, 5, 6}) {
		t.Fatalf("history %v after 4 completed, want [2 3 5 6]", got)
	}
	evs[7] = must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: 7})) // none completed: drops 2
	if got := ids(); !slices.Equal(got, []int{3, 5, 6, 7}) {
		t.Fatalf("history %v, want [3 5 6 7]", got)
	}
	for _, g := range gates {
		select {
		case <-g:
		default:
			close(g)
		}
	}
	idle(t, bus)
}
