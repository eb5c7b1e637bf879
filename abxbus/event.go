package abxbus

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// EventStatus is the lifecycle of an event: pending -> started -> completed. There is no error
// status at event level: failures live in the results.
type EventStatus string

const (
	EventPending   EventStatus = "pending"
	EventStarted   EventStatus = "started"
	EventCompleted EventStatus = "completed"
)

// DefaultEventVersion is the event_version of an event that declares none.
const DefaultEventVersion = "0.0.1"

// BaseEvent is the untyped core record of one event: identity, options, payload, lineage, status and
// results. Buses, schedulers and untyped or wildcard handlers work on *BaseEvent; the typed Event[P, R]
// is a view of the same record (converting between them costs nothing).
//
// A BaseEvent is created by NewEvent (typed), NewBaseEvent (untyped) or FromJSON and must not be copied.
// All of its methods are safe for concurrent use. On a nil *BaseEvent or a zero BaseEvent{} the methods
// that return an error return one wrapping ErrInvalidOption and the others return zero values; a bus
// refuses to emit such an event.
type BaseEvent struct {
	mu sync.Mutex

	id        ID
	eventType string
	payload   any
	info      *typeInfo     // nil for untyped events
	opts      *EventOptions // shared and never written through: replaced as a whole (nil: none)
	createdAt int64

	// wire holds what only an event decoded from JSON has; nil otherwise. It is set while decoding,
	// before the event is shared, and never changed after: it is read without the lock.
	wire *eventWire

	// lineage: nil for a top-level event. Set before the event is emitted (EmitChild, decoding) and
	// not changed after, so ParentID and EmittedByHandlerID read it without the lock.
	lin  *eventLineage
	path plist[string]

	// runtime state
	status        evStatus
	blocksParent  bool
	inlineUsed    bool
	hasValid      bool
	jumping       bool         // a Now() caller is queue-jumping the event (x.jumpLender: the run whose slots are lent)
	callSoon      bool         // set by Call before Emit: the Now that follows starts the run (see willJump)
	called        bool         // emitted by Call: queue-jumping from the start, so every bus jumps it on accept
	callWhole     bool         // set by Call before Emit: its wait is for completion, not a first result (see willJump)
	callNew       bool         // created by the typed Call that emits it: a run started on its goroutine without user code since is stamped with tick
	completedFlag atomic.Bool  // mirrors status == completed for lock-free reads (history scans)
	run0Used      atomic.Bool  // run0 was handed out (newRun)
	queued        atomic.Int32 // number of bus queues holding the event (deadlock.go)
	pendingBuses  int32
	startedAt     int64
	completedAt   int64
	results       []*EventResult
	inline        EventResult     // storage for the first result: one allocation less per event
	resultsBuf    [1]*EventResult // also the result list of a one-handler first run (run.begin)
	runsBuf       [1]*run         // backing array for the common single-run event: one allocation less
	buses         plist[*Bus]     // buses that accepted the event, in order (first: the bus's own one-entry list)
	runs          []*run          // runs in progress
	emitCtx       context.Context
	x             *eventExtra // rarely used runtime state, allocated on first use (guarded by mu)

	done   chan struct{} // closed at completion; created lazily
	wake   chan struct{} // the done channel to close once completion is recorded everywhere
	waiter *nowWaiter    // the one pooled completion waiter of Now outside a handler (wait.go), or nil

	// run0 is the storage of the event's first run (usually its only one): one allocation less per
	// event. It is handed out once and never reused, so a late reference to a finished run stays valid.
	run0 run
}

// newRun returns a fresh run record for e on b: the event's own storage the first time, else a new one.
func (e *BaseEvent) newRun(b *Bus) *run {
	r := &e.run0
	if !e.run0Used.CompareAndSwap(false, true) {
		r = &run{}
	}
	r.bus, r.ev = b, e
	return r
}

// plist is a list held through one pointer (8 bytes in the record instead of a slice's 24): nil when
// empty, else a bus's own one-entry list (shared, read only: len = cap, so adding to it copies) or the
// event's own. Adding to a list beyond the bus's shared one allocates the list header once more.
type plist[T any] struct{ p *[]T }

