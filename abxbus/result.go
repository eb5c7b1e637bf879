package abxbus

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// ResultStatus is the lifecycle of one handler's result: pending -> started -> completed | error.
type ResultStatus string

const (
	ResultPending   ResultStatus = "pending"
	ResultStarted   ResultStatus = "started"
	ResultCompleted ResultStatus = "completed"
	ResultError     ResultStatus = "error"
)

// resStatus is ResultStatus as the result record keeps it (one byte, packed with the flags).
type resStatus uint8

const (
	rsPending resStatus = iota
	rsStarted
	rsCompleted
	rsError
	rsInvalid // only while decoding a row whose status is not one of the four
)

var resStatusNames = [...]ResultStatus{rsPending: ResultPending, rsStarted: ResultStarted, rsCompleted: ResultCompleted, rsError: ResultError, rsInvalid: ""}

func (s resStatus) public() ResultStatus { return resStatusNames[s] }

func (s resStatus) terminal() bool { return s == rsCompleted || s == rsError }

// parseResStatus maps a ResultStatus to its byte (rsInvalid for anything else).
func parseResStatus(s ResultStatus) resStatus {
	switch s {
	case ResultPending:
		return rsPending
	case ResultStarted:
		return rsStarted
	case ResultCompleted:
		return rsCompleted
	case ResultError:
		return rsError
	}
	return rsInvalid
}

// EventResult is the outcome of one handler for one event on one bus. Once it is terminal
// (completed or error) it never changes again: a handler that returns after its timeout, abort or
// cancellation does not alter it. All methods are safe for concurrent use. A nil *EventResult, or
// one that belongs to no event, returns zero values (Err: nil) and refuses Value and Update with an
// error wrapping ErrInvalidOption.
type EventResult struct {
	ev      *BaseEvent
	bus     *Bus
	handler *Handler
	run     *run

	// guarded by ev.mu
	id          ID
	status      resStatus
	null        bool // value represents JSON null
	ownDeadline bool // the deadline is the handler's own budget, not the event cap (D6)
	firstLoser  bool // stopped because another handler won a first-completion event (D12)
	value       any
	err         error
	startedAt   int64
	completedAt int64
	kids        *[]*BaseEvent             // linked children emitted from the handler, in emit order (nil: none)
	timeout     time.Duration             // effective handler budget (0: none of its own)
	deadline    int64                     // effective deadline, Unix ns (0: none)
	slowAt      int64                     // slow-warning time, Unix ns (0: none)
	waitOn      atomic.Pointer[BaseEvent] // the event the handler is blocked on in Now/Wait/Result (deadlock.go)
	wire        *resultWire               // set for rows decoded from JSON (bus, children and values as written)

	// handler context state, created when the handler first asks for Done or AfterFunc (or, shared and
	// immutable, when the context ends before anyone asked): most handlers never do.
	cx atomic.Pointer[resultCtx]
}

// resultCtx is the cancellation state of a handler's context (its own lock: Done/Err are called often
// by handlers).
type resultCtx struct {
	mu        sync.Mutex
	done      chan struct{}
	err       error
	after     []*afterFunc
	cancelled bool
	final     bool // cancelled before any state was needed: shared, immutable, done closed
}

// Context states of results whose context ended before the handler asked for it: no allocation.
var (
	ctxCanceled = &resultCtx{done: closedChan, err: context.Canceled, cancelled: true, final: true}
	ctxExpired  = &resultCtx{done: closedChan, err: context.DeadlineExceeded, cancelled: true, final: true}
)

// ctxState returns the result's context state, creating it on first use.
func (r *EventResult) ctxState() *resultCtx {
	if x := r.cx.Load(); x != nil {
		return x
	}
	n := &resultCtx{}
	if r.cx.CompareAndSwap(nil, n) {
		return n
	}
	return r.cx.Load()
}

// children returns the linked children emitted from the handler (ev.mu held).
func (r *EventResult) children() []*BaseEvent {
	if r.kids == nil {
		return nil
	}
	return *r.kids
}

// addChild records a linked child emitted from the handler (ev.mu held).
func (r *EventResult) addChild(c *BaseEvent) {
	if r.kids == nil {
		r.kids = new([]*BaseEvent)
	}
	*r.kids = append(*r.kids, c)
}

// ID returns the result id (UUIDv7).
func (r *EventResult) ID() ID {
	if r == nil {
		return ID{}
	}
	return r.id
}

// Event returns the event this result belongs to.
func (r *EventResult) Event() *BaseEvent {
	if r == nil {
		return nil
	}
	return r.ev
}

