package abxbus

import (
	"context"
	"fmt"
	"runtime/debug"
)

// Middleware is a value that observes or extends a bus through one or more of the hook interfaces
// below: EventChangeHook, ResultChangeHook, HandlersChangeHook and HandlerContextHook. A middleware
// implements only the hooks it needs; the bus calls no other. Middlewares are given to a bus, in order,
// with Options.Middlewares; New resolves each into the hooks it implements once, and refuses (with an
// error matching ErrInvalidOption) a nil entry or a value that implements none of them.
//
// # When hooks are called
//
// Lifecycle phases are the event statuses EventPending, EventStarted and EventCompleted, for events and
// for results alike. There is no error phase: a handler's failure is visible on the result
// (EventResult.Status is ResultError, EventResult.Err the error) when its EventCompleted hook runs.
//
//   - Event, per bus: EventPending when the bus accepts the event (Emit, forwarding), EventStarted when
//     the bus begins processing it, EventCompleted when the event is complete (every bus it reached is
//     done with it and its blocking children are complete). Each bus that accepted an event reports the
//     three phases once each, in this order, for the buses' own middlewares: an event forwarded from bus
//     A to bus B is reported pending, started, completed by A's middlewares about A and by B's about B;
//     both report completed when the event is complete, A before B (the order the event reached them).
//   - Result: EventPending when the bus creates the result as it begins the event, EventStarted just
//     before the handler is called, EventCompleted when the result is final (returned, failed, timed
//     out, aborted, cancelled). A handler that never started (cancelled by a timeout, a first-completion
//     win or Destroy while pending) goes from EventPending straight to EventCompleted. A result row
//     recorded before the bus ran the event (UpdateResult, a restored bus) is reported only if the bus
//     runs its handler again; UpdateResult itself calls no hook.
//   - Handlers: OnBusHandlersChange(bus, h, true) after a new registration (On, OnType and the typed
//     registrations; not for a registration that returned an existing handler), false after Off, OffID
//     or OffPattern removed it. Destroy does not report the handlers it drops.
//
// # How hooks are called
//
// Synchronously, in Options.Middlewares order, with no lock of the bus or of the event held: a hook may
// read the event and its results, emit events, register handlers and call any method of the bus. The
// hooks about one event (its event and result hooks, on every bus) are called one at a time, in the
// order the changes happened, normally on the goroutine that made the change; when that goroutine
// finds hooks of the same event already being called on another goroutine (parallel handlers, a
// timeout firing), it leaves its calls to that goroutine, which makes them next, in order. The
// completion of an event is signalled (Now, Wait, Done, result accessors return) only after its
// EventCompleted hooks returned, so after Now a hook's effects are visible. Hooks of different events
// may run concurrently: a middleware with state of its own must be safe for concurrent use.
//
// A hook blocks the work that made the change (the handler that follows, the bus dispatcher), so keep
// hooks short: hand slow work to another goroutine. A hook must return: runtime.Goexit (t.FailNow) in a
// hook stops the delivery of that event's later hooks and its completion signal. A hook must not wait for the completion of the
// event it is called about (its own EventCompleted hook comes after it), and on a bus-serial bus it must
// not wait for another event of the same bus while the current one holds the bus: emit fire-and-forget
// (the event queues behind the current one). A hook that panics is recovered and logged through the
// bus's logger (Options.Logger) with its stack; the bus, the event and the other middlewares go on.
//
// # Cost
//
// A bus without middlewares pays one nil check per lifecycle step: no allocation, no interface call.
// With lifecycle hooks configured, an event costs one extra allocation for its hook queue, plus the
// calls themselves (one deferred recover each).
type Middleware interface{}

// EventChangeHook is the event lifecycle hook of a Middleware: OnEventChange is called with
// EventPending, EventStarted and EventCompleted, once each and in this order, for every event the bus
// accepts (see Middleware for when and how).
type EventChangeHook interface {
	OnEventChange(bus *Bus, e *BaseEvent, phase EventStatus)
}

// ResultChangeHook is the handler result lifecycle hook of a Middleware: OnEventResultChange is called
// with EventPending, EventStarted and EventCompleted, once each and in this order, for every result the
// bus creates (a result whose handler never started skips EventStarted). Errors are seen on the result
// during EventCompleted (see Middleware).
type ResultChangeHook interface {
	OnEventResultChange(bus *Bus, e *BaseEvent, r *EventResult, phase EventStatus)
}

