package abxbus

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func slicesContains(s []string, v string) bool { return slices.Contains(s, v) }

// Bus is an event bus: handler registrations, an event history, a pending queue and the machinery that
// runs handlers. Create one with New. All methods are safe for concurrent use. An idle bus runs no
// goroutine and no timer: a dispatcher goroutine exists only while events are queued.
//
// A nil *Bus or a Bus value not created by New (such as Bus{}) is refused: its methods that return an
// error return one wrapping ErrInvalidOption that says to use New, the others return zero values.
type Bus struct {
	id          ID
	name        string
	label       string
	labelPath   []string     // {label}, len = cap: the event_path of an event this bus accepts first (shared, read only)
	self        []*Bus       // {b}, len = cap: the bus list of an event this bus accepts first (shared, read only)
	defaults    EventOptions // every field set
	maxHistory  int          // < 0: unbounded
	histZero    atomic.Bool  // maxHistory == 0 (written with mu held): a completion has history to remove
	drop        bool
	detectPaths bool
	logger      *slog.Logger
	hooks       *busHooks // middlewares by hook (middleware.go); nil: none
	global      *slot
	slot        slot

	mu          sync.Mutex
	byType      map[string][]*Handler
	wildcard    []*Handler
	handlerIDs  map[ID]*Handler
	queue       []*BaseEvent // serial events not yet started, FIFO from qhead
	qhead       int
	dispatching bool
	idle        chan struct{} // closed when active drops to 0 (made by WaitUntilIdle)
	runs        runSet
	hist        history
	destroyed   bool
	dropWarned  bool
	finders     []*finder
	acquiring   *run                         // the dispatcher's run while it takes the head event's slots
	made        bool                         // set by New: the zero Bus is refused (nilsafe.go)
	bound       atomic.Pointer[typeBindings] // event type name -> Go payload type (binding.go)

	// active counts the events accepted and not finished on this bus. It grows with mu held (accept)
	// and drops without it (runDone), after the finished event's waiters were woken; idleWanted says
	// a WaitUntilIdle made idle (set and cleared with mu held), so that the run that drops active to
	// 0 takes mu only then.
	active     atomic.Int64
	idleWanted atomic.Bool
}

// headChangedLocked stops the dispatcher's wait for the slots of an event that is no longer the head of
// the queue, so that it starts over with the new head.
func (b *Bus) headChangedLocked() {
	if b.acquiring != nil {
		b.acquiring.abort(abortStop)
	}
}

// New creates a bus. name must be an identifier (letters, digits, '_'); empty means "EventBus". A nil
// opts gives the defaults of Options. Invalid options give an error wrapping ErrInvalidOption.
func New(name string, opts *Options) (*Bus, error) {
	if opts == nil {
		opts = &Options{}
	}
	if name == "" {
		name = "EventBus"
	}
	for i, c := range name {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return nil, fmt.Errorf("%w: bus name %q is not an identifier", ErrInvalidOption, name)
		}
	}
	b := &Bus{
		name:        name,
		maxHistory:  100,
		drop:        opts.MaxHistoryDrop,
		detectPaths: true,
		logger:      opts.Logger,
		global:      lockDomain(opts.LockDomain),
		byType:      map[string][]*Handler{},
		handlerIDs:  map[ID]*Handler{},
		made:        true,
	}
	if opts.ID != "" {
		id, err := ParseID(opts.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: bus id (Options.ID): %w", ErrInvalidOption, err)
		}
		b.id = id
	} else {
		b.id = newID()
	}
	b.label = name + "#" + b.id.short()
	b.labelPath = []string{b.label}
	b.self = []*Bus{b}
	if opts.MaxHistorySize != nil {
		b.maxHistory = *opts.MaxHistorySize
		if b.maxHistory < 0 {
			b.maxHistory = -1
		}
	}
	b.histZero.Store(b.maxHistory == 0)
	if opts.DetectFilePaths != nil {
		b.detectPaths = *opts.DetectFilePaths
	}
	if b.logger == nil {
		b.logger = slog.Default()
	}
	hooks, err := resolveMiddlewares(opts.Middlewares)
	if err != nil {
		return nil, err
	}
	b.hooks = hooks
	d := EventOptions{
		Timeout:            opts.EventTimeout,
		SlowTimeout:        opts.EventSlowTimeout,
		HandlerSlowTimeout: opts.HandlerSlowTimeout,
		Concurrency:        opts.EventConcurrency,
		HandlerConcurrency: opts.HandlerConcurrency,
		Completion:         opts.Completion,
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	b.defaults = d.merge(EventOptions{
		Timeout:            60 * time.Second,
		SlowTimeout:        300 * time.Second,
		HandlerSlowTimeout: 30 * time.Second,
		Concurrency:        BusSerial,
		HandlerConcurrency: HandlersSerial,
		Completion:         CompleteAll,
	})
	b.hist.init()
	return b, nil
}

