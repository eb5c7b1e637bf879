package abxbus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Middleware hooks (spec §26, F232-F235): lifecycle order per event and per result, on every kind of
// event the engine runs, and what a hook may do.

// hookLog is a middleware implementing the three lifecycle hooks. It records, per event, every hook
// call in the order it was made, and checks in each call that the bus and the event are usable (no
// lock held): it reads the event's JSON, the bus history and the handlers.
type hookLog struct {
	t  *testing.T
	mu sync.Mutex
	// per event id: "bus:phase" for event hooks, "bus:handler:phase:resultStatus" for result hooks
	seq      map[abxbus.ID][]string
	handlers []string
	results  map[abxbus.ID]*abxbus.EventResult
}

func newHookLog(t *testing.T) *hookLog {
	return &hookLog{t: t, seq: map[abxbus.ID][]string{}, results: map[abxbus.ID]*abxbus.EventResult{}}
}

func (h *hookLog) touch(b *abxbus.Bus, e *abxbus.BaseEvent) {
	if _, err := e.ToJSON(); err != nil {
		h.t.Errorf("ToJSON in a hook: %v", err)
	}
	_ = b.History()
	_ = b.Handlers()
	_ = e.Results()
}

func (h *hookLog) OnEventChange(b *abxbus.Bus, e *abxbus.BaseEvent, phase abxbus.EventStatus) {
	h.touch(b, e)
	if phase == abxbus.EventCompleted && e.Status() != abxbus.EventCompleted {
		h.t.Errorf("%s: completed hook on %s while the event is %s", e, b, e.Status())
	}
	h.mu.Lock()
	h.seq[e.ID()] = append(h.seq[e.ID()], b.Name()+":"+string(phase))
	h.mu.Unlock()
}

func (h *hookLog) OnEventResultChange(b *abxbus.Bus, e *abxbus.BaseEvent, r *abxbus.EventResult, phase abxbus.EventStatus) {
	h.touch(b, e)
	st := r.Status()
	switch phase {
	case abxbus.EventCompleted:
		if st != abxbus.ResultCompleted && st != abxbus.ResultError {
			h.t.Errorf("%s: result %s completed hook with status %s", e, r.HandlerName(), st)
		}
		if st == abxbus.ResultError && r.Err() == nil {
			h.t.Errorf("%s: result %s has status error and no error during its completed hook", e, r.HandlerName())
		}
	case abxbus.EventStarted:
		if st == abxbus.ResultPending {
			h.t.Errorf("%s: result %s started hook with status pending", e, r.HandlerName())
		}
	}
	h.mu.Lock()
	h.seq[e.ID()] = append(h.seq[e.ID()], b.Name()+":"+r.HandlerName()+":"+string(phase))
	h.results[r.ID()] = r
	h.mu.Unlock()
}

func (h *hookLog) OnBusHandlersChange(b *abxbus.Bus, hd *abxbus.Handler, registered bool) {
	_ = b.Handlers()
	h.mu.Lock()
	h.handlers = append(h.handlers, fmt.Sprintf("%s:%s:%v", b.Name(), hd.Name(), registered))
	h.mu.Unlock()
}

func (h *hookLog) get(id abxbus.ID) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.seq[id])
}

