package otel_test

import (
	"context"
	"errors"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/typedbus/abxbus-go/abxbus"
	abxotel "github.com/typedbus/abxbus-go/abxbus/middleware/otel"
)

// TestMetrics: with a MeterProvider, completed events are counted per type and bus, handler run times
// recorded per handler and outcome, and handler errors counted.
func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	_, tp := recorder(t)
	tr, err := abxotel.New(&abxotel.Options{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	bus := newBus(t, "Metered", tr, nil)
	abxbus.On(bus, func(ctx context.Context, w Work) (int, error) {
		if w.N%2 == 1 {
			return 0, errors.New("odd")
		}
		return w.N, nil
	}, abxbus.WithName("even_only"))
	for i := range 5 {
		e, _ := abxbus.Emit(context.Background(), bus, Work{N: i})
		e.Wait(context.Background())
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != abxotel.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					got[m.Name] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					outcome, _ := p.Attributes.Value("abxbus.outcome")
					got[m.Name+"/"+outcome.AsString()] += int64(p.Count)
				}
			}
		}
	}
	want := map[string]int64{"abxbus.events": 5, "abxbus.handler.errors": 2,
		"abxbus.handler.duration/ok": 3, "abxbus.handler.duration/Error": 2}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}
