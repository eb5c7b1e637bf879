package otel_test

import (
	"context"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// TestStateReleasedOnDestroy: events cut short by Destroy (running and queued) release their state too.
func TestStateReleasedOnDestroy(t *testing.T) {
	_, tp := recorder(t)
	tr := newTracer(t, tp)
	bus, _ := abxbus.New("D", &abxbus.Options{Middlewares: []abxbus.Middleware{tr}, Logger: quiet})
	abxbus.On(bus, func(ctx context.Context, w Work) (int, error) { <-ctx.Done(); return 0, ctx.Err() })
	var evs []*abxbus.Event[Work, int]
	for i := range 5 {
		e, _ := abxbus.Emit(context.Background(), bus, Work{N: i})
		evs = append(evs, e)
	}
	time.Sleep(20 * time.Millisecond)
	bus.Destroy(true)
	for _, e := range evs {
		e.Wait(context.Background())
	}
	ne, nr := tr.Tracked()
	if ne != 0 || nr != 0 {
		t.Fatalf("after Destroy the Tracer holds %d event states and %d handler spans", ne, nr)
	}
}