// check asserts the hook sequence of e: on each bus of its path, event pending, started, completed once
// each and in order; each result pending, started (when its handler started), completed once each and
// in order, between its bus's event started and event completed.
func (h *hookLog) check(t *testing.T, e *abxbus.BaseEvent, buses ...*abxbus.Bus) {
	t.Helper()
	seq := h.get(e.ID())
	at := func(s string) int {
		i := slices.Index(seq, s)
		if i < 0 {
			t.Errorf("%s: hook %q missing; got %q", e, s, seq)
		} else if slices.Index(seq[i+1:], s) >= 0 {
			t.Errorf("%s: hook %q called twice; got %q", e, s, seq)
		}
		return i
	}
	want := 0
	for _, b := range buses {
		p, s, c := at(b.Name()+":pending"), at(b.Name()+":started"), at(b.Name()+":completed")
		if !(p < s && s < c) {
			t.Errorf("%s on %s: event hooks out of order: %q", e, b, seq)
		}
		want += 3
		for _, r := range e.Results() {
			if r.Bus() != b {
				continue
			}
			pre := b.Name() + ":" + r.HandlerName() + ":"
			rp, rc := at(pre+"pending"), at(pre+"completed")
			want += 2
			if !(s < rp && rp < rc && rc < c) {
				t.Errorf("%s on %s: result %s hooks out of order: %q", e, b, r.HandlerName(), seq)
			}
			if r.StartedAt().IsZero() {
				if slices.Contains(seq, pre+"started") {
					t.Errorf("%s: result %s never started but its started hook ran: %q", e, r.HandlerName(), seq)
				}
				continue
			}
			rs := at(pre + "started")
			want++
			if !(rp < rs && rs < rc) {
				t.Errorf("%s on %s: result %s hooks out of order: %q", e, b, r.HandlerName(), seq)
			}
		}
	}
	if len(seq) != want {
		t.Errorf("%s: %d hook calls, want %d: %q", e, len(seq), want, seq)
	}
}

func hookedBus(t *testing.T, name string, h *hookLog, opts *abxbus.Options) *abxbus.Bus {
	t.Helper()
	if opts == nil {
		opts = &abxbus.Options{}
	}
	opts.Middlewares = append(opts.Middlewares, h)
	return newBus(t, name, opts)
}

func TestF232HookOrderSerial(t *testing.T) {
	ctx := tctx(t)
	h := newHookLog(t)
	b := hookedBus(t, "Serial", h, nil)
	for _, name := range []string{"one", "two"} {
		must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) {
			if name == "two" {
				return 0, errors.New("boom")
			}
			return p.N, nil
		}, abxbus.WithName(name)))
	}
	var evs []*abxbus.BaseEvent
	for i := range 5 {
		evs = append(evs, must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{N: i})).Base())
	}
	for _, e := range evs {
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		h.check(t, e, b) // right after Wait: the completion hooks ran before completion was signalled
	}
}

func TestF232HookOrderParallel(t *testing.T) {
	ctx := tctx(t)
	h := newHookLog(t)
	b := hookedBus(t, "Parallel", h, &abxbus.Options{EventConcurrency: abxbus.Parallel, HandlerConcurrency: abxbus.HandlersParallel})
	for _, name := range []string{"a", "b", "c", "d"} {
		must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) {
			if name == "c" {
				return 0, errors.New("c fails")
			}
			return p.N, nil
		}, abxbus.WithName(name)))
	}
	var evs []*abxbus.BaseEvent
	for i := range 50 {
		evs = append(evs, must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{N: i})).Base())
	}
	for _, e := range evs {
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		h.check(t, e, b)
	}
}

func TestF232HookOrderQueueJump(t *testing.T) {
	ctx := tctx(t)
	h := newHookLog(t)
	b := hookedBus(t, "Jump", h, nil)
	var kid *abxbus.BaseEvent
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Parent) (string, error) {
		c, err := abxbus.EmitChild(ctx, abxbus.NewEvent(Kid{N: 1}).Base())
		if err != nil {
			return "", err
		}
		kid = c
		if err := c.Now(ctx); err != nil {
			return "", err
		}
		return "done", nil
	}, abxbus.WithName("parent")))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, k Kid) (int, error) { return k.N, nil }, abxbus.WithName("kid")))
	// a queued event behind the parent: the child jumps ahead of it
	e := must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctx, b, Parent{Name: "p"})).Base()
	later := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{})).Base()
	if err := e.Now(ctx); err != nil {
		t.Fatal(err)
	}
	if err := later.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	h.check(t, e, b)
	h.check(t, kid, b)
	h.check(t, later, b)
}