func (l plist[T]) get() []T {
	if l.p == nil {
		return nil
	}
	return *l.p
}

// share makes the list the shared, read-only *p.
func (l *plist[T]) share(p *[]T) { l.p = p }

// set makes the list s (the caller's own slice from now on).
func (l *plist[T]) set(s []T) {
	if len(s) == 0 {
		l.p = nil
		return
	}
	l.p = &s
}

// add appends v.
func (l *plist[T]) add(v T) { l.set(append(l.get(), v)) }

// evStatus is EventStatus as the record keeps it (one byte).
type evStatus uint8

const (
	evPending evStatus = iota
	evStarted
	evCompleted
)

var evStatusNames = [...]EventStatus{evPending: EventPending, evStarted: EventStarted, evCompleted: EventCompleted}

func (s evStatus) public() EventStatus { return evStatusNames[s] }

func parseEvStatus(s string) evStatus {
	switch EventStatus(s) {
	case EventStarted:
		return evStarted
	case EventCompleted:
		return evCompleted
	}
	return evPending
}

// versionLocked returns event_version: as decoded, else the type's, else the default.
func (e *BaseEvent) versionLocked() string {
	switch {
	case e.wire != nil && e.wire.version != "":
		return e.wire.version
	case e.info != nil && e.info.version != "":
		return e.info.version
	case e.eventType == "":
		return "" // a zero event
	}
	return DefaultEventVersion
}

// eventWire is the part of an event only JSON decoding sets.
type eventWire struct {
	// resultSchema is a foreign event_result_type (JSON Schema) kept verbatim; nil when none or when the
	// result type is known from info.
	resultSchema json.RawMessage

	// extra holds payload keys of a decoded event that its Go payload type does not have (kept for
	// re-encoding); pendingBuses is event_pending_bus_count as decoded, written back while the event
	// has not been emitted here.
	extra        map[string]json.RawMessage
	pendingBuses int
	version      string // event_version as decoded (a decoded event always has a wire)
}

// wireExtra returns the payload keys kept from the decoded JSON (nil for other events).
func (e *BaseEvent) wireExtra() map[string]json.RawMessage {
	if e.wire == nil {
		return nil
	}
	return e.wire.extra
}

// wireSchema returns the foreign event_result_type kept from the decoded JSON (nil for other events).
func (e *BaseEvent) wireSchema() json.RawMessage {
	if e.wire == nil {
		return nil
	}
	return e.wire.resultSchema
}

// wireW returns e.wire, creating it; only while decoding or copying an event nobody else sees yet.
func (e *BaseEvent) wireW() *eventWire {
	if e.wire == nil {
		e.wire = &eventWire{}
	}
	return e.wire
}

// eventLineage links a child event to the event and handler that emitted it.
type eventLineage struct {
	parentID     ID
	emittedBy    ID
	emittedByRes *EventResult // in-process link to the emitting handler's result (F85)
	parent       *BaseEvent   // in-process link used to propagate completion and cancellation
}

var noLineage eventLineage

// lr returns the lineage for reading (a zero one for a top-level event).
func (e *BaseEvent) lr() *eventLineage {
	if e.lin == nil {
		return &noLineage
	}
	return e.lin
}

// linW returns the lineage for writing, allocating it; only before the event is emitted.
func (e *BaseEvent) linW() *eventLineage {
	if e.lin == nil {
		e.lin = &eventLineage{}
	}
	return e.lin
}

// eventExtra is the runtime state few events need: kept out of the record so the common event stays
// small. Guarded by the event's mu.
type eventExtra struct {
	children []*BaseEvent // linked children emitted from the event's handlers, in emit order
	// firstValid is closed at the first valid result or completion; created lazily (First waits).
	// wakeValid is it, to close once completion is recorded everywhere.
	firstValid chan struct{}
	wakeValid  chan struct{}
	emitErr    error           // why the event could not be emitted (it then completes at once)
	failErr    error           // the event was not processed on a bus that accepted it (destroyed while queued)
	cancelled  error           // set when a parent cancellation reached the event before it ran
	gates      []chan struct{} // open while future lookups are being offered the event: it must not start yet
	requeued   chan struct{}   // closed when a queue-jump of the event was given up (deadlock.go)

	// jumpLender is set while a handler's Now() is queue-jumping the event: the run whose slots are lent.
	jumpLender *run

	// hooks is the middleware hook queue (middleware.go); nil until a bus with lifecycle hooks notes a
	// change of the event.
	hooks *eventHooks

	// wireKeys are the top-level JSON keys set with SetWireKey (wirekeys.go).
	wireKeys map[string]json.RawMessage
}