// Handler returns the handler that produced this result.
func (r *EventResult) Handler() *Handler {
	if r == nil {
		return nil
	}
	return r.handler
}

// HandlerName returns the handler's name.
func (r *EventResult) HandlerName() string {
	if r == nil || r.handler == nil {
		return ""
	}
	return r.handler.name
}

// Bus returns the bus on which the handler ran.
func (r *EventResult) Bus() *Bus {
	if r == nil {
		return nil
	}
	return r.bus
}

// BusName returns eventbus_name: the name of the bus the handler ran on (also for rows decoded from
// JSON, whose Bus is nil).
func (r *EventResult) BusName() string {
	if r == nil {
		return ""
	}
	if r.wire != nil {
		return r.wire.busName
	}
	if r.bus == nil {
		return ""
	}
	return r.bus.name
}

// busLabel is "Name#abcd" of the bus the row belongs to.
func (r *EventResult) busLabel() string {
	if r.wire != nil {
		return r.wire.busName + "#" + r.wire.busID.short()
	}
	if r.bus == nil {
		return "?"
	}
	return r.bus.label
}

// Status returns the result status.
func (r *EventResult) Status() ResultStatus {
	if r == nil || r.ev == nil {
		return ""
	}
	r.ev.mu.Lock()
	defer r.ev.mu.Unlock()
	return r.status.public()
}

// Value returns the handler's return value (nil while not completed, after an error, or for a null
// return) and its error.
func (r *EventResult) Value() (any, error) {
	if r == nil || r.ev == nil {
		return nil, errResultUnattached("Value")
	}
	r.ev.mu.Lock()
	defer r.ev.mu.Unlock()
	return r.value, r.err
}

// Err returns the recorded error, or nil.
func (r *EventResult) Err() error {
	if r == nil || r.ev == nil {
		return nil
	}
	r.ev.mu.Lock()
	defer r.ev.mu.Unlock()
	return r.err
}

// StartedAt and CompletedAt return the result timestamps (started_at, completed_at) in UTC, like the
// event's (see BaseEvent.CreatedAt); the zero Time when not reached.
func (r *EventResult) StartedAt() time.Time {
	if r == nil || r.ev == nil {
		return time.Time{}
	}
	r.ev.mu.Lock()
	defer r.ev.mu.Unlock()
	return nsTime(r.startedAt)
}

func (r *EventResult) CompletedAt() time.Time {
	if r == nil || r.ev == nil {
		return time.Time{}
	}
	r.ev.mu.Lock()
	defer r.ev.mu.Unlock()
	return nsTime(r.completedAt)
}

// Children returns the linked children emitted from this handler execution.
func (r *EventResult) Children() []*BaseEvent {
	if r == nil || r.ev == nil {
		return nil
	}
	r.ev.mu.Lock()
	defer r.ev.mu.Unlock()
	return slices.Clone(r.children())
}

// LogValue makes a result a compact log/slog group: handler (name), id, status, event (its `Type#abcd`
// label), bus (label) and error (its message, when the handler failed); never the value. A nil result,
// or one that belongs to no event, logs as "<nil>". Safe for concurrent use.
func (r *EventResult) LogValue() slog.Value {
	if r == nil || r.ev == nil {
		return slog.StringValue("<nil>")
	}
	r.ev.mu.Lock()
	id, status, err := r.id, r.status.public(), r.err
	r.ev.mu.Unlock()
	attrs := make([]slog.Attr, 0, 6)
	attrs = append(attrs, slog.String("handler", r.HandlerName()), slog.String("id", id.String()),
		slog.String("status", string(status)), slog.String("event", r.ev.label()), slog.String("bus", r.busLabel()))
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	return slog.GroupValue(attrs...)
}

// finished reports whether the handler's run is over (its result is terminal).
func (r *EventResult) finished() bool {
	r.ev.mu.Lock()
	defer r.ev.mu.Unlock()
	return r.status.terminal()
}

// validLocked reports whether the result passes the default result filter (F152): completed with a
// non-null value that is not a forwarded event.
func (r *EventResult) validLocked() bool {
	if r.status != rsCompleted || r.null || r.value == nil {
		return false
	}
	_, isEvent := r.value.(*BaseEvent)
	return !isEvent
}

// ---- the handler's context ----

// handlerCtx is the context.Context a handler receives. It is the EventResult itself seen through another
// method set, so it costs no allocation. Values come from the context captured at emit (F211); it is
// cancelled when the handler's run ends for any reason (returned, timed out, aborted, destroyed).
type handlerCtx EventResult

type ctxKey struct{}

