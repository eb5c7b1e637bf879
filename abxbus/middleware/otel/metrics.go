package otel

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/typedbus/abxbus-go/abxbus"
)

// meters are the instruments of a Tracer with a MeterProvider.
type meters struct {
	events   metric.Int64Counter
	duration metric.Float64Histogram
	errors   metric.Int64Counter
}

func newMeters(mp metric.MeterProvider) (*meters, error) {
	m := mp.Meter(ScopeName)
	var ms meters
	var err error
	if ms.events, err = m.Int64Counter("abxbus.events", metric.WithUnit("{event}"),
		metric.WithDescription("Events completed, per bus.")); err != nil {
		return nil, err
	}
	if ms.duration, err = m.Float64Histogram("abxbus.handler.duration", metric.WithUnit("s"),
		metric.WithDescription("Handler run time, from its start to its result.")); err != nil {
		return nil, err
	}
	if ms.errors, err = m.Int64Counter("abxbus.handler.errors", metric.WithUnit("{error}"),
		metric.WithDescription("Handler runs that ended with an error.")); err != nil {
		return nil, err
	}
	return &ms, nil
}

func (m *meters) event(b *abxbus.Bus, e *abxbus.BaseEvent) {
	m.events.Add(context.Background(), 1, metric.WithAttributes(AttrEventType.String(e.Type()), AttrBusName.String(b.Name())))
}

func (m *meters) handler(b *abxbus.Bus, e *abxbus.BaseEvent, r *abxbus.EventResult, err error, d time.Duration) {
	outcome := "ok"
	if err != nil {
		outcome = abxbus.ErrorType(err)
	}
	set := metric.WithAttributes(AttrEventType.String(e.Type()), AttrHandlerName.String(r.HandlerName()),
		AttrBusName.String(b.Name()), attribute.String("abxbus.outcome", outcome))
	m.duration.Record(context.Background(), d.Seconds(), set)
	if err != nil {
		m.errors.Add(context.Background(), 1, set)
	}
}