// noExtra is what xr reads for an event without extra state; never written.
var noExtra eventExtra

// xr returns the extra state for reading (a zero one when there is none); e.mu held.
func (e *BaseEvent) xr() *eventExtra {
	if e.x == nil {
		return &noExtra
	}
	return e.x
}

// xw returns the extra state for writing, allocating it on first use; e.mu held.
func (e *BaseEvent) xw() *eventExtra {
	if e.x == nil {
		e.x = &eventExtra{}
	}
	return e.x
}

// noOptions are the options of an event without overrides; never written.
var noOptions EventOptions

// o returns the event's option overrides (read only).
func (e *BaseEvent) o() *EventOptions {
	if e.opts == nil {
		return &noOptions
	}
	return e.opts
}

// closedChan is the Done channel of a nil event.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// NewBaseEvent creates an untyped event of the given type with an optional payload. The payload is kept
// as given (in process no JSON conversion happens); wildcard and untyped handlers read it with Payload
// or PayloadJSON. The event type must be a non-empty identifier that does not start with '_'.
func NewBaseEvent(eventType string, payload any) (*BaseEvent, error) {
	if err := checkEventType(eventType); err != nil {
		return nil, err
	}
	e := &BaseEvent{}
	e.init(eventType, payload, nil)
	return e, nil
}

func (e *BaseEvent) init(eventType string, payload any, info *typeInfo) {
	e.createdAt = now()
	e.id = newIDAt(e.createdAt)
	e.eventType = eventType
	e.payload = payload
	e.info = info
	e.results = e.resultsBuf[:0]
	e.runs = e.runsBuf[:0]
	if info != nil {
		e.opts = &info.defaults // info is immutable once registered
	}
}

func checkEventType(t string) error {
	if t == "" || t == "*" {
		return fmt.Errorf("%w: event type %q is not a valid event type name", ErrInvalidOption, t)
	}
	if len(t) > 64 {
		return fmt.Errorf("%w: event type %q is longer than 64 characters", ErrInvalidOption, t)
	}
	if t[0] == '_' {
		return fmt.Errorf("%w: event type %q must not start with '_'", ErrInvalidOption, t)
	}
	for i, c := range t {
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-') {
			continue
		}
		return fmt.Errorf("%w: event type %q is not an identifier (bad character %q)", ErrInvalidOption, t, c)
	}
	return nil
}

// ID returns the event id (UUIDv7).
func (e *BaseEvent) ID() ID {
	if e == nil {
		return ID{}
	}
	return e.id
}

// EventID returns the event id as a string.
func (e *BaseEvent) EventID() string {
	if e == nil {
		return ""
	}
	return e.id.String()
}

// Type returns the event type (routing key).
func (e *BaseEvent) Type() string {
	if e == nil {
		return ""
	}
	return e.eventType
}