// ID returns the bus id.
func (b *Bus) ID() ID {
	if !b.usable() {
		return ID{}
	}
	return b.id
}

// Name returns the bus name.
func (b *Bus) Name() string {
	if !b.usable() {
		return ""
	}
	return b.name
}

// Label returns `Name#abcd`, the form used in event_path and messages.
func (b *Bus) Label() string {
	if !b.usable() {
		return ""
	}
	return b.label
}

// String returns the label ("<nil>" for a nil bus).
func (b *Bus) String() string {
	if b == nil {
		return "<nil>"
	}
	return b.label
}

// Logger returns the bus's logger (Options.Logger, else slog.Default()), for middlewares and other
// extensions that report through the bus; nil for an unusable bus.
func (b *Bus) Logger() *slog.Logger {
	if !b.usable() {
		return nil
	}
	return b.logger
}

// Defaults returns the bus-level defaults applied to unset event options at processing time.
func (b *Bus) Defaults() EventOptions {
	if !b.usable() {
		return EventOptions{}
	}
	return b.defaults
}

// Emit accepts e on this bus and returns it at once, pending: it records e in the history,
// queues it (or, for an event that resolves to parallel, starts it), and wakes any find waiters.
// Completion happens asynchronously; use Now, Wait or the result accessors to wait.
//
// ctx supplies the values handlers of e will see; its cancellation never cancels processing.
// When ctx is a handler's context, e becomes detached top-level work; use EmitChild for a linked
// child. Emitting an event whose event_path already holds this bus is a no-op that returns e.
//
// Errors: ErrBusDestroyed, ErrHistoryFull, ErrHandlerFinished when ctx belongs to a handler whose run
// is already over. The error is also recorded on e when e was not accepted by any bus, so its
// Now/Wait report it.
func (b *Bus) Emit(ctx context.Context, e *BaseEvent) (*BaseEvent, error) {
	if err := e.unusable("Emit"); err != nil {
		return e, err
	}
	if err := b.unusable("Emit"); err != nil {
		return e, b.reject(e, err)
	}
	if e.info != nil && e.info.err != nil { // NewEvent of an invalid payload type (a pointer, a bad EventSpec)
		return e, b.reject(e, e.info.err)
	}
	if caller := currentResult(ctx); caller != nil && caller.finished() {
		if caller.bus.IsDestroyed() {
			return e, b.reject(e, &EventBusDestroyedError{Bus: caller.bus.label, Op: "Emit"})
		}
		return e, b.reject(e, fmt.Errorf("%s.Emit(%s) refused: %w (handler %s)", b.label, e.label(), ErrHandlerFinished, caller.handler.Label()))
	}
	if err := b.checkBinding(e); err != nil {
		return e, err
	}
	return e, b.accept(ctx, e)
}

func (b *Bus) reject(e *BaseEvent, err error) error {
	e.mu.Lock()
	if len(e.buses.get()) == 0 && e.xr().emitErr == nil {
		e.xw().emitErr = err
	}
	e.mu.Unlock()
	return err
}