// HandlersChangeHook is the registration hook of a Middleware: OnBusHandlersChange is called with
// registered true after a handler is registered on the bus and false after it is unregistered, on the
// goroutine that called On or Off, after the registration change is in effect (see Middleware).
type HandlersChangeHook interface {
	OnBusHandlersChange(bus *Bus, h *Handler, registered bool)
}

// HandlerContextHook lets a Middleware derive the context a handler receives. HandlerContext is called
// on the handler's goroutine just before each handler call, after that result's EventStarted hooks
// (when no other goroutine is still delivering hooks of the event: see Middleware), with ctx the
// context the handler would get; it returns the context to use instead, which must be derived from ctx
// (context.WithValue and the like; returning nil keeps ctx). Middlewares are applied in order, each to
// the previous one's result. The handler's cancellation, deadline and values, and the lineage of child
// events emitted through the derived context, are those of ctx: a tracing middleware puts its span
// into the context and every child event and user call made with it sees the span.
//
// A panic in HandlerContext is recovered and logged; the handler then runs with the context as it was
// before that middleware.
type HandlerContextHook interface {
	HandlerContext(ctx context.Context, bus *Bus, e *BaseEvent, r *EventResult) context.Context
}

// busHooks is a bus's middlewares resolved by hook; nil on a bus without middlewares.
type busHooks struct {
	event    []EventChangeHook
	result   []ResultChangeHook
	handlers []HandlersChangeHook
	ctx      []HandlerContextHook
}

// resolveMiddlewares sorts the middlewares into per-hook lists; nil when there are none.
func resolveMiddlewares(list []Middleware) (*busHooks, error) {
	if len(list) == 0 {
		return nil, nil
	}
	h := &busHooks{}
	for i, m := range list {
		if m == nil {
			return nil, fmt.Errorf("%w: Options.Middlewares[%d] is nil", ErrInvalidOption, i)
		}
		some := false
		if x, ok := m.(EventChangeHook); ok {
			h.event, some = append(h.event, x), true
		}
		if x, ok := m.(ResultChangeHook); ok {
			h.result, some = append(h.result, x), true
		}
		if x, ok := m.(HandlersChangeHook); ok {
			h.handlers, some = append(h.handlers, x), true
		}
		if x, ok := m.(HandlerContextHook); ok {
			h.ctx, some = append(h.ctx, x), true
		}
		if !some {
			return nil, fmt.Errorf("%w: Options.Middlewares[%d] (%T) implements none of OnEventChange, OnEventResultChange, OnBusHandlersChange, HandlerContext", ErrInvalidOption, i, m)
		}
	}
	return h, nil
}

// hookNote is one lifecycle change waiting for its hooks: of the event on bus (res nil), or of res.
// A note with wake set wakes the event's waiters instead (completion is signalled after its hooks).
type hookNote struct {
	bus   *Bus
	res   *EventResult
	phase evStatus
	wake  bool
}

// eventHooks is an event's hook queue (guarded by the event's mu): the changes not yet delivered, in the
// order they happened, whether a goroutine is delivering them, and how many of the event's buses
// reported completion.
type eventHooks struct {
	buf       [4]hookNote // the queue's first backing array: enough for the common event
	q         []hookNote
	head      int
	busy      bool
	completed int // e.buses.get()[:completed] have had their completion noted
	// signalling: the event completed and its waiters are not woken yet (the wake note is on its way);
	// waits that start meanwhile wait for it too.
	signalling bool
}

// extraWithHooks is the event's extra state and its hook queue in one allocation.
type extraWithHooks struct {
	x  eventExtra
	hk eventHooks
}

// hooksLocked returns the event's hook queue, creating it (with the extra state when there is none
// yet: one allocation); e.mu held.
func (e *BaseEvent) hooksLocked() *eventHooks {
	if e.x == nil {
		both := &extraWithHooks{}
		e.x = &both.x
		e.x.hooks = &both.hk
	} else if e.x.hooks == nil {
		e.x.hooks = &eventHooks{}
	} else {
		return e.x.hooks
	}
	e.x.hooks.q = e.x.hooks.buf[:0]
	return e.x.hooks
}

// noteEventLocked queues the event-level phase on b for b's middlewares; e.mu held.
func (e *BaseEvent) noteEventLocked(b *Bus, phase evStatus) {
	if b.hooks == nil || len(b.hooks.event) == 0 {
		return
	}
	hk := e.hooksLocked()
	hk.q = append(hk.q, hookNote{bus: b, phase: phase})
}

