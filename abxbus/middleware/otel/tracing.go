package otel

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	globalotel "go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/typedbus/abxbus-go/abxbus"
)

// ScopeName is the instrumentation scope of the tracer and meter a Tracer gets from its providers.
const ScopeName = "github.com/typedbus/abxbus-go/abxbus/middleware/otel"

// Attribute keys of the spans a Tracer writes.
const (
	AttrEventID         = attribute.Key("abxbus.event.id")
	AttrEventType       = attribute.Key("abxbus.event.type")
	AttrEventParentID   = attribute.Key("abxbus.event.parent_id")
	AttrEventEmittedBy  = attribute.Key("abxbus.event.emitted_by_handler_id")
	AttrEventPath       = attribute.Key("abxbus.event.path")
	AttrEventStatus     = attribute.Key("abxbus.event.status")
	AttrEventErrors     = attribute.Key("abxbus.event.handler_errors")
	AttrBusID           = attribute.Key("abxbus.eventbus.id")
	AttrBusName         = attribute.Key("abxbus.eventbus.name")
	AttrResultID        = attribute.Key("abxbus.event_result.id")
	AttrResultStatus    = attribute.Key("abxbus.event_result.status")
	AttrHandlerID       = attribute.Key("abxbus.handler.id")
	AttrHandlerName     = attribute.Key("abxbus.handler.name")
	AttrHandlerFilePath = attribute.Key("abxbus.handler.file_path")
	AttrErrorType       = attribute.Key("abxbus.error.type")
)

// Options configures a Tracer. The zero value (or nil) traces through the global tracer provider,
// propagates the W3C trace context, and records no metrics.
type Options struct {
	// TracerProvider gives the tracer. nil: the global provider (go.opentelemetry.io/otel).
	TracerProvider trace.TracerProvider
	// MeterProvider, when set, receives the metrics: abxbus.events (counter of completed events, by
	// type and bus), abxbus.handler.duration (histogram of handler run times in seconds, by event type,
	// handler, bus and outcome) and abxbus.handler.errors (counter). nil: no metrics, at no cost.
	MeterProvider metric.MeterProvider
	// Propagator writes the trace context into an event's wire keys and reads it back on the receiving
	// side. nil: propagation.TraceContext{} (the keys "traceparent" and "tracestate").
	Propagator propagation.TextMapPropagator
	// NoPropagation stops the Tracer from writing trace context into events (it still reads it).
	NoPropagation bool
	// Attributes are added to every event span (the Python runtime's root span attributes). Like the
	// abxbus attributes, they are set after the span starts, on spans that record: a sampler does not
	// see them.
	Attributes []attribute.KeyValue
}

// Tracer is an OpenTelemetry tracing middleware: it writes a span per event per bus, from the moment
// the bus starts the event to its completion, and a child span per handler run, from the handler's
// start to its result.
//
// # Span tree
//
// An event span is named after the event type, a handler span after the handler. The parent of an
// event span on a bus is, first match wins:
//
//   - for an event forwarded from another bus this Tracer traces (the previous bus in its
//     event_path), the handler span of the event on that bus that was running when the event reached
//     this bus (the forwarding handler), else the event span there;
//   - the trace context carried by the event itself (its "traceparent" wire key, see below): an event
//     that arrived through a bridge continues the sender's trace under the sender's event span;
//   - the span in the context the event was emitted with: for a child event emitted from a handler
//     (EmitChild, Call, Emit with the handler's context, also when it queue-jumps with Now), the span of
//     the handler that emitted it; for a top-level event, the caller's span;
//   - none: the event span is the root of a new trace.
//
// A handler's context carries its span (trace.SpanFromContext), so spans the handler starts, and
// events it emits, are its children. A handler error (a failure, a timeout, an abort) is recorded on
// its span (RecordError) with status Error; a handler cancelled before it ran has no span but an
// "abxbus.handler.cancelled" span event on the event span. Attributes name the abxbus ids and types
// (AttrEventID and the other Attr keys).
//
// # Across processes
//
// Unless Options.NoPropagation, the Tracer writes the trace context of an event's span into the
// event when the span starts (the latest span of an event, on any bus, is what travels on), as wire
// keys (BaseEvent.SetWireKey: top-level "traceparent" / "tracestate" keys of its JSON, beside the
// payload). Bridges carry them; the TypeScript runtime keeps them as
// unknown payload keys; a Tracer in the receiving process continues the trace. An event whose payload
// has a field of that name keeps its field and carries no trace context.
//
// # Use
//
// Give one Tracer to every bus of a process (Options.Middlewares): forwarding between buses is
// followed through its state (with a Tracer per bus, through the wire keys). Safe for concurrent use.
// Cost per event: one event span, one span per handler run, a few map operations under one mutex, and
// with propagation one trace context encoding; with a no-op provider the spans cost next to nothing.
// It implements abxbus.EventChangeHook, abxbus.ResultChangeHook and abxbus.HandlerContextHook.
type Tracer struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	fields []string // prop.Fields()
	inject bool
	attrs  []attribute.KeyValue
	m      *meters

	mu      sync.Mutex
	events  map[*abxbus.BaseEvent][]*evState // per event, one entry per bus in the order it reached them
	results map[*abxbus.EventResult]trace.Span
}