func (b *Bus) accept(ctx context.Context, e *BaseEvent) error {
	if caller := currentResult(ctx); caller != nil {
		// Keep the values the handler sees reachable after its event completes and lets go of them.
		ctx = &emitValues{Context: ctx, base: caller.ev.emitContext()}
	}
	b.mu.Lock()
	if b.destroyed {
		b.mu.Unlock()
		return b.reject(e, &EventBusDestroyedError{Bus: b.label, Op: "Emit"})
	}
	e.mu.Lock()
	visited := slicesContains(e.path.get(), b.label)
	e.mu.Unlock()
	if visited {
		b.mu.Unlock()
		return nil // F72: already visited
	}
	// The history policy looks at other events' states, so it runs without e's lock (lock order: bus,
	// then one event; a parent before its child).
	if err := b.admitLocked(e); err != nil {
		b.mu.Unlock()
		return b.reject(e, err)
	}
	e.mu.Lock()
	// A completed event forwarded to a new bus is processed there too (A30): it reopens, with fresh
	// completion channels so waiters see the second completion.
	e.reopenLocked()
	if len(e.buses.get()) == 0 {
		e.emitCtx = ctx
	}
	if e.path.p == nil {
		e.path.share(&b.labelPath) // appending to it copies (len = cap): the bus's slice is never written
	} else {
		e.path.add(b.label)
	}
	if e.buses.p == nil {
		e.buses.share(&b.self) // appending to it copies (len = cap): the bus's slice is never written
	} else {
		e.buses.add(b)
	}
	if b.hooks != nil {
		e.noteEventLocked(b, evPending)
	}
	e.pendingBuses++
	mode := e.o().Concurrency
	if mode == "" {
		mode = b.defaults.Concurrency
	}
	jumping, lender := e.jumping, e.xr().jumpLender
	soon := e.callSoon // Call's Now follows: it takes the event out of the queue and starts it
	here := soon && e.callWhole && len(e.buses.get()) == 1
	e.callSoon, e.callWhole = false, false
	if !here || b.hooks != nil {
		e.callNew = false // the run does not start on this goroutine, or hooks run user code first
	}
	e.mu.Unlock()

	b.active.Add(1)
	finders := b.matchFindersLocked(e)
	if len(finders) > 0 && here {
		e.mu.Lock()
		e.callNew = false // lookups are offered the event before its run starts
		e.mu.Unlock()
	}
	var gate chan struct{}
	if slices.ContainsFunc(finders, func(f *finder) bool { return f.note == nil && f.q.typeMatches(e) }) {
		// Future lookups see the event as it was accepted: its processing waits until they were offered it.
		gate = make(chan struct{})
		e.mu.Lock()
		e.xw().gates = append(e.xw().gates, gate)
		e.mu.Unlock()
	}
	var parallel *run
	if mode == Parallel {
		parallel = b.newRunLocked(e, nil)
	} else {
		b.queue = append(b.queue, e)
		e.queued.Add(1)
		if !b.dispatching && !jumping {
			b.dispatching = true
			go b.dispatchLoop()
		}
	}
	b.mu.Unlock()

	for _, f := range finders {
		f.deliver(e)
	}
	if gate != nil {
		e.mu.Lock()
		e.x.gates = slices.DeleteFunc(e.x.gates, func(g chan struct{}) bool { return g == gate })
		e.mu.Unlock()
		close(gate)
	}
	if b.hooks != nil {
		e.flushHooks()
	}
	if parallel != nil {
		// A parallel event needs no slot. Call's event, awaited whole from outside a handler, runs right
		// here when its handlers allow it (WithInline): Call's wait then finds it completed.
		if here && parallel.inlineable() {
			runHere(parallel)
		} else {
			spawnRun(parallel)
		}
	} else if jumping && !soon {
		e.jumpOn(b, lender, false) // F110: a queue-jumping event jumps on every bus it reaches
	}
	return nil
}

// dispatchLoop runs serial events in FIFO order. Exactly one goroutine holds the dispatcher role of a bus
// at a time; the role passes to whichever goroutine finishes a run the dispatcher started (a handler
// returning, or the timer that timed it out), so a handler that ignores its context never stalls the bus.
func (b *Bus) dispatchLoop() {
	// fresh: the previous event's run ended on this goroutine just now, its last step a clock reading
	// (the settled handler), with nothing in between that waits or runs user code: the next event's
	// start is stamped with tick (one OS clock reading less per queued event, issue 13 item 3).
	fresh := false
	for {
		// Take the head event's slots before popping it, so that while the dispatcher waits for a slot a
		// queue-jumper can still take the event out of the queue. The run exists from the start (not yet
		// registered): it owns the slots taken so far, so the deadlock detector sees what it holds and
		// waits for.
		b.mu.Lock()
		if b.qhead >= len(b.queue) {
			b.dispatching = false
			b.mu.Unlock()
			return
		}
		e := b.queue[b.qhead]
		r := e.newRun(b)
		r.dispatcher = true
		b.acquiring = r
		b.mu.Unlock()
		held, n := b.slotsFor(e)
		got := 0
		for got < n {
			ok, waited := r.takeWaited(held[got], false)
			if !ok {
				break
			}
			fresh = fresh && !waited
			got++
		}
		b.mu.Lock()
		b.acquiring = nil
		if got < n || b.qhead >= len(b.queue) || b.queue[b.qhead] != e {
			stop := b.destroyed
			if stop {
				b.dispatching = false
			}
			b.mu.Unlock()
			for i := got - 1; i >= 0; i-- {
				held[i].release()
			}
			if stop {
				return
			}
			fresh = false
			continue
		}
		b.popLocked()
		b.initRunLocked(r, nil)
		r.held, r.nheld = held, int8(n)
		b.mu.Unlock()
		st := stampNow
		if fresh {
			st = stampTick
		}
		if !r.begin(st) {
			return
		}
		fresh = b.hooks == nil // completion hooks run user code before the loop gets back here
	}
}