// currentResult finds the running handler's result in ctx, or nil.
func currentResult(ctx context.Context) *EventResult {
	if ctx == nil {
		return nil
	}
	if h, ok := ctx.(*handlerCtx); ok {
		return (*EventResult)(h)
	}
	r, _ := ctx.Value(ctxKey{}).(*EventResult)
	return r
}

func (c *handlerCtx) Deadline() (time.Time, bool) {
	r := (*EventResult)(c)
	r.ev.mu.Lock()
	d := r.deadline
	r.ev.mu.Unlock()
	if d == 0 {
		return time.Time{}, false
	}
	return nsTime(d), true
}

func (c *handlerCtx) Done() <-chan struct{} {
	x := (*EventResult)(c).ctxState()
	if x.final {
		return x.done
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done == nil {
		x.done = make(chan struct{})
		if x.cancelled {
			close(x.done)
		}
	}
	return x.done
}

func (c *handlerCtx) Err() error {
	x := c.cx.Load()
	if x == nil {
		return nil
	}
	if x.final {
		return x.err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

func (c *handlerCtx) Value(key any) any {
	if key == (ctxKey{}) {
		return (*EventResult)(c)
	}
	if parent := c.ev.emitContext(); parent != nil {
		if _, ok := key.(*int); ok {
			// The context package finds a context's canceller by a private *int key (context.Cause,
			// WithCancelCause children): the emitter's canceller is not this context's, so hide it, and
			// context.Cause of a handler's context is its Err. (Other keys skip the allocation this costs.)
			return context.WithoutCancel(parent).Value(key)
		}
		return parent.Value(key)
	}
	return nil
}

func (c *handlerCtx) String() string { return "abxbus.handlerContext(" + c.handler.name + ")" }

type afterFunc struct {
	f    func()
	done bool
}

// AfterFunc lets context.AfterFunc and context.WithCancel children hook cancellation without a
// goroutine per derived context.
func (c *handlerCtx) AfterFunc(f func()) (stop func() bool) {
	x := (*EventResult)(c).ctxState()
	if x.final {
		go f()
		return func() bool { return false }
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	a := &afterFunc{f: f}
	if x.cancelled {
		a.done = true
		go f()
		return func() bool { return false }
	}
	x.after = append(x.after, a)
	return func() bool {
		x.mu.Lock()
		defer x.mu.Unlock()
		if a.done {
			return false
		}
		a.done = true
		return true
	}
}

// BusFromContext returns the bus processing the event whose handler owns ctx (for an event forwarded to
// another bus, the bus running this handler, not the first one that accepted the event), or nil when ctx
// does not come from a handler. Contexts derived from a handler's context work too.
func BusFromContext(ctx context.Context) *Bus {
	if r := currentResult(ctx); r != nil {
		return r.bus
	}
	return nil
}

// EventFromContext returns the event whose handler owns ctx, or nil when ctx does not come from a
// handler. Typed handlers that need the envelope (ids, parent, path) read it here.
func EventFromContext(ctx context.Context) *BaseEvent {
	if r := currentResult(ctx); r != nil {
		return r.ev
	}
	return nil
}

// cancel ends the handler's context with err (context.Canceled or context.DeadlineExceeded).
func (r *EventResult) cancel(err error) {
	x := r.cx.Load()
	if x == nil {
		s := ctxCanceled
		switch err {
		case context.Canceled:
		case context.DeadlineExceeded:
			s = ctxExpired
		default:
			s = &resultCtx{done: closedChan, err: err, cancelled: true, final: true}
		}
		if r.cx.CompareAndSwap(nil, s) {
			return
		}
		x = r.cx.Load()
	}
	if x.final {
		return
	}
	x.mu.Lock()
	if x.cancelled {
		x.mu.Unlock()
		return
	}
	x.cancelled = true
	x.err = err
	if x.done != nil {
		close(x.done)
	}
	after := x.after
	x.after = nil
	var run []func()
	for _, a := range after {
		if !a.done {
			a.done = true
			run = append(run, a.f)
		}
	}
	x.mu.Unlock()
	for _, f := range run {
		go f()
	}
}

// emitValues is what an emit made with a handler's context (or one derived from it) captures: lookups try
// that context first, then the context the handler's event was emitted with, taken at emit time. The
// handler's event releases its own captured context when it completes; a child that runs later (a linked
// background child, a detached event) still sees the values through base.
type emitValues struct {
	context.Context
	base context.Context
}

func (c *emitValues) Value(key any) any {
	if v := c.Context.Value(key); v != nil || c.base == nil {
		return v
	}
	return c.base.Value(key)
}

func (e *BaseEvent) emitContext() context.Context {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.emitCtx
}