// noteResultLocked queues the phase of res for its bus's middlewares; e.mu held.
func (e *BaseEvent) noteResultLocked(res *EventResult, phase evStatus) {
	b := res.bus
	if b == nil || b.hooks == nil || len(b.hooks.result) == 0 {
		return
	}
	hk := e.hooksLocked()
	hk.q = append(hk.q, hookNote{bus: b, res: res, phase: phase})
}

// flushHooks delivers the queued notes unless another goroutine is delivering them (it then delivers
// these too, in order). Callers call it after releasing e.mu, when the bus they changed has hooks.
func (e *BaseEvent) flushHooks() {
	e.mu.Lock()
	hk := e.xr().hooks
	if hk == nil || hk.busy || hk.head == len(hk.q) {
		e.mu.Unlock()
		return
	}
	hk.busy = true
	for hk.head < len(hk.q) {
		n := hk.q[hk.head]
		hk.q[hk.head] = hookNote{}
		hk.head++
		if hk.head == len(hk.q) {
			hk.q, hk.head = hk.q[:0], 0
		}
		e.mu.Unlock()
		e.deliver(n)
		e.mu.Lock()
	}
	hk.busy = false
	e.mu.Unlock()
}

// deliver calls the hooks of one note, in middleware order.
func (e *BaseEvent) deliver(n hookNote) {
	if n.wake {
		e.mu.Lock()
		e.x.hooks.signalling = false
		wake, w := e.takeWakeLocked()
		e.mu.Unlock()
		wakeWaiters(wake, w)
		return
	}
	b, phase := n.bus, n.phase.public()
	if n.res == nil {
		for _, m := range b.hooks.event {
			callEventHook(b, m, e, phase)
		}
		return
	}
	for _, m := range b.hooks.result {
		callResultHook(b, m, e, n.res, phase)
	}
}

func callEventHook(b *Bus, m EventChangeHook, e *BaseEvent, phase EventStatus) {
	defer b.recoverHook(m, "OnEventChange")
	m.OnEventChange(b, e, phase)
}

func callResultHook(b *Bus, m ResultChangeHook, e *BaseEvent, r *EventResult, phase EventStatus) {
	defer b.recoverHook(m, "OnEventResultChange")
	m.OnEventResultChange(b, e, r, phase)
}

func callHandlersHook(b *Bus, m HandlersChangeHook, h *Handler, registered bool) {
	defer b.recoverHook(m, "OnBusHandlersChange")
	m.OnBusHandlersChange(b, h, registered)
}

// recoverHook logs a panicking hook through the bus logger.
func (b *Bus) recoverHook(m any, hook string) {
	if p := recover(); p != nil {
		b.logger.Error("[abxbus] middleware hook panicked (recovered)", "bus", b.label,
			"middleware", fmt.Sprintf("%T", m), "hook", hook, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	}
}

// handlersChanged calls the registration hooks (no lock held).
func (b *Bus) handlersChanged(registered bool, hs ...*Handler) {
	for _, h := range hs {
		for _, m := range b.hooks.handlers {
			callHandlersHook(b, m, h, registered)
		}
	}
}

// handlerContext applies the HandlerContext hooks of the result's bus to ctx.
func (r *run) handlerContext(ctx context.Context, res *EventResult) context.Context {
	for _, m := range r.bus.hooks.ctx {
		ctx = deriveContext(r.bus, m, ctx, r.ev, res)
	}
	return ctx
}

func deriveContext(b *Bus, m HandlerContextHook, ctx context.Context, e *BaseEvent, res *EventResult) (out context.Context) {
	out = ctx
	defer b.recoverHook(m, "HandlerContext")
	if c := m.HandlerContext(ctx, b, e, res); c != nil {
		out = c
	}
	return out
}

// noteCompletedLocked queues the completion of e on each bus that accepted it and has not reported it
// yet; e.mu held. It reports whether any note was queued.
func (e *BaseEvent) noteCompletedLocked() bool {
	hk := e.xr().hooks
	start := 0
	if hk != nil {
		start = hk.completed
	}
	queued := false
	for _, b := range e.buses.get()[min(start, len(e.buses.get())):] {
		if b.hooks != nil && len(b.hooks.event) > 0 {
			e.noteEventLocked(b, evCompleted)
			queued = true
		}
	}
	if queued || hk != nil {
		e.hooksLocked().completed = len(e.buses.get())
	}
	return queued
}