// evState is an event on one bus: its span once started, and what the span's parent is.
type evState struct {
	bus      *abxbus.Bus
	span     trace.Span
	start    time.Time
	parent   context.Context // set at pending for a forwarded event: the previous bus's span
	running  []*abxbus.EventResult
	errCount int
}

// New returns a Tracer. It fails when the meter provider refuses the instruments.
func New(opts *Options) (*Tracer, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	tp := o.TracerProvider
	if tp == nil {
		tp = globalotel.GetTracerProvider()
	}
	prop := o.Propagator
	if prop == nil {
		prop = propagation.TraceContext{}
	}
	t := &Tracer{tracer: tp.Tracer(ScopeName), prop: prop, fields: prop.Fields(), inject: !o.NoPropagation, attrs: o.Attributes,
		events: map[*abxbus.BaseEvent][]*evState{}, results: map[*abxbus.EventResult]trace.Span{}}
	if o.MeterProvider != nil {
		m, err := newMeters(o.MeterProvider)
		if err != nil {
			return nil, err
		}
		t.m = m
	}
	return t, nil
}

// OnEventChange records the event's lifecycle: at pending the parent of a forwarded event, at
// started the start time, at completed the end of its span.
func (t *Tracer) OnEventChange(b *abxbus.Bus, e *abxbus.BaseEvent, phase abxbus.EventStatus) {
	switch phase {
	case abxbus.EventPending:
		t.mu.Lock()
		t.stateLocked(e, b)
		t.mu.Unlock()
	case abxbus.EventStarted:
		t.mu.Lock()
		st := t.stateLocked(e, b)
		if st.start.IsZero() {
			st.start = time.Now()
		}
		t.mu.Unlock()
	case abxbus.EventCompleted:
		t.mu.Lock()
		st := t.stateLocked(e, b)
		span := t.spanLocked(context.Background(), e, b, st, time.Time{})
		errs := st.errCount
		t.dropLocked(e, st)
		t.mu.Unlock()
		if span.IsRecording() {
			span.SetAttributes(AttrEventStatus.String(string(e.Status())), AttrEventErrors.Int(errs))
		}
		span.End()
		if t.m != nil {
			t.m.event(b, e)
		}
	}
}