func TestF232HookOrderForwarded(t *testing.T) {
	ctx := tctx(t)
	h := newHookLog(t)
	a := hookedBus(t, "A", h, nil)
	c := hookedBus(t, "B", h, nil)
	fwdTo(t, a, c)
	must[*abxbus.Handler](t)(abxbus.On(c, func(ctx context.Context, p Ping) (int, error) { return p.N, nil }, abxbus.WithName("onB")))
	var evs []*abxbus.BaseEvent
	for i := range 10 {
		evs = append(evs, must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, a, Ping{N: i})).Base())
	}
	for _, e := range evs {
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		h.check(t, e, a, c)
		seq := h.get(e.ID())
		// both buses report completion once the event is complete, in path order
		if slices.Index(seq, "A:completed") > slices.Index(seq, "B:completed") {
			t.Errorf("%s: completion reported by B before A: %q", e, seq)
		}
	}
}

func TestF232HookOrderTimedOut(t *testing.T) {
	ctx := tctx(t)
	h := newHookLog(t)
	b := hookedBus(t, "Timeout", h, nil)
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}, abxbus.WithName("stuck")))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return 1, nil }, abxbus.WithName("never")))
	e := abxbus.NewEvent(Ping{})
	if err := e.Base().SetOptions(abxbus.EventOptions{Timeout: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Emit(ctx, e.Base()); err != nil {
		t.Fatal(err)
	}
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	h.check(t, e.Base(), b)
	for _, r := range e.Base().Results() {
		if r.Status() != abxbus.ResultError {
			t.Errorf("%s: %s", r.HandlerName(), r.Status())
		}
	}
	// a handler's own timeout
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, k Kid) (int, error) {
		<-ctx.Done()
		return 0, nil
	}, abxbus.WithName("slowkid"), abxbus.WithHandlerTimeout(10*time.Millisecond)))
	k := must[*abxbus.Event[Kid, int]](t)(abxbus.Emit(ctx, b, Kid{}))
	if err := k.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	h.check(t, k.Base(), b)
}

func TestF232HookOrderFirstCompletion(t *testing.T) {
	ctx := tctx(t)
	h := newHookLog(t)
	for _, hc := range []abxbus.HandlerConcurrency{abxbus.HandlersParallel, abxbus.HandlersSerial} {
		b := hookedBus(t, "First", h, &abxbus.Options{Completion: abxbus.CompleteFirst, HandlerConcurrency: hc})
		must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return 7, nil }, abxbus.WithName("fast")))
		for _, name := range []string{"loser1", "loser2"} {
			must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) {
				<-ctx.Done()
				return 0, ctx.Err()
			}, abxbus.WithName(name)))
		}
		for range 5 {
			e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{}))
			if v, err := e.Result(ctx); err != nil || v != 7 {
				t.Fatalf("Result = %v, %v", v, err)
			}
			h.check(t, e.Base(), b)
		}
	}
}

func TestF234HandlerHooks(t *testing.T) {
	h := newHookLog(t)
	b := hookedBus(t, "Reg", h, nil)
	one := must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return 0, nil }, abxbus.WithName("one")))
	// an identical registration returns the existing handler: no second report
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return 0, nil }, abxbus.WithName("one"), abxbus.WithHandlerID(one.ID().String())))
	two := must[*abxbus.Handler](t)(b.OnType("Kid", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil }, abxbus.WithName("two")))
	must[*abxbus.Handler](t)(b.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil }, abxbus.WithName("w1")))
	must[*abxbus.Handler](t)(b.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil }, abxbus.WithName("w2")))
	b.Off(one)
	b.Off(one) // not registered any more: no report
	b.OffID(two.ID())
	b.OffPattern("*")
	want := []string{"Reg:one:true", "Reg:two:true", "Reg:w1:true", "Reg:w2:true", "Reg:one:false", "Reg:two:false", "Reg:w1:false", "Reg:w2:false"}
	h.mu.Lock()
	got := slices.Clone(h.handlers)
	h.mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("handler hooks = %q, want %q", got, want)
	}
}

// onlyEvents implements one hook only: the others are not required.
type onlyEvents struct {
	mu sync.Mutex
	n  int
}

func (o *onlyEvents) OnEventChange(*abxbus.Bus, *abxbus.BaseEvent, abxbus.EventStatus) {
	o.mu.Lock()
	o.n++
	o.mu.Unlock()
}