// Version returns event_version.
func (e *BaseEvent) Version() string {
	if e == nil {
		return ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.versionLocked()
}

// Payload returns the payload as given at construction (a typed Go value for typed events).
func (e *BaseEvent) Payload() any {
	if e == nil {
		return nil
	}
	return e.payload
}

// PayloadJSON returns the payload encoded as a JSON object.
func (e *BaseEvent) PayloadJSON() (json.RawMessage, error) {
	if err := e.unusable("PayloadJSON"); err != nil {
		return nil, err
	}
	if e.payload == nil {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(e.payload)
	if err != nil {
		return nil, fmt.Errorf("abxbus: encode payload of %s: %w", e.label(), err)
	}
	return b, nil
}

// Options returns the per-event option overrides (unset fields are inherited from the processing bus).
func (e *BaseEvent) Options() EventOptions {
	if e == nil {
		return EventOptions{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return *e.o()
}

// SetOptions replaces the per-event overrides. It must be called before the event is emitted; later
// calls return an error, as do invalid values.
func (e *BaseEvent) SetOptions(o EventOptions) error {
	if err := e.unusable("SetOptions"); err != nil {
		return err
	}
	if err := o.check(); err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.buses.get()) > 0 {
		return fmt.Errorf("%w: options of %s cannot change after it was emitted", ErrInvalidOption, e.label())
	}
	e.opts = &o
	return nil
}

// Status returns the event status.
func (e *BaseEvent) Status() EventStatus {
	if e == nil {
		return ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status.public()
}

// CreatedAt returns when the event was created. It, StartedAt and CompletedAt return the lifecycle
// timestamps (event_created_at, event_started_at, event_completed_at), in UTC with nanosecond precision and no monotonic clock
// reading: == compares them, and a time read back from the event's JSON is == to the one written. The
// zero Time means "not reached yet" (a nil event has only zero times). Timestamps come from one
// process-wide clock and strictly increase: an event created later has a later CreatedAt.
func (e *BaseEvent) CreatedAt() time.Time {
	if e == nil {
		return time.Time{}
	}
	return nsTime(e.createdAt)
}

func (e *BaseEvent) StartedAt() time.Time {
	if e == nil {
		return time.Time{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return nsTime(e.startedAt)
}

func (e *BaseEvent) CompletedAt() time.Time {
	if e == nil {
		return time.Time{}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return nsTime(e.completedAt)
}

// ParentID returns event_parent_id (zero for top-level events).
func (e *BaseEvent) ParentID() ID {
	if e == nil {
		return ID{}
	}
	return e.lr().parentID
}

// EmittedByHandlerID returns event_emitted_by_handler_id (zero when unset).
func (e *BaseEvent) EmittedByHandlerID() ID {
	if e == nil {
		return ID{}
	}
	return e.lr().emittedBy
}

// BlocksParentCompletion reports event_blocks_parent_completion.
func (e *BaseEvent) BlocksParentCompletion() bool {
	if e == nil {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.blocksParent
}

// Path returns a copy of event_path: the labels of the buses that accepted the event, in order.
func (e *BaseEvent) Path() []string {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.path.get())
}

// Children returns the linked children emitted from this event's handlers, in emit order.
func (e *BaseEvent) Children() []*BaseEvent {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.xr().children)
}

// PendingBusCount returns event_pending_bus_count: buses that still hold the event queued or in flight.
func (e *BaseEvent) PendingBusCount() int {
	if e == nil {
		return 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return int(e.pendingBuses)
}

// Bus returns the first bus that accepted the event (the one it was emitted on), or nil before it was
// emitted. A handler that needs the bus running it now (a forwarded event runs on several) uses
// BusFromContext.
func (e *BaseEvent) Bus() *Bus {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.buses.get()) == 0 {
		return nil
	}
	return e.buses.get()[0]
}

// Results returns a snapshot of the per-handler results in handler registration order. It does
// not wait; use Now/Wait or the result accessors for that.
func (e *BaseEvent) Results() []*EventResult {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.orderedResultsLocked())
}

// orderedResultsLocked returns the results in registration order (F153): e.results itself when it is
// already in order (the common case, no allocation), else a sorted copy. Callers must not modify it.
func (e *BaseEvent) orderedResultsLocked() []*EventResult {
	if slices.IsSortedFunc(e.results, cmpResults) {
		return e.results
	}
	out := slices.Clone(e.results)
	slices.SortStableFunc(out, cmpResults)
	return out
}

// cmpResults orders result rows by handler registration time, then start time. A row without a
// registration time (decoded from JSON that had none) is ordered by the time the encoder writes for it,
// the event's creation, so that encoding the decoded event again keeps the order.
func cmpResults(a, b *EventResult) int {
	ra, rb := a.registeredOrder(), b.registeredOrder()
	switch {
	case ra != rb:
		return cmpInt64(ra, rb)
	case a.startedAt != b.startedAt:
		return cmpInt64(a.startedAt, b.startedAt)
	}
	return 0
}

func (r *EventResult) registeredOrder() int64 {
	if t := r.handler.registeredAt; t != 0 || r.ev == nil {
		return t
	}
	return r.ev.createdAt
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// label is `Type#abcd`, used in messages.
func (e *BaseEvent) label() string { return e.eventType + "#" + e.id.short() }

// String returns `Type#abcd`: the event type and the last four hex digits of the id ("<nil>" for a nil
// event), the label messages use.
func (e *BaseEvent) String() string {
	if e == nil {
		return "<nil>"
	}
	return e.label()
}

// LogValue makes an event a compact log/slog group: type, id, status, parent_id (when set) and bus (the
// label of the first bus that accepted it, when there is one); never the payload or the results.
// logger.Info("emitted", "event", e) logs event.type=..., event.id=.... A nil or zero event logs as its
// String. Safe for concurrent use; it takes the event lock briefly.
func (e *BaseEvent) LogValue() slog.Value {
	if e == nil || e.eventType == "" {
		return slog.StringValue(e.String())
	}
	e.mu.Lock()
	status := e.status.public()
	var bus *Bus
	if len(e.buses.get()) > 0 {
		bus = e.buses.get()[0]
	}
	e.mu.Unlock()
	attrs := make([]slog.Attr, 0, 5)
	attrs = append(attrs, slog.String("type", e.eventType), slog.String("id", e.id.String()), slog.String("status", string(status)))
	if p := e.lr().parentID; !p.IsZero() {
		attrs = append(attrs, slog.String("parent_id", p.String()))
	}
	if bus != nil {
		attrs = append(attrs, slog.String("bus", bus.label))
	}
	return slog.GroupValue(attrs...)
}

// Done returns a channel closed when the event completes. Cheap to call repeatedly. For a nil event
// the channel is already closed, so a select on it does not block forever.
func (e *BaseEvent) Done() <-chan struct{} {
	if e == nil {
		return closedChan
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.doneLocked()
}

func (e *BaseEvent) doneLocked() chan struct{} {
	if e.done == nil {
		e.done = make(chan struct{})
		if e.status == evCompleted {
			if e.signallingLocked() {
				e.wake = e.done // closed by the wake-up that follows the completion hooks
			} else {
				close(e.done)
			}
		}
	}
	return e.done
}

// signallingLocked reports whether the event is completed but its completion hooks have not all run
// yet: waiters still wait (middleware.go); e.mu held.
func (e *BaseEvent) signallingLocked() bool {
	return e.x != nil && e.x.hooks != nil && e.x.hooks.signalling
}

// signalledLocked reports whether the event is completed and its completion signalled; e.mu held.
func (e *BaseEvent) signalledLocked() bool {
	return e.status == evCompleted && !e.signallingLocked()
}

func (e *BaseEvent) firstValidLocked() chan struct{} {
	x := e.xw()
	if x.firstValid == nil {
		x.firstValid = make(chan struct{})
		if e.hasValid || e.signalledLocked() {
			close(x.firstValid)
		} else if e.status == evCompleted {
			x.wakeValid = x.firstValid // closed by the wake-up that follows the completion hooks
		}
	}
	return x.firstValid
}

// IsChildOf reports whether ancestor is a parent, grandparent, ... of e, following in-process parent
// links.
func (e *BaseEvent) IsChildOf(ancestor *BaseEvent) bool {
	if e == nil {
		return false
	}
	if ancestor == nil {
		return false
	}
	seen := 0
	for p := e.parentEvent(); p != nil && seen < 1<<16; p = p.parentEvent() {
		if p == ancestor || p.id == ancestor.id {
			return true
		}
		seen++
	}
	return false
}

func (e *BaseEvent) parentEvent() *BaseEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.lr().parent
}

// tryCompleteLocked completes the event when every condition of F146 holds: no bus still holds it, every
// result is terminal, every blocking child is completed. It returns whether it completed the event now;
// the caller must then call afterComplete outside the lock.
func (e *BaseEvent) tryCompleteLocked() bool { return e.tryCompleteStampLocked(now) }

// tryCompleteStampLocked is tryCompleteLocked with the completion time taken from stamp (tick when the
// caller read the clock just before, see run.finish).
func (e *BaseEvent) tryCompleteStampLocked(stamp func() int64) bool {
	if e.status == evCompleted || e.pendingBuses > 0 || len(e.buses.get()) == 0 && e.xr().emitErr == nil {
		return false
	}
	for _, r := range e.results {
		if !r.status.terminal() {
			return false
		}
	}
	for _, c := range e.xr().children {
		if c.blocksParentNoLock() && !c.completedNoLock() {
			return false
		}
	}
	t := stamp()
	if e.startedAt == 0 || len(e.results) == 0 {
		e.startedAt = t // no handler ran: processing started and ended at once
	}
	e.completedAt = t
	e.status = evCompleted
	e.completedFlag.Store(true)
	// Waiters are woken by afterComplete, once the buses' history reflects the completion.
	e.wake = e.done
	if e.waiter != nil {
		e.waiter.armed = true // woken by afterComplete; one registered after a reopen waits for the next completion
	}
	if e.x != nil && e.x.firstValid != nil && !e.hasValid {
		e.x.wakeValid = e.x.firstValid
	}
	if e.x != nil && e.x.hooks != nil {
		e.x.hooks.signalling = true // waiters wake after the completion hooks (afterComplete)
	}
	return true
}

// blocksParentNoLock and completedNoLock read a child's flags while the parent's lock is held. Lock order
// is parent before child (children never lock their parent while holding their own lock).
func (e *BaseEvent) blocksParentNoLock() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.blocksParent
}

func (e *BaseEvent) completedNoLock() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status == evCompleted
}

// afterComplete runs outside the lock after the event completed: history retention on every bus that
// holds it, and completion of a parent that was waiting for this blocking child. ended is the run whose
// finish completed the event (nil when something else did); with hooks configured its bus's runDone is
// queued behind the completion hooks and afterComplete reports true (the caller must not call it).
func (e *BaseEvent) afterComplete(ended *run) (queued bool) {
	e.mu.Lock()
	buses := e.buses.get()
	parent := e.lr().parent
	blocks := e.blocksParent
	e.emitCtx = nil // F150: release the captured context
	hooked := e.x != nil && e.x.hooks != nil
	var wake [2]chan struct{}
	var w *nowWaiter
	if hooked {
		e.noteCompletedLocked()
	} else {
		wake, w = e.takeWakeLocked()
	}
	e.mu.Unlock()
	for _, b := range buses {
		b.onEventCompleted(e)
	}
	if hooked {
		// Completion is signalled after the completion hooks (and any earlier hooks still being
		// delivered by another goroutine): the wake-up is the last note of the queue.
		// The run that completed the event leaves its bus's bookkeeping after that too, so a bus is
		// not idle (WaitUntilIdle) before its completion hooks returned, whichever goroutine
		// delivers them.
		e.mu.Lock()
		e.x.hooks.q = append(e.x.hooks.q, hookNote{wake: true})
		if ended != nil {
			e.x.hooks.q = append(e.x.hooks.q, hookNote{ended: ended})
			queued = true
		}
		e.mu.Unlock()
		e.flushHooks()
	} else {
		wakeWaiters(wake, w)
	}
	if parent != nil && blocks {
		parent.checkComplete()
	}
	return queued
}

// takeWakeLocked takes what completion must wake: the done and first-valid channels to close and the
// armed pooled waiter; e.mu held.
func (e *BaseEvent) takeWakeLocked() (wake [2]chan struct{}, w *nowWaiter) {
	wake[0], e.wake = e.wake, nil
	if e.x != nil {
		wake[1], e.x.wakeValid = e.x.wakeValid, nil
	}
	w = e.waiter
	if w != nil && w.armed {
		w.armed, e.waiter = false, nil
	} else {
		w = nil
	}
	return wake, w
}

// wakeWaiters closes the completion channels and wakes the pooled waiter (afterComplete).
func wakeWaiters(wake [2]chan struct{}, w *nowWaiter) {
	for _, ch := range wake {
		if ch != nil {
			close(ch)
		}
	}
	if w != nil {
		w.wake()
	}
}

// checkComplete re-evaluates completion (after a child completed or a run finished).
func (e *BaseEvent) checkComplete() {
	e.mu.Lock()
	done := e.tryCompleteLocked()
	e.mu.Unlock()
	if done {
		e.afterComplete(nil)
	}
}