// OnEventResultChange ends a handler's span when its result completes.
func (t *Tracer) OnEventResultChange(b *abxbus.Bus, e *abxbus.BaseEvent, r *abxbus.EventResult, phase abxbus.EventStatus) {
	if phase != abxbus.EventCompleted {
		return
	}
	err := r.Err()
	t.mu.Lock()
	span, ran := t.results[r]
	delete(t.results, r)
	st := t.stateLocked(e, b)
	if err != nil {
		st.errCount++
	}
	for i, x := range st.running {
		if x == r {
			st.running = append(st.running[:i], st.running[i+1:]...)
			break
		}
	}
	var evSpan trace.Span
	if !ran {
		evSpan = t.spanLocked(context.Background(), e, b, st, time.Time{})
	}
	t.mu.Unlock()
	h := r.Handler()
	if !ran { // cancelled before it started: no run to trace
		attrs := []attribute.KeyValue{AttrResultID.String(r.ID().String()), AttrHandlerID.String(h.ID().String()),
			AttrHandlerName.String(h.Name())}
		if err != nil {
			attrs = append(attrs, AttrErrorType.String(abxbus.ErrorType(err)), attribute.String("exception.message", err.Error()))
		}
		if evSpan.IsRecording() {
			evSpan.AddEvent("abxbus.handler.cancelled", trace.WithAttributes(attrs...))
		}
		return
	}
	if span.IsRecording() {
		span.SetAttributes(AttrResultStatus.String(string(r.Status())))
	}
	if err != nil {
		span.RecordError(err, trace.WithAttributes(AttrErrorType.String(abxbus.ErrorType(err))))
		span.SetStatus(codes.Error, err.Error())
	}
	end := r.CompletedAt()
	if end.IsZero() {
		end = time.Now()
	}
	span.End(trace.WithTimestamp(end))
	if t.m != nil {
		t.m.handler(b, e, r, err, end.Sub(r.StartedAt()))
	}
}

// HandlerContext starts the handler's span (and the event's, on its first handler) and returns ctx
// carrying it.
func (t *Tracer) HandlerContext(ctx context.Context, b *abxbus.Bus, e *abxbus.BaseEvent, r *abxbus.EventResult) context.Context {
	h := r.Handler()
	t.mu.Lock()
	st := t.stateLocked(e, b)
	start := r.StartedAt()
	if start.IsZero() {
		start = time.Now()
	}
	evSpan := t.spanLocked(ctx, e, b, st, start)
	_, span := t.tracer.Start(trace.ContextWithSpan(ctx, evSpan), h.Name(),
		trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindInternal))
	if span.IsRecording() { // attributes only for spans that keep them: a no-op span costs nothing more
		span.SetAttributes(
			AttrResultID.String(r.ID().String()), AttrHandlerID.String(h.ID().String()), AttrHandlerName.String(h.Name()),
			AttrEventID.String(e.EventID()), AttrEventType.String(e.Type()),
			AttrBusID.String(b.ID().String()), AttrBusName.String(b.Name()))
		if fp := h.FilePath(); fp != "" {
			span.SetAttributes(AttrHandlerFilePath.String(fp))
		}
	}
	t.results[r] = span
	st.running = append(st.running, r)
	t.mu.Unlock()
	return trace.ContextWithSpan(ctx, span)
}

// stateLocked returns the event's state on b, creating it: a new state for an event already traced
// on another bus (forwarded) gets as parent the running handler (else the event span) there; t.mu held.
func (t *Tracer) stateLocked(e *abxbus.BaseEvent, b *abxbus.Bus) *evState {
	list := t.events[e]
	for _, st := range list {
		if st.bus == b {
			return st
		}
	}
	st := &evState{bus: b}
	if n := len(list); n > 0 {
		prev := list[n-1]
		if k := len(prev.running); k > 0 {
			if s, ok := t.results[prev.running[k-1]]; ok {
				st.parent = trace.ContextWithSpan(context.Background(), s)
			}
		}
		if st.parent == nil && prev.span != nil {
			st.parent = trace.ContextWithSpan(context.Background(), prev.span)
		}
	}
	t.events[e] = append(list, st)
	return st
}

