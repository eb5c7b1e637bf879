package abxbus_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// noopMW implements the lifecycle hooks and does nothing: the cost of the hook machinery itself.
type noopMW struct{}

func (noopMW) OnEventChange(*abxbus.Bus, *abxbus.BaseEvent, abxbus.EventStatus) {}
func (noopMW) OnEventResultChange(*abxbus.Bus, *abxbus.BaseEvent, *abxbus.EventResult, abxbus.EventStatus) {
}

// noopCtxMW adds the handler-context hook to noopMW, returning the context unchanged.
type noopCtxMW struct{ noopMW }

func (noopCtxMW) HandlerContext(ctx context.Context, _ *abxbus.Bus, _ *abxbus.BaseEvent, _ *abxbus.EventResult) context.Context {
	return ctx
}

// BenchmarkMiddleware50k is Benchmark50k (1 bus x 50k events x 1 handler, emit all then wait until
// idle) without middleware, with one no-op lifecycle middleware, and with one that also implements the
// handler-context hook. Run with -count to interleave the variants: compare them within one run.
func BenchmarkMiddleware50k(b *testing.B) {
	for _, v := range []struct {
		name string
		mws  []abxbus.Middleware
	}{
		{"none", nil},
		{"noop", []abxbus.Middleware{noopMW{}}},
		{"noop+ctx", []abxbus.Middleware{noopCtxMW{}}},
	} {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				bus, _ := abxbus.New("Bench", &abxbus.Options{MaxHistorySize: abxbus.Ptr(512), MaxHistoryDrop: true,
					Logger: slog.New(slog.DiscardHandler), Middlewares: v.mws})
				abxbus.On(bus, func(ctx context.Context, p BenchPing) (int, error) { return p.N, nil })
				for i := 0; i < 50_000; i++ {
					if _, err := abxbus.Emit(ctx, bus, BenchPing{N: i}); err != nil {
						b.Fatal(err)
					}
				}
				if err := bus.WaitUntilIdle(ctx); err != nil {
					b.Fatal(err)
				}
				bus.Destroy(true)
			}
			n := float64(b.N * 50_000)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
		})
	}
}
