package abxbus_test

import (
	"context"
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
