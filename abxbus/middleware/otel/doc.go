// Package otel traces abxbus buses with OpenTelemetry: a Tracer is a middleware that writes a span per
// event per bus and a child span per handler run, records handler errors on the handler spans,
// parents child events under the handler that emitted them (across queue-jumps and forwarding), and
// carries the W3C trace context in the event's JSON so that a process receiving it through a bridge
// continues the trace. With Options.MeterProvider it also records event counts and handler durations
// through the OpenTelemetry metrics API.
//
// It lives in a module of its own (go.opentelemetry.io/otel), so programs that use abxbus without it
// do not depend on OpenTelemetry.
package otel