// slotsFor lists the slots a serial event needs on b, global before bus (the lock order).
func (b *Bus) slotsFor(e *BaseEvent) (s [2]*slot, n int) {
	mode := e.o().Concurrency
	if mode == "" {
		mode = b.defaults.Concurrency
	}
	switch mode {
	case GlobalSerial:
		return [2]*slot{b.global, &b.slot}, 2
	case BusSerial:
		return [2]*slot{&b.slot}, 1
	}
	return s, 0
}

func (b *Bus) popLocked() *BaseEvent {
	if b.qhead >= len(b.queue) {
		return nil
	}
	e := b.queue[b.qhead]
	e.queued.Add(-1)
	b.queue[b.qhead] = nil
	b.qhead++
	if b.qhead == len(b.queue) {
		b.queue = b.queue[:0]
		b.qhead = 0
	} else if b.qhead > 64 && b.qhead*2 > len(b.queue) {
		n := copy(b.queue, b.queue[b.qhead:])
		clear(b.queue[n:])
		b.queue = b.queue[:n]
		b.qhead = 0
	}
	return e
}

// unqueueLocked removes e from the pending queue (scanning from the newest end, where a just-emitted
// child sits) and reports whether it was there.
func (b *Bus) unqueueLocked(e *BaseEvent) bool {
	for i := len(b.queue) - 1; i >= b.qhead; i-- {
		if b.queue[i] == e {
			e.queued.Add(-1)
			if i == b.qhead {
				b.headChangedLocked()
			}
			copy(b.queue[i:], b.queue[i+1:])
			b.queue[len(b.queue)-1] = nil
			b.queue = b.queue[:len(b.queue)-1]
			return true
		}
	}
	return false
}

// pushFrontLocked puts e at the head of the queue and makes sure a dispatcher runs.
func (b *Bus) pushFrontLocked(e *BaseEvent) {
	e.queued.Add(1)
	b.headChangedLocked()
	if b.qhead > 0 {
		b.qhead--
		b.queue[b.qhead] = e
	} else {
		b.queue = append(b.queue, nil)
		copy(b.queue[1:], b.queue)
		b.queue[0] = e
	}
	if !b.dispatching {
		b.dispatching = true
		go b.dispatchLoop()
	}
}

// QueueLen returns the number of events accepted and not yet started.
func (b *Bus) QueueLen() int {
	if !b.usable() {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue) - b.qhead
}

// PendingQueue returns the events accepted and not yet started, in the order they will start.
func (b *Bus) PendingQueue() []*BaseEvent {
	if !b.usable() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*BaseEvent(nil), b.queue[b.qhead:]...)
}

// runDone is called once per run, after its slots were released and, when the run completed its
// event, after the event's waiters were woken and every bus applied its history retention: the bus is
// idle only once all of that is visible.
func (b *Bus) runDone(r *run) {
	b.runs.remove(r)
	if b.active.Add(-1) != 0 || !b.idleWanted.Load() {
		return
	}
	// Someone waits for idle. Either WaitUntilIdle sees active at 0 after it set idleWanted, or this
	// load sees idleWanted after WaitUntilIdle made the channel: the channel is closed either way.
	b.mu.Lock()
	idle := b.takeIdleLocked()
	b.mu.Unlock()
	if idle != nil {
		close(idle)
	}
}