func TestF234MiddlewareOptions(t *testing.T) {
	_, err := abxbus.New("Bad", &abxbus.Options{Middlewares: []abxbus.Middleware{struct{}{}}})
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "Middlewares[0] (struct {}) implements none") {
		t.Errorf("New with a non-middleware: %v", err)
	}
	_, err = abxbus.New("Bad", &abxbus.Options{Middlewares: []abxbus.Middleware{&onlyEvents{}, nil}})
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "Middlewares[1] is nil") {
		t.Errorf("New with a nil middleware: %v", err)
	}
	o := &onlyEvents{}
	b := newBus(t, "One", &abxbus.Options{Middlewares: []abxbus.Middleware{o}})
	ctx := tctx(t)
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return 0, nil }))
	if _, err := abxbus.Call(ctx, b, Ping{}); err != nil {
		t.Fatal(err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n != 3 {
		t.Errorf("%d event hook calls, want 3", o.n)
	}
}

// orderMW records its name in a shared trace: middlewares run in list order.
type orderMW struct {
	name  string
	trace *recorder
}

func (m orderMW) OnEventChange(b *abxbus.Bus, e *abxbus.BaseEvent, phase abxbus.EventStatus) {
	m.trace.add(m.name + ":" + string(phase))
}

// panicky panics in every hook.
type panicky struct{}

func (panicky) OnEventChange(*abxbus.Bus, *abxbus.BaseEvent, abxbus.EventStatus) { panic("event hook") }
func (panicky) OnEventResultChange(*abxbus.Bus, *abxbus.BaseEvent, *abxbus.EventResult, abxbus.EventStatus) {
	panic("result hook")
}
func (panicky) OnBusHandlersChange(*abxbus.Bus, *abxbus.Handler, bool) { panic("handlers hook") }
func (panicky) HandlerContext(context.Context, *abxbus.Bus, *abxbus.BaseEvent, *abxbus.EventResult) context.Context {
	panic("context hook")
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestF235OrderAndPanics(t *testing.T) {
	ctx := tctx(t)
	trace := &recorder{}
	var logs syncBuf
	b := newBus(t, "Panics", &abxbus.Options{
		Logger:      slog.New(slog.NewTextHandler(&logs, nil)),
		Middlewares: []abxbus.Middleware{orderMW{"first", trace}, panicky{}, orderMW{"second", trace}},
	})
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return p.N * 2, nil }))
	v, err := abxbus.Call(ctx, b, Ping{N: 21})
	if err != nil || v != 42 {
		t.Fatalf("Call with a panicking middleware = %v, %v", v, err)
	}
	want := []string{"first:pending", "second:pending", "first:started", "second:started", "first:completed", "second:completed"}
	if got := trace.get(); !slices.Equal(got, want) {
		t.Errorf("trace = %q, want %q", got, want)
	}
	out := logs.String()
	for _, hook := range []string{"OnEventChange", "OnEventResultChange", "OnBusHandlersChange", "HandlerContext"} {
		if !strings.Contains(out, "hook="+hook) {
			t.Errorf("no log of the %s panic in:\n%s", hook, out)
		}
	}
	if !strings.Contains(out, "middleware_test.go") {
		t.Errorf("the panic log has no stack:\n%s", out)
	}
}

// emitter emits a Side event from its hooks (fire and forget) on a bus-serial bus: the emitted event
// queues behind the current one.
type emitter struct {
	t *testing.T
}

func (m emitter) OnEventChange(b *abxbus.Bus, e *abxbus.BaseEvent, phase abxbus.EventStatus) {
	if phase != abxbus.EventCompleted || e.Type() != "Ping" {
		return
	}
	if _, err := abxbus.Emit(context.Background(), b, Side{Tag: "after"}); err != nil {
		m.t.Errorf("Emit in a hook: %v", err)
	}
}