// dropLocked forgets the event's state on one bus; t.mu held.
func (t *Tracer) dropLocked(e *abxbus.BaseEvent, st *evState) {
	list := t.events[e]
	for i, x := range list {
		if x == st {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(t.events, e)
	} else {
		t.events[e] = list
	}
}

// spanLocked returns the event's span on b, starting it on first use (ctx: the context of its first
// handler, whose span is the fallback parent; notAfter, when set, the start of that handler: the
// event span starts no later); t.mu held.
func (t *Tracer) spanLocked(ctx context.Context, e *abxbus.BaseEvent, b *abxbus.Bus, st *evState, notAfter time.Time) trace.Span {
	if st.span != nil {
		return st.span
	}
	kind := trace.SpanKindInternal
	parent := st.parent
	if parent == nil {
		if remote := t.extract(e); remote != nil {
			parent, kind = remote, trace.SpanKindConsumer
		} else if ctx != nil && trace.SpanContextFromContext(ctx).IsValid() {
			parent = ctx
		} else {
			parent = context.Background()
		}
	}
	start := st.start
	if start.IsZero() {
		start = time.Now()
	}
	if !notAfter.IsZero() && notAfter.Before(start) {
		start = notAfter
	}
	// A span started from a context whose span is ours or remote: its trace continues.
	_, span := t.tracer.Start(parent, e.Type(), trace.WithTimestamp(start), trace.WithSpanKind(kind))
	if span.IsRecording() {
		attrs := make([]attribute.KeyValue, 0, 8+len(t.attrs))
		attrs = append(attrs, AttrEventID.String(e.EventID()), AttrEventType.String(e.Type()),
			AttrBusID.String(b.ID().String()), AttrBusName.String(b.Name()), AttrEventPath.StringSlice(e.Path()))
		if id := e.ParentID(); !id.IsZero() {
			attrs = append(attrs, AttrEventParentID.String(id.String()))
		}
		if id := e.EmittedByHandlerID(); !id.IsZero() {
			attrs = append(attrs, AttrEventEmittedBy.String(id.String()))
		}
		span.SetAttributes(append(attrs, t.attrs...)...)
	}
	st.span = span
	if t.inject && span.SpanContext().IsValid() {
		t.injectInto(e, span) // replaces what the event carried in: onward hops continue from here
	}
	return span
}

// injectInto writes the span's trace context into the event's wire keys.
func (t *Tracer) injectInto(e *abxbus.BaseEvent, span trace.Span) {
	c := propagation.MapCarrier{}
	t.prop.Inject(trace.ContextWithSpan(context.Background(), span), c)
	for k, v := range c {
		raw, _ := json.Marshal(v) // a string always encodes
		_ = e.SetWireKey(k, raw)  // refused for a payload field of that name: the payload wins
	}
}

// extract reads trace context from the event's wire keys; nil when it carries none.
func (t *Tracer) extract(e *abxbus.BaseEvent) context.Context {
	var c propagation.MapCarrier // allocated only for an event that carries a key
	for _, k := range t.fields {
		raw := e.WireKey(k)
		if raw == nil {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if c == nil {
				c = propagation.MapCarrier{}
			}
			c[k] = s
		}
	}
	if len(c) == 0 {
		return nil
	}
	ctx := t.prop.Extract(context.Background(), c)
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	return ctx
}

// Inject writes the trace context of ctx's span into e's wire keys (as the Tracer does for the events
// it traces), for an event sent to another process by other means than a bus with a Tracer. It
// returns an error from SetWireKey (a payload field with a propagator key's name).
func Inject(ctx context.Context, e *abxbus.BaseEvent, p propagation.TextMapPropagator) error {
	if p == nil {
		p = propagation.TraceContext{}
	}
	c := propagation.MapCarrier{}
	p.Inject(ctx, c)
	for k, v := range c {
		raw, _ := json.Marshal(v)
		if err := e.SetWireKey(k, raw); err != nil {
			return fmt.Errorf("abxbus otel: inject %s: %w", k, err)
		}
	}
	return nil
}

// Extract returns ctx with the remote span context that e carries in its wire keys (see Inject), or
// ctx unchanged when it carries none.
func Extract(ctx context.Context, e *abxbus.BaseEvent, p propagation.TextMapPropagator) context.Context {
	if p == nil {
		p = propagation.TraceContext{}
	}
	c := propagation.MapCarrier{}
	for _, k := range p.Fields() {
		var s string
		if raw := e.WireKey(k); raw != nil && json.Unmarshal(raw, &s) == nil {
			c[k] = s
		}
	}
	return p.Extract(ctx, c)
}
