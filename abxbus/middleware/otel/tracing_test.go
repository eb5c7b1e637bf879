package otel_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/typedbus/abxbus-go/abxbus"
	abxotel "github.com/typedbus/abxbus-go/abxbus/middleware/otel"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

type Work struct {
	abxbus.Returns[int]
	N int `json:"n"`
}

type Child struct {
	abxbus.Returns[string]
	Of int `json:"of"`
}

var quiet = slog.New(slog.DiscardHandler)

func recorder(t testing.TB) (*tracetest.InMemoryExporter, *sdktrace.TracerProvider) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return exp, tp
}

func newTracer(t testing.TB, tp trace.TracerProvider) *abxotel.Tracer {
	t.Helper()
	tr, err := abxotel.New(&abxotel.Options{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func newBus(t testing.TB, name string, mw abxbus.Middleware, o *abxbus.Options) *abxbus.Bus {
	t.Helper()
	if o == nil {
		o = &abxbus.Options{}
	}
	o.Logger = quiet
	o.Middlewares = []abxbus.Middleware{mw}
	b, err := abxbus.New(name, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Destroy(true) })
	return b
}

// tree renders the recorded spans as an indented tree: "name@bus [status: description]" for event
// spans (which carry the bus name), "name [status]" for the others, children by start time then name.
func tree(spans tracetest.SpanStubs) string {
	byParent := map[trace.SpanID][]tracetest.SpanStub{}
	ids := map[trace.SpanID]bool{}
	for _, s := range spans {
		ids[s.SpanContext.SpanID()] = true
	}
	var roots []tracetest.SpanStub
	for _, s := range spans {
		if p := s.Parent.SpanID(); p.IsValid() && ids[p] {
			byParent[p] = append(byParent[p], s)
		} else {
			roots = append(roots, s)
		}
	}
	order := func(l []tracetest.SpanStub) {
		sort.SliceStable(l, func(i, j int) bool {
			if !l[i].StartTime.Equal(l[j].StartTime) {
				return l[i].StartTime.Before(l[j].StartTime)
			}
			return l[i].Name < l[j].Name
		})
	}
	var b strings.Builder
	var walk func(s tracetest.SpanStub, depth int)
	walk = func(s tracetest.SpanStub, depth int) {
		b.WriteString(strings.Repeat("  ", depth))
		b.WriteString(s.Name)
		isEvent := false
		for _, a := range s.Attributes {
			if a.Key == abxotel.AttrHandlerName {
				isEvent = false
				break
			}
			if a.Key == abxotel.AttrBusName {
				isEvent = true
			}
		}
		if isEvent {
			for _, a := range s.Attributes {
				if a.Key == abxotel.AttrBusName {
					b.WriteString("@" + a.Value.AsString())
				}
			}
		}
		if s.Status.Code == codes.Error {
			fmt.Fprintf(&b, " [Error: %s]", s.Status.Description)
		}
		for _, ev := range s.Events {
			if ev.Name != "exception" {
				fmt.Fprintf(&b, " {%s}", ev.Name)
			}
		}
		b.WriteString("\n")
		kids := byParent[s.SpanContext.SpanID()]
		order(kids)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	order(roots)
	for _, r := range roots {
		walk(r, 0)
	}
	return b.String()
}

func attr(s tracetest.SpanStub, key string) string {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

func span(t *testing.T, spans tracetest.SpanStubs, name, bus string) tracetest.SpanStub {
	t.Helper()
	for _, s := range spans {
		if s.Name == name && (bus == "" || attr(s, string(abxotel.AttrBusName)) == bus) {
			return s
		}
	}
	t.Fatalf("no span %s on %s in:\n%s", name, bus, tree(spans))
	return tracetest.SpanStub{}
}

func checkTree(t *testing.T, spans tracetest.SpanStubs, want string) {
	t.Helper()
	want = strings.TrimLeft(want, "\n")
	if got := tree(spans); got != want {
		t.Fatalf("span tree:\n%s\nwant:\n%s", got, want)
	}
}

// TestSpanTreeSerial (F242): under the caller's span, the event span, one span per handler run, the
// queue-jumped child's event span under the handler that called it, and the failing handler's span
// with status Error and the error recorded.
func TestSpanTreeSerial(t *testing.T) {
	exp, tp := recorder(t)
	bus := newBus(t, "App", newTracer(t, tp), nil)
	abxbus.On(bus, func(ctx context.Context, w Work) (int, error) { return w.N * 2, nil }, abxbus.WithName("double"))
	abxbus.On(bus, func(ctx context.Context, w Work) (int, error) {
		c, err := abxbus.EmitChildOf(ctx, Child{Of: w.N}) // a linked child that jumps the queue
		if err != nil {
			return 0, err
		}
		if err := c.Now(ctx); err != nil {
			return 0, err
		}
		s, err := c.Result(ctx)
		return len(s), err
	}, abxbus.WithName("picky"))
	abxbus.On(bus, func(ctx context.Context, w Work) (int, error) { return 0, errors.New("boom") }, abxbus.WithName("failing"))
	abxbus.On(bus, func(ctx context.Context, c Child) (string, error) {
		// The handler's context carries its span: spans it starts are its children.
		_, s := tp.Tracer("user").Start(ctx, "user-work")
		s.End()
		return strings.Repeat("x", c.Of), nil
	}, abxbus.WithName("child"))

	ctx, root := tp.Tracer("test").Start(context.Background(), "request")
	e, _ := abxbus.Emit(ctx, bus, Work{N: 3})
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	root.End()
	spans := exp.GetSpans()
	checkTree(t, spans, `
request
  Work@App
    double
    picky
      Child@App
        child
          user-work
    failing [Error: boom]
`)
	ev, failing, child := span(t, spans, "Work", "App"), span(t, spans, "failing", ""), span(t, spans, "Child", "App")
	if attr(ev, "abxbus.event.id") != e.ID().String() || attr(ev, "abxbus.event.type") != "Work" ||
		attr(ev, "abxbus.eventbus.id") != bus.ID().String() || attr(ev, "abxbus.event.status") != "completed" ||
		attr(ev, "abxbus.event.handler_errors") != "1" {
		t.Errorf("event span attributes: %v", ev.Attributes)
	}
	if attr(child, "abxbus.event.parent_id") != e.ID().String() || attr(child, "abxbus.event.emitted_by_handler_id") == "" {
		t.Errorf("child event span attributes: %v", child.Attributes)
	}
	if len(failing.Events) != 1 || failing.Events[0].Name != "exception" || attr(failing, "abxbus.event_result.status") != "error" {
		t.Errorf("failing handler span: events %v attributes %v", failing.Events, failing.Attributes)
	}
	var h *abxbus.EventResult
	for _, r := range e.EventResults() {
		if r.HandlerName() == "failing" {
			h = r
		}
	}
	if attr(failing, "abxbus.event_result.id") != h.ID().String() || attr(failing, "abxbus.handler.id") != h.Handler().ID().String() {
		t.Errorf("handler span ids: %v", failing.Attributes)
	}
	checkTimes(t, spans)
}

// checkTimes: no span ends before it starts or starts before its parent.
func checkTimes(t *testing.T, spans tracetest.SpanStubs) {
	t.Helper()
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
	}
	for _, s := range spans {
		if s.EndTime.Before(s.StartTime) {
			t.Errorf("%s ends before it starts", s.Name)
		}
		if p, ok := byID[s.Parent.SpanID()]; ok && s.StartTime.Before(p.StartTime) {
			t.Errorf("%s starts %v before its parent %s", s.Name, p.StartTime.Sub(s.StartTime), p.Name)
		}
	}
}

// TestSpanTreeParallel: parallel handlers each get a span under the event span; children they emit
// (fire-and-forget and awaited) are under the handler that emitted them.
func TestSpanTreeParallel(t *testing.T) {
	exp, tp := recorder(t)
	bus := newBus(t, "Par", newTracer(t, tp), &abxbus.Options{HandlerConcurrency: abxbus.HandlersParallel, EventConcurrency: abxbus.Parallel})
	for _, name := range []string{"p1", "p2", "p3"} {
		abxbus.On(bus, func(ctx context.Context, w Work) (int, error) {
			if name == "p2" {
				c, err := abxbus.EmitChildOf(ctx, Child{Of: 1})
				if err != nil {
					return 0, err
				}
				return 0, c.Now(ctx)
			}
			time.Sleep(5 * time.Millisecond)
			return 1, nil
		}, abxbus.WithName(name))
	}
	abxbus.On(bus, func(ctx context.Context, c Child) (string, error) { return "c", nil }, abxbus.WithName("child"))
	e, _ := abxbus.Emit(context.Background(), bus, Work{N: 1})
	if err := e.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	ev := span(t, spans, "Work", "Par")
	kids := []string{}
	for _, s := range spans {
		if s.Parent.SpanID() == ev.SpanContext.SpanID() {
			kids = append(kids, s.Name)
		}
	}
	slices.Sort(kids)
	if !slices.Equal(kids, []string{"p1", "p2", "p3"}) {
		t.Fatalf("children of the event span: %v\n%s", kids, tree(spans))
	}
	if c := span(t, spans, "Child", "Par"); c.Parent.SpanID() != span(t, spans, "p2", "").SpanContext.SpanID() {
		t.Fatalf("Child is not under p2:\n%s", tree(spans))
	}
	if len(spans) != 6 {
		t.Fatalf("%d spans:\n%s", len(spans), tree(spans))
	}
}

// TestSpanTreeForwarded: an event forwarded from bus A to bus B has its B span under A's forwarding
// handler span; a child emitted by a handler on B is under that handler, also when it is forwarded
// back to A.
func TestSpanTreeForwarded(t *testing.T) {
	exp, tp := recorder(t)
	tr := newTracer(t, tp)
	a := newBus(t, "A", tr, nil)
	b := newBus(t, "B", tr, nil)
	abxbus.On(a, func(ctx context.Context, w Work) (int, error) { return 1, nil }, abxbus.WithName("a1"))
	a.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return b.Emit(ctx, e) }, abxbus.WithName("to_b"))
	abxbus.On(b, func(ctx context.Context, w Work) (int, error) {
		s, err := abxbus.Call(ctx, b, Child{Of: 2})
		return len(s), err
	}, abxbus.WithName("b1"))
	abxbus.On(b, func(ctx context.Context, c Child) (string, error) { return "cc", nil }, abxbus.WithName("child"))
	abxbus.On(a, func(ctx context.Context, c Child) (string, error) { return "ca", nil }, abxbus.WithName("child_on_a"))
	b.OnType("Child", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return a.Emit(ctx, e) }, abxbus.WithName("to_a"))

	e, _ := abxbus.Emit(context.Background(), a, Work{N: 1})
	if err := e.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkTimes(t, exp.GetSpans())
	checkTree(t, exp.GetSpans(), `
Work@A
  a1
  to_b
    Work@B
      b1
        Child@B
          child
          to_a
            Child@A
              child_on_a
              to_b
`)
}