func (m emitter) OnEventResultChange(b *abxbus.Bus, e *abxbus.BaseEvent, r *abxbus.EventResult, phase abxbus.EventStatus) {
	if phase != abxbus.EventStarted || e.Type() != "Ping" {
		return
	}
	if _, err := abxbus.Emit(context.Background(), b, Side{Tag: "during"}); err != nil {
		m.t.Errorf("Emit in a hook: %v", err)
	}
}

func TestF235HooksEmit(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "Emits", &abxbus.Options{Middlewares: []abxbus.Middleware{emitter{t}}})
	trace := &recorder{}
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { trace.add("ping"); return 0, nil }))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, s Side) (string, error) { trace.add(s.Tag); return "", nil }))
	for range 3 {
		if _, err := abxbus.Call(ctx, b, Ping{}); err != nil {
			t.Fatal(err)
		}
	}
	idle(t, b)
	got := trace.get()
	if len(got) != 9 || got[0] != "ping" {
		t.Errorf("trace = %q", got)
	}
	if n := b.HistoryLen(); n != 9 {
		t.Errorf("history holds %d events, want 9", n)
	}
}

// spanKey is a context key a HandlerContext middleware sets.
type spanKey struct{}

type spanMW struct{ tag string }

func (m spanMW) HandlerContext(ctx context.Context, b *abxbus.Bus, e *abxbus.BaseEvent, r *abxbus.EventResult) context.Context {
	prev, _ := ctx.Value(spanKey{}).(string)
	return context.WithValue(ctx, spanKey{}, prev+m.tag+"("+e.Type()+"/"+r.HandlerName()+")")
}

type nilCtxMW struct{}

func (nilCtxMW) HandlerContext(context.Context, *abxbus.Bus, *abxbus.BaseEvent, *abxbus.EventResult) context.Context {
	return nil
}

func TestF242HandlerContextHook(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "Ctx", &abxbus.Options{Middlewares: []abxbus.Middleware{spanMW{"a"}, nilCtxMW{}, spanMW{"b"}}})
	seen := &recorder{}
	var kidEv, bgEv *abxbus.BaseEvent
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Parent) (string, error) {
		seen.add("parent " + ctx.Value(spanKey{}).(string))
		// lineage through the derived context: a queue-jumped child and a background one
		k, err := abxbus.EmitChild(ctx, abxbus.NewEvent(Kid{N: 1}).Base())
		if err != nil {
			return "", err
		}
		kidEv = k
		if err := k.Now(ctx); err != nil {
			return "", err
		}
		bg, err := abxbus.EmitChild(ctx, abxbus.NewEvent(Side{Tag: "bg"}).Base())
		if err != nil {
			return "", err
		}
		bgEv = bg
		if _, ok := ctx.Deadline(); !ok {
			return "", errors.New("the derived context lost the handler deadline")
		}
		return "ok", nil
	}, abxbus.WithName("parent")))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, k Kid) (int, error) {
		seen.add("kid " + ctx.Value(spanKey{}).(string))
		return 1, nil
	}, abxbus.WithName("kid")))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, s Side) (string, error) { return "", nil }, abxbus.WithName("side")))
	e := must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctx, b, Parent{}))
	if v, err := e.Result(ctx); err != nil || v != "ok" {
		t.Fatalf("Result = %q, %v", v, err)
	}
	idle(t, b)
	// The child was emitted through the parent's derived context: its values flow into the child's
	// handler context, where the middlewares derive again (a span under the parent's span).
	want := []string{"parent a(Parent/parent)b(Parent/parent)", "kid a(Parent/parent)b(Parent/parent)a(Kid/kid)b(Kid/kid)"}
	if got := seen.get(); !slices.Equal(got, want) {
		t.Errorf("contexts seen = %q, want %q", got, want)
	}
	for _, c := range []*abxbus.BaseEvent{kidEv, bgEv} {
		if !c.IsChildOf(e.Base()) || c.ParentID() != e.ID() || c.EmittedByHandlerID() != e.Base().Results()[0].Handler().ID() {
			t.Errorf("%s lost its lineage through the derived context", c)
		}
	}
	if kids := e.Base().Results()[0].Children(); len(kids) != 2 {
		t.Errorf("the parent handler's result lists %d children, want 2", len(kids))
	}
}

