package otel_test

import (
	"context"
	"encoding/json"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/typedbus/abxbus-go/abxbus"
)

// FuzzInboundTraceContext: an event arriving from outside with any traceparent / tracestate values is
// traced without failing; a valid traceparent becomes the (remote) parent of its event span, anything
// else starts a new trace.
func FuzzInboundTraceContext(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "a=1")
	f.Add("00-00000000000000000000000000000000-00f067aa0ba902b7-01", "")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "x")
	f.Add("garbage", "=,=,")
	exp, tp := recorder(f)
	tr := newTracer(f, tp)
	bus := newBus(f, "Inbound", tr, nil)
	abxbus.On(bus, func(ctx context.Context, w Work) (int, error) { return w.N, nil })
	f.Fuzz(func(t *testing.T, traceparent, tracestate string) {
		exp.Reset()
		obj := map[string]any{"event_type": "Work", "n": 1, "traceparent": traceparent, "tracestate": tracestate}
		js, _ := json.Marshal(obj)
		in, err := abxbus.FromJSON(js)
		if err != nil {
			return // keys the wire format refuses never reach a bus
		}
		e, err := bus.Emit(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(),
			propagation.MapCarrier{"traceparent": traceparent, "tracestate": tracestate}))
		var ev *trace.SpanContext
		for _, s := range exp.GetSpans() {
			if s.Name == "Work" {
				sc := s.Parent
				ev = &sc
				if want.IsValid() && (s.SpanContext.TraceID() != want.TraceID() || sc.SpanID() != want.SpanID() || !sc.IsRemote()) {
					t.Fatalf("traceparent %q: span %s parent %s, want under %s", traceparent, s.SpanContext.TraceID(), sc.SpanID(), want.SpanID())
				}
				if !want.IsValid() && sc.IsValid() {
					t.Fatalf("invalid traceparent %q gave parent %v", traceparent, sc)
				}
			}
		}
		if ev == nil {
			t.Fatalf("no event span for traceparent %q", traceparent)
		}
	})
}