// TestSpanTreePerBusTracers: with a Tracer per bus, a forwarded event's span on the second bus is
// under its span on the first, through the trace context the event carries.
func TestSpanTreePerBusTracers(t *testing.T) {
	exp, tp := recorder(t)
	a := newBus(t, "A", newTracer(t, tp), nil)
	b := newBus(t, "B", newTracer(t, tp), nil)
	a.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return b.Emit(ctx, e) }, abxbus.WithName("to_b"))
	abxbus.On(b, func(ctx context.Context, w Work) (int, error) { return 1, nil }, abxbus.WithName("b1"))
	e, _ := abxbus.Emit(context.Background(), a, Work{N: 1})
	if err := e.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkTree(t, exp.GetSpans(), `
Work@A
  to_b
  Work@B
    b1
`)
}

// TestTimeoutAndCancelled: a timed-out handler's span has status Error; a handler cancelled before it
// ran has no span, and its cancellation is a span event on the event span.
func TestTimeoutAndCancelled(t *testing.T) {
	exp, tp := recorder(t)
	bus := newBus(t, "T", newTracer(t, tp), nil)
	abxbus.On(bus, func(ctx context.Context, w Work) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}, abxbus.WithName("slow"))
	abxbus.On(bus, func(ctx context.Context, w Work) (int, error) { return 1, nil }, abxbus.WithName("never"))
	e, _ := abxbus.EmitWith(context.Background(), bus, Work{N: 1}, abxbus.EventOptions{Timeout: 30 * time.Millisecond})
	_ = e.Wait(context.Background())
	spans := exp.GetSpans()
	got := tree(spans)
	if !strings.HasPrefix(got, "Work@T {abxbus.handler.cancelled}\n  slow [Error: ") || strings.Count(got, "\n") != 2 {
		t.Fatalf("span tree:\n%s", got)
	}
	ev := span(t, spans, "Work", "T")
	if attr(ev, "abxbus.event.handler_errors") != "2" {
		t.Errorf("handler_errors = %s", attr(ev, "abxbus.event.handler_errors"))
	}
}