// takeIdleLocked takes the idle channel to close when the bus is idle (nil otherwise). b.mu held.
func (b *Bus) takeIdleLocked() chan struct{} {
	if b.idle == nil || b.active.Load() != 0 {
		return nil
	}
	idle := b.idle
	b.idle = nil
	b.idleWanted.Store(false)
	return idle
}

// WaitUntilIdle blocks until every event accepted by this bus has finished processing on it, or ctx is
// done (then it returns ctx.Err()). It returns nil at once for an idle bus. On a destroyed bus it
// returns as soon as the runs Destroy stopped have wound up, which does not wait for handlers that
// ignore their context.
func (b *Bus) WaitUntilIdle(ctx context.Context) error {
	if err := b.unusable("WaitUntilIdle"); err != nil {
		return err
	}
	if b.active.Load() == 0 {
		return nil
	}
	b.mu.Lock()
	if b.idle == nil {
		b.idle = make(chan struct{})
		b.idleWanted.Store(true)
	}
	ch := b.idle
	if idle := b.takeIdleLocked(); idle != nil {
		// active dropped to 0 before the run that dropped it could see idleWanted
		b.mu.Unlock()
		close(idle)
		return nil
	}
	b.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// IsIdle reports whether no event is queued or in flight on this bus.
func (b *Bus) IsIdle() bool {
	if !b.usable() {
		return false
	}
	return b.active.Load() == 0
}

// Destroy stops the bus for good: in-flight handlers are aborted (their contexts
// cancelled), queued events are finished without running, pending find waiters get nil, and every later
// operation returns ErrBusDestroyed. With clear (the usual choice) handlers and history are dropped so
// the bus can be garbage collected; without it they stay readable through Handlers, History and
// HistoryEvent (Find and Filter return ErrBusDestroyed). Events still queued end without running on this
// bus: their Now, Wait and result accessors return an error matching ErrBusDestroyed. Other buses and shared events are
// unaffected except that events finish on this bus. Destroy is idempotent.
func (b *Bus) Destroy(clear bool) {
	if !b.usable() {
		return
	}
	b.mu.Lock()
	if b.destroyed {
		if clear {
			b.clearLocked()
		}
		b.mu.Unlock()
		return
	}
	b.destroyed = true
	var queued []*BaseEvent
	for _, e := range b.queue[b.qhead:] {
		e.queued.Add(-1)
		queued = append(queued, e)
	}
	b.queue, b.qhead = nil, 0
	b.headChangedLocked()
	runs := b.runs.all()
	finders := b.finders
	b.finders = nil
	b.mu.Unlock()

	cause := &EventBusDestroyedError{Bus: b.label, Op: "Destroy", Cause: context.Canceled}
	for _, f := range finders {
		f.deliver(nil)
	}
	for _, r := range runs {
		r.stop(cause, stopDestroy)
	}
	for _, e := range queued {
		// run it with no handlers so it finishes on this bus, recording that it was never processed here
		e.mu.Lock()
		if e.xr().failErr == nil {
			e.xw().failErr = &EventBusDestroyedError{Bus: b.label, Op: "Destroy", Cause: context.Canceled}
		}
		e.mu.Unlock()
		b.mu.Lock()
		r := b.newRunLocked(e, nil)
		b.mu.Unlock()
		r.handlers = nil
		r.begin(stampNow)
	}
	if clear {
		b.mu.Lock()
		b.clearLocked()
		b.mu.Unlock()
	}
}

func (b *Bus) clearLocked() {
	b.byType = map[string][]*Handler{}
	b.wildcard = nil
	b.handlerIDs = map[ID]*Handler{}
	b.hist.clear()
}

// IsDestroyed reports whether Destroy was called.
func (b *Bus) IsDestroyed() bool {
	if !b.usable() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.destroyed
}

// SetMaxHistory changes max_history_size / max_history_drop at run time (see Options) and applies the
// new policy to the retained history at once: completed events are evicted oldest first; in drop mode
// unfinished ones too. Negative size means unbounded.
func (b *Bus) SetMaxHistory(size int, drop bool) {
	if !b.usable() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if size < 0 {
		size = -1
	}
	b.maxHistory, b.drop = size, drop
	b.histZero.Store(size == 0) // before the trim below reads the events' completion (see onEventCompleted)
	if size < 0 {
		return
	}
	for b.hist.n > size {
		if !b.hist.evictCompleted() {
			if !drop {
				return
			}
			b.hist.evictOldest()
		}
	}
}