func TestF232HookOrderDestroyQueued(t *testing.T) {
	ctx := tctx(t)
	h := newHookLog(t)
	b, err := abxbus.New("Doomed", &abxbus.Options{Middlewares: []abxbus.Middleware{h}})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) {
		if p.N == 0 {
			close(started)
			<-ctx.Done()
		}
		return p.N, nil
	}, abxbus.WithName("block")))
	var evs []*abxbus.BaseEvent
	for i := range 4 {
		evs = append(evs, must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{N: i})).Base())
	}
	<-started
	b.Destroy(false)
	for _, e := range evs {
		if err := e.Wait(ctx); err != nil && !errors.Is(err, abxbus.ErrBusDestroyed) {
			t.Fatal(err)
		}
		h.check(t, e, b)
	}
	if n := len(evs[0].Results()); n != 1 {
		t.Errorf("the running event has %d results", n)
	}
}

// forwarder forwards every event from its pending hook to another bus: a hook that changes the
// lifecycle of the event it is called about (its new bus's hooks queue behind the current one).
type forwarder struct {
	to *abxbus.Bus
	t  *testing.T
}

func (f forwarder) OnEventChange(b *abxbus.Bus, e *abxbus.BaseEvent, phase abxbus.EventStatus) {
	if phase == abxbus.EventPending {
		if _, err := f.to.Emit(context.Background(), e); err != nil {
			f.t.Errorf("forward from a hook: %v", err)
		}
	}
}

func TestF235HookForwards(t *testing.T) {
	ctx := tctx(t)
	h := newHookLog(t)
	b2 := hookedBus(t, "Two", h, nil)
	b1 := newBus(t, "One", &abxbus.Options{Middlewares: []abxbus.Middleware{h, forwarder{to: b2, t: t}}, EventConcurrency: abxbus.Parallel})
	for _, b := range []*abxbus.Bus{b1, b2} {
		must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return p.N, nil }, abxbus.WithName("on"+b.Name())))
	}
	var evs []*abxbus.BaseEvent
	for i := range 20 {
		evs = append(evs, must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b1, Ping{N: i})).Base())
	}
	for _, e := range evs {
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		h.check(t, e, b1, b2)
	}
}

// TestF233HookOrderStress runs many parallel events with parallel handlers, forwarding, timeouts and
// first-completion on several buses at once, and checks every sequence.
func TestF233HookOrderStress(t *testing.T) {
	ctx := tctx(t)
	h := newHookLog(t)
	a := hookedBus(t, "SA", h, &abxbus.Options{EventConcurrency: abxbus.Parallel, HandlerConcurrency: abxbus.HandlersParallel, MaxHistorySize: abxbus.Ptr(abxbus.UnlimitedHistory)})
	c := hookedBus(t, "SB", h, &abxbus.Options{HandlerConcurrency: abxbus.HandlersParallel, Completion: abxbus.CompleteFirst, MaxHistorySize: abxbus.Ptr(abxbus.UnlimitedHistory)})
	fwdTo(t, a, c)
	for i := range 3 {
		must[*abxbus.Handler](t)(abxbus.On(a, func(ctx context.Context, p Ping) (int, error) {
			if p.N%5 == i {
				return 0, errors.New("fails")
			}
			return p.N, nil
		}, abxbus.WithName(fmt.Sprint("a", i))))
		must[*abxbus.Handler](t)(abxbus.On(c, func(ctx context.Context, p Ping) (int, error) {
			if i > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(time.Duration(p.N%3) * time.Millisecond):
				}
			}
			return p.N + i, nil
		}, abxbus.WithName(fmt.Sprint("b", i)), abxbus.WithHandlerTimeout(time.Millisecond)))
	}
	var evs []*abxbus.BaseEvent
	for i := range 200 {
		evs = append(evs, must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, a, Ping{N: i})).Base())
	}
	for _, e := range evs {
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		h.check(t, e, a, c)
	}
}