// TestNoopProviderCarriesNothing: with the global (no-op) provider there is nothing to propagate, and
// events keep no wire keys.
func TestNoopProviderCarriesNothing(t *testing.T) {
	tr, err := abxotel.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	bus := newBus(t, "Noop", tr, nil)
	abxbus.On(bus, func(ctx context.Context, w Work) (int, error) { return 1, nil })
	e, _ := abxbus.Emit(context.Background(), bus, Work{N: 1})
	e.Wait(context.Background())
	if e.Base().WireKey("traceparent") != nil {
		t.Fatal("a no-op span was propagated")
	}
}

// TestStateReleased: after every event completed, on every bus, the Tracer holds no state (no growth
// with the number of events).
func TestStateReleased(t *testing.T) {
	_, tp := recorder(t)
	tr := newTracer(t, tp)
	a := newBus(t, "A", tr, &abxbus.Options{HandlerConcurrency: abxbus.HandlersParallel})
	b := newBus(t, "B", tr, nil)
	a.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return b.Emit(ctx, e) })
	abxbus.On(a, func(ctx context.Context, w Work) (int, error) {
		if w.N%3 == 0 {
			return 0, errors.New("x")
		}
		return w.N, nil
	})
	abxbus.On(b, func(ctx context.Context, w Work) (int, error) {
		_, err := abxbus.Call(ctx, b, Child{Of: w.N})
		return 0, err
	})
	abxbus.On(b, func(ctx context.Context, c Child) (string, error) { return "", nil })
	var evs []*abxbus.Event[Work, int]
	for i := range 200 {
		e, _ := abxbus.Emit(context.Background(), a, Work{N: i})
		evs = append(evs, e)
	}
	for _, e := range evs {
		e.Wait(context.Background())
	}
	b.WaitUntilIdle(context.Background())
	for _, ev := range b.History() {
		ev.Wait(context.Background())
	}
	if ne, nr := tr.Tracked(); ne != 0 || nr != 0 {
		t.Fatalf("after completion the Tracer holds %d event states and %d handler spans", ne, nr)
	}
}
