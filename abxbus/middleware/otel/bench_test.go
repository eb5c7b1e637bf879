package otel_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/typedbus/abxbus-go/abxbus"
	abxotel "github.com/typedbus/abxbus-go/abxbus/middleware/otel"
)

// discard is a span exporter that drops every span: the SDK's full cost (sampling, recording, the
// batch processor) without I/O.
type discard struct{}

func (discard) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discard) Shutdown(context.Context) error                             { return nil }

// BenchmarkOtel50k is the 50k workload (1 bus x 50k events x 1 handler, emit all, then wait until
// every event completed) without middleware, with the Tracer on the no-op tracer provider, and with the
// Tracer on the SDK (always sampling, batch span processor) exporting to a no-op exporter. Compare the
// variants within one run (-count interleaves them).
func BenchmarkOtel50k(b *testing.B) {
	const n = 50_000
	sdk := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discard{}))
	defer sdk.Shutdown(context.Background())
	for _, v := range []struct {
		name string
		tp   trace.TracerProvider
	}{
		{"none", nil},
		{"noop-provider", noop.NewTracerProvider()},
		{"sdk-noop-exporter", sdk},
	} {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			var mws []abxbus.Middleware
			if v.tp != nil {
				tr, err := abxotel.New(&abxotel.Options{TracerProvider: v.tp})
				if err != nil {
					b.Fatal(err)
				}
				mws = []abxbus.Middleware{tr}
			}
			b.ReportAllocs()
			for b.Loop() {
				bus, _ := abxbus.New("Bench", &abxbus.Options{MaxHistorySize: abxbus.Ptr(512), MaxHistoryDrop: true,
					Logger: quiet, Middlewares: mws})
				abxbus.On(bus, func(ctx context.Context, w Work) (int, error) { return w.N, nil })
				evs := make([]*abxbus.Event[Work, int], 0, n)
				for i := range n {
					e, err := abxbus.Emit(ctx, bus, Work{N: i})
					if err != nil {
						b.Fatal(err)
					}
					evs = append(evs, e)
				}
				for _, e := range evs {
					if err := e.Wait(ctx); err != nil {
						b.Fatal(err)
					}
				}
				bus.Destroy(true)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
		})
	}
}
