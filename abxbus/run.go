package abxbus

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// run is the processing of one event on one bus: its results, its schedule (serial or parallel
// handlers), its timeouts and the slots it holds. Run state is guarded by the event's mu.
//
// Ownership: whichever goroutine moves a result to a terminal state drives what follows (starting the
// next serial handler, finishing the run, continuing the bus dispatcher). A handler goroutine that
// returns after its result was already finalised (timeout, abort) just exits, so a stuck handler never
// blocks the event or the bus.
type run struct {
	bus      *Bus
	ev       *BaseEvent
	handlers []*Handler
	opts     runOpts  // resolved: event overrides merged with the bus defaults
	lender   *run     // run whose slots this one borrows (queue-jump, F103-F106)
	held     [2]*slot // slots taken (nheld of them)
	exempt   [2]*slot // slots an unlocked run needed and runs without (nexempt of them)

	// guarded by ev.mu
	results  []*EventResult
	deadline int64    // event deadline, Unix ns (0: none)
	slowAt   int64    // event slow warning, Unix ns (0: none or done)
	alarmAt  int64    // the run's next alarm (Unix ns; 0: none); written with its shard's mu held too (alarms.go)
	preStop  *preStop // stop requested before begin (rare)

	// waitingOn is the slot the run is blocked on while acquiring (nil otherwise); see deadlock.go.
	waitingOn atomic.Pointer[slot]

	lmu sync.Mutex
	lx  *runLend // borrowers and the abort channel, created on first use (lmu)

	// small fields, packed. Guarded by ev.mu: next, running, terminal, finished, begun, inEvent.
	// By the alarm shard's mu: alarm.
	// By lmu: releasePending, released, acquiring, abortWhy.
	next       int32
	running    int32
	terminal   int32
	alarm      int32 // index + 1 of the run in shardFor(r).heap, 0: not queued (guarded by that shard's mu)
	nheld      int8
	nexempt    int8
	dispatcher bool // started by the bus dispatcher: its finisher continues dispatching
	unlocked   bool // waits for no slot (Now from outside any handler runs the event at once)
	parallel   bool // handlers run in parallel (event_handler_concurrency)
	first      bool // the first valid result completes the event (event_handler_completion)
	finished   bool
	begun      bool // begin has run (results exist)
	inEvent    bool // listed in ev.runs
	blocked    bool // acquire waited for a slot (owned by the acquiring goroutine)
	stopped    bool // stopLocked has run: unfinished results were ended, no new deadline applies

	releasePending bool
	released       bool
	acquiring      bool        // blocked in acquire at least once and not done: able to give up
	abortWhy       abortReason // why the acquisition must stop
}

// runOpts are the resolved timeouts a run reads (the handler concurrency and completion mode are the
// run's parallel and first flags): the event's overrides merged with the bus defaults, kept compact.
type runOpts struct {
	Timeout time.Duration
}

// runLend is the part of a run's slot-lending state that only queue-jumps and slot waits use.
type runLend struct {
	borrowers []*run        // runs that borrow this run's slots
	abortCh   chan struct{} // closed when abortWhy is set; created on demand
}

// lendState returns r.lx, creating it; r.lmu held.
func (r *run) lendState() *runLend {
	if r.lx == nil {
		r.lx = &runLend{}
	}
	return r.lx
}

// nborrowers is len(r.lx.borrowers); r.lmu held.
func (r *run) nborrowers() int {
	if r.lx == nil {
		return 0
	}
	return len(r.lx.borrowers)
}

type abortReason uint8

const (
	abortNone     abortReason = iota
	abortStop                 // stopped before it began (Destroy, a parent's timeout)
	abortDeadlock             // its wait for a slot would close a cycle
)

// abortChan returns the channel closed when the run's acquisition must stop.
func (r *run) abortChan() <-chan struct{} {
	r.lmu.Lock()
	defer r.lmu.Unlock()
	x := r.lendState()
	if x.abortCh == nil {
		x.abortCh = make(chan struct{})
		if r.abortWhy != abortNone {
			close(x.abortCh)
		}
	}
	return x.abortCh
}

// abort asks the run to stop acquiring. A deadlock abort is accepted only while the run is acquiring
// (it then gives up and requeues its event); abort reports whether the run will act on it.
func (r *run) abort(why abortReason) bool {
	r.lmu.Lock()
	defer r.lmu.Unlock()
	if r.abortWhy != abortNone {
		return r.abortWhy == why
	}
	if why == abortDeadlock && !r.acquiring {
		return false
	}
	r.abortWhy = why
	if r.lx != nil && r.lx.abortCh != nil {
		close(r.lx.abortCh)
	}
	return true
}

func (r *run) aborted() abortReason {
	r.lmu.Lock()
	defer r.lmu.Unlock()
	return r.abortWhy
}

// newRunLocked prepares a run of e on b (b.mu held). Handlers are resolved now, when processing
// starts (F68).
func (b *Bus) newRunLocked(e *BaseEvent, lender *run) *run {
	r := e.newRun(b)
	b.initRunLocked(r, lender)
	return r
}

// initRunLocked prepares r (bus and event set) to run (b.mu held).
func (b *Bus) initRunLocked(r *run, lender *run) {
	e := r.ev
	r.lender = lender
	o := e.o().merge(b.defaults)
	r.opts = runOpts{Timeout: o.Timeout}
	r.slowAt = int64(o.SlowTimeout) // until begin: the event slow-warning delay (begin makes it a time)
	r.parallel, r.first = o.HandlerConcurrency == HandlersParallel, o.Completion == CompleteFirst
	exact, wild := b.byType[e.eventType], b.wildcard
	switch {
	case len(wild) == 0:
		r.handlers = exact
	case len(exact) == 0:
		r.handlers = wild
	default:
		r.handlers = append(append(make([]*Handler, 0, len(exact)+len(wild)), exact...), wild...)
	}
	b.runs.add(r)
	if lender != nil {
		// A queue-jump from a handler may wait for slots before it begins: from now on a stop and the
		// deadlock detector reach it through the event. (Other runs never wait once created; they join
		// the event in begin, and a stop before that reaches them through the bus or e.cancelled.)
		e.mu.Lock()
		r.inEvent = true
		e.runs = append(e.runs, r)
		e.mu.Unlock()
	}
}

func (r *run) serial() bool { return !r.parallel }

// holds reports whether r or a run it borrows from holds s (or runs without it: an unlocked run lets its
// queue-jumping children run without the slots it was exempted from too).
func (r *run) holds(s *slot) bool {
	for x := r; x != nil; x = x.lender {
		for i := int8(0); i < x.nheld; i++ {
			if x.held[i] == s {
				return true
			}
		}
		for i := int8(0); i < x.nexempt; i++ {
			if x.exempt[i] == s {
				return true
			}
		}
	}
	return false
}

// acquire takes the slots the run needs, borrowing those its lender chain holds. It stops early when the
// run is stopped (begin then ends it) or when waiting would deadlock: then it returns true and the caller
// must give the run up (abandon).
func (r *run) acquire(priority bool) (abandon bool) {
	need, n := r.bus.slotsFor(r.ev)
	if r.unlocked {
		// Never waits: takes the slots that are free, so that on an idle bus the event still runs alone.
		// The slots it could not take count as held for its queue-jumping children (see holds).
		for i := 0; i < n; i++ {
			if need[i].tryAcquire(r) {
				r.held[r.nheld] = need[i]
				r.nheld++
			} else {
				r.exempt[r.nexempt] = need[i]
				r.nexempt++
			}
		}
		return false
	}
	if r.lender != nil {
		lent := false
		for i := 0; i < n; i++ {
			lent = lent || r.lender.holds(need[i])
		}
		if !lent || !r.lender.lend(r) {
			r.lender = nil
		}
	}
	for i := 0; i < n; i++ {
		if r.lender != nil && r.lender.holds(need[i]) {
			continue
		}
		s := need[i]
		if !r.take(s, priority) {
			break
		}
		r.held[r.nheld] = s
		r.nheld++
	}
	if !r.blocked {
		return false // never waited, so never asked to give up (the queue-jump fast path)
	}
	// A deadlock abort accepted while acquiring is always carried out, even when the slot arrived
	// meanwhile: whoever asked for it waits for the event to be requeued.
	r.lmu.Lock()
	r.acquiring = false
	why := r.abortWhy
	r.lmu.Unlock()
	return why == abortDeadlock
}

// abandon gives up a queue-jump whose wait for a slot would have closed a cycle: the slots taken and
// borrowed go back, the event returns to the head of the bus queue (it runs later in queue order) and
// the handlers awaiting it re-check their wait. On a bus destroyed meanwhile the run just ends.
func (r *run) abandon() {
	for i := r.nheld - 1; i >= 0; i-- {
		r.held[i].release()
	}
	r.nheld = 0
	b, e := r.bus, r.ev
	b.mu.Lock()
	if b.destroyed {
		b.mu.Unlock()
		if r.begin(stampNow) {
			b.dispatchLoop()
		}
		return
	}
	b.runs.remove(r)
	e.mu.Lock()
	if i := slices.Index(e.runs, r); i >= 0 {
		e.runs = slices.Delete(e.runs, i, i+1)
	}
	if e.xr().jumpLender == r.lender {
		e.jumping = false
		if e.x != nil {
			e.x.jumpLender = nil
		}
	}
	e.mu.Unlock()
	b.pushFrontLocked(e)
	b.mu.Unlock()
	if r.lender != nil {
		r.lender.borrowerDone(r)
	}
	e.nudge()
}

func (r *run) lend(b *run) bool {
	r.lmu.Lock()
	defer r.lmu.Unlock()
	if r.released || r.releasePending {
		return false
	}
	x := r.lendState()
	x.borrowers = append(x.borrowers, b)
	return true
}

// release gives back the run's slots unless borrowers still run under them, in which case the last
// borrower releases them. It reports whether the caller must continue the bus dispatcher.
func (r *run) release() bool {
	r.lmu.Lock()
	if r.nborrowers() > 0 {
		r.releasePending = true
		r.lmu.Unlock()
		return false
	}
	r.released = true
	r.lmu.Unlock()
	for i := r.nheld - 1; i >= 0; i-- {
		r.held[i].release()
	}
	if r.lender != nil {
		r.lender.borrowerDone(r)
	}
	return r.dispatcher
}

func (r *run) borrowerDone(b *run) {
	r.lmu.Lock()
	if x := r.lx; x != nil {
		if i := slices.Index(x.borrowers, b); i >= 0 {
			x.borrowers = slices.Delete(x.borrowers, i, i+1)
		}
	}
	take := r.nborrowers() == 0 && r.releasePending
	if take {
		r.releasePending = false
	}
	r.lmu.Unlock()
	if take && r.release() {
		go r.bus.dispatchLoop()
	}
}

// begin starts the run on the calling goroutine. It returns true when the caller must continue the
// bus dispatcher (see drive).
func (r *run) begin(st stamp) bool {
	next, fin, first := r.start(st)
	if first != nil {
		var won bool
		if next, fin, won = r.invoke(first); !won {
			return false
		}
	}
	return r.drive(next, fin)
}

// stamp says how a run's start is timestamped.
type stamp uint8

const (
	stampNow  stamp = iota // read the clock
	stampTick              // the caller read it just before, with nothing since that waits or runs user code (dispatchLoop)
	stampCall              // stampTick when the event is the typed Call's own, created just before on this goroutine (runHere)
)

// start is begin up to the first handler call: it returns what drive continues with, or, for parallel
// handlers (the others already started on their own goroutines), the first one, which the caller
// invokes before driving. Split from begin so that its frame is off the stack while handlers run: a
// run's new goroutine then needs no stack growth for a small handler (issue 13 item 5).
func (r *run) start(st stamp) (next *EventResult, fin bool, first *EventResult) {
	e := r.ev
	e.mu.Lock()
	for len(e.xr().gates) > 0 { // future lookups are being offered the event (see Bus.accept)
		g := e.x.gates[0]
		e.mu.Unlock()
		<-g
		e.mu.Lock()
		st = stampNow
	}
	if st == stampCall && !e.callNew {
		st = stampNow
	}
	e.callNew = false
	var t int64
	if st != stampNow {
		t = tick() // the caller read the clock just before (dispatchLoop, typed Call)
	} else {
		t = now()
	}
	r.begun = true
	if !r.inEvent {
		r.inEvent = true
		e.runs = append(e.runs, r)
	}
	if e.status != evStarted {
		e.status = evStarted
		e.startedAt = t
	}
	hooked := r.bus.hooks != nil
	if hooked {
		e.noteEventLocked(r.bus, evStarted)
	}
	n := len(r.handlers)
	if n == 1 && !e.inlineUsed && len(e.results) == 0 {
		// e.results gets the same result appended below: both lists share e.resultsBuf (appends to
		// either copy, len = cap).
		e.inlineUsed = true
		r.results = e.resultsBuf[:1:1]
		r.results[0] = &e.inline
	} else {
		r.results = make([]*EventResult, n)
		if n > 0 {
			block := make([]EventResult, n)
			for i := range block {
				r.results[i] = &block[i]
			}
		}
	}
	seeded := e.unownedRowsLocked() // rows recorded before this run (usually none)
	for i, h := range r.handlers {
		if old := seededRow(seeded, h); old != nil {
			// A row recorded before this run (a restored bus, UpdateResult ahead of processing) is
			// this handler's result: a finished one stands, an unfinished one runs again in it.
			r.results[i] = old
			old.bus, old.run = r.bus, r
			if old.status.terminal() {
				r.terminal++
			} else {
				old.status, old.startedAt, old.completedAt = rsPending, 0, 0
				if hooked {
					e.noteResultLocked(old, evPending)
				}
			}
			continue
		}
		res := r.results[i]
		res.ev, res.bus, res.handler, res.run = e, r.bus, h, r
		res.id = newIDAt(tick()) // each id its own timestamp (ids.go)
		res.status = rsPending
		e.results = append(e.results, res)
		if hooked {
			e.noteResultLocked(res, evPending)
		}
	}
	if d := r.opts.Timeout; d > 0 {
		r.deadline = t + int64(d)
	}
	if d := r.slowAt; d > 0 {
		r.slowAt = t + d
	} else {
		r.slowAt = 0
	}
	r.scheduleLocked(earliest(r.deadline, r.slowAt), t)
	var cascade []cascadeItem
	if r.preStop != nil {
		r.stopLocked(r.preStop.cause, r.preStop.kind, &cascade)
	} else if c := e.xr().cancelled; c != nil {
		r.stopLocked(c, stopParent, &cascade)
	}
	parallel := !r.serial() && int(r.terminal) < n
	if parallel {
		for _, res := range r.results {
			if res.status == rsPending {
				r.startLocked(res, t)
			}
		}
	} else {
		next, fin = r.advanceLocked()
	}
	e.mu.Unlock()
	if hooked {
		e.flushHooks()
	}
	r.cascade(cascade)
	if parallel {
		for _, res := range r.results[1:] {
			go r.runParallel(res)
		}
		return nil, false, r.results[0]
	}
	return next, fin, nil
}

// unownedRowsLocked lists the result rows no run owns (seeded by UpdateResult or restored from JSON);
// e.mu held. It allocates only when there are some.
func (e *BaseEvent) unownedRowsLocked() []*EventResult {
	var out []*EventResult
	for _, x := range e.results {
		if x.run == nil {
			out = append(out, x)
		}
	}
	return out
}

func seededRow(rows []*EventResult, h *Handler) *EventResult {
	for _, x := range rows {
		if x.handler == h && x.run == nil {
			return x
		}
	}
	return nil
}

func (r *run) runParallel(res *EventResult) {
	if next, fin, won := r.invoke(res); won && r.drive(next, fin) {
		r.bus.dispatchLoop()
	}
}

// drive runs serial handlers one after another and finishes the run when it is over. It returns true
// when the run was finished here, its slots released, and it was a dispatcher run: the caller then owns
// the bus dispatcher role.
func (r *run) drive(next *EventResult, fin bool) bool {
	for {
		if fin {
			return r.finish(tick)
		}
		if next == nil {
			return false
		}
		var won bool
		if next, fin, won = r.invoke(next); !won {
			return false
		}
	}
}

// advanceLocked decides what happens after a state change: the next serial handler to run (already
// marked started), or fin=true when every result is terminal (the caller then finishes the run).
// Callers have read the clock in the same critical section (begin, settleChecked, onAlarm; stop only
// starts nothing): the next handler's start is stamped with tick, not a new reading.
func (r *run) advanceLocked() (next *EventResult, fin bool) {
	if r.finished {
		return nil, false
	}
	if r.serial() && r.running == 0 {
		for int(r.next) < len(r.results) {
			res := r.results[r.next]
			r.next++
			if res.status == rsPending {
				r.startLocked(res, tick())
				return res, false
			}
		}
	}
	if int(r.terminal) == len(r.results) {
		r.finished = true
		return nil, true
	}
	return nil, false
}

// startLocked marks res started and computes its deadline (D6) and slow-warning time (F135-F136).
func (r *run) startLocked(res *EventResult, t int64) {
	res.status = rsStarted
	res.startedAt = t
	r.running++
	if r.bus.hooks != nil {
		r.ev.noteResultLocked(res, evStarted)
	}
	h := res.handler
	ht, hs := h.timeout.load(), h.slowTimeout.load()
	// handler_timeout -> event_handler_timeout -> the resolved event timeout (the event's own, else the
	// bus's), capped by the event deadline.
	// A resolved NoTimeout is negative: no limit.
	src := orElse(orElse(ht, r.ev.o().HandlerTimeout), r.opts.Timeout)
	res.deadline = r.deadline
	if d := src; d > 0 {
		if own := t + int64(d); r.deadline == 0 || own < r.deadline {
			res.deadline = own
			res.timeout = d
			res.ownDeadline = true
		}
	}
	if r.stopped {
		res.deadline = 0
	}
	slow := orElse(orElse(hs, r.ev.o().HandlerSlowTimeout), r.bus.defaults.HandlerSlowTimeout)
	slowAt := int64(0)
	if d := slow; d > 0 && (res.deadline == 0 || res.deadline-t > int64(d)) {
		slowAt = t + int64(d)
		res.slowAt = slowAt
	}
	r.scheduleLocked(earliest(res.deadline, slowAt), t) // one shard visit for both
}

// call runs the handler function, turning a panic into an error with its stack (D2). A handler that
// calls runtime.Goexit (t.FailNow in a test's handler) ends the calling goroutine: its result is settled
// as an error on a new goroutine, which takes over whatever this goroutine was doing for the run (driving
// the next handler, the bus dispatcher); call then never returns.
func (r *run) call(res *EventResult) (v any, err error) {
	returned := false
	defer func() {
		if returned {
			return
		}
		if p := recover(); p != nil {
			v, err = nil, &EventHandlerPanicError{Value: p, Stack: debug.Stack()}
			return
		}
		exitErr := &EventHandlerPanicError{Value: "handler called runtime.Goexit (t.FailNow, t.Fatal or t.SkipNow in a handler?); the handler did not return", Stack: debug.Stack()}
		go func() {
			if next, fin, won := r.settleChecked(res, nil, true, exitErr); won && r.drive(next, fin) {
				r.bus.dispatchLoop()
			}
		}()
	}()
	fn, _, _ := res.handler.function()
	if fn == nil {
		returned = true
		return nil, fmt.Errorf("%w: handler %s was restored from JSON and no function was registered with its id", ErrInvalidOption, res.handler.Label())
	}
	var ctx context.Context = (*handlerCtx)(res)
	if h := r.bus.hooks; h != nil && len(h.ctx) > 0 {
		ctx = r.handlerContext(ctx, res)
	}
	v, err = fn(ctx, r.ev)
	returned = true
	return v, err
}

// invoke runs one started handler and settles its result. won is false when the result had already
// been finalised by someone else (timeout, abort): the caller then stops driving.
func (r *run) invoke(res *EventResult) (next *EventResult, fin, won bool) {
	v, err := r.call(res)
	null := false
	if err == nil { // checked here, not in settleChecked: the check's large frame is not stacked on settleChecked's
		v, null, err = r.ev.checkResult(res.handler, v)
	}
	return r.settleChecked(res, v, null, err)
}

// settleChecked records what a handler call returned, after the result check (invoke), and decides
// what runs next.
func (r *run) settleChecked(res *EventResult, v any, null bool, err error) (next *EventResult, fin, won bool) {
	e := r.ev
	e.mu.Lock()
	if res.status != rsStarted {
		e.mu.Unlock()
		return nil, false, false
	}
	var cascade []cascadeItem
	// The deadline, not the timer, decides: a handler that returns after its deadline while the alarm
	// is still on its way (a busy machine fires timers late) gets the timeout outcome, not its value.
	// One clock reading decides the deadline and stamps the completion.
	t := now()
	if res.deadline != 0 && t >= res.deadline {
		r.expireEventLocked(t, &cascade)
		r.expireHandlerLocked(res, t, &cascade)
	}
	if res.status == rsStarted {
		r.settleLocked(res, t, v, null, err, &cascade)
	}
	next, fin = r.advanceLocked()
	e.mu.Unlock()
	res.cancel(context.Canceled)
	if r.bus.hooks != nil {
		e.flushHooks()
	}
	r.cascade(cascade)
	return next, fin, true
}

// settleLocked moves res to its terminal state, completed at t (a timestamp of this critical section).
// In first-completion mode a valid result stops the rest.
func (r *run) settleLocked(res *EventResult, t int64, v any, null bool, err error, cascade *[]cascadeItem) {
	if res.status == rsStarted {
		r.running--
	}
	r.terminal++
	res.completedAt = t
	if r.bus.hooks != nil {
		// Noted before the fields are set: they are read by the hook after the lock is released.
		r.ev.noteResultLocked(res, evCompleted)
	}
	if err != nil {
		res.status, res.err, res.value, res.null = rsError, err, nil, true
		return
	}
	res.status, res.value, res.null = rsCompleted, v, null
	if res.validLocked() {
		e := r.ev
		if !e.hasValid {
			e.hasValid = true
			if e.x != nil && e.x.firstValid != nil {
				close(e.x.firstValid)
			}
		}
		if r.first && !r.stopped {
			r.stopLocked(errFirstCompletion, stopFirst, cascade)
		}
	}
}

type stopKind uint8

// preStop is a stop requested before the run began: begin carries it out.
type preStop struct {
	cause error
	kind  stopKind
}

const (
	stopEventTimeout stopKind = iota
	stopFirst
	stopParent
	stopDestroy
)

// errFirstCompletion is the cause recorded on first-completion losers (D12: not counted as failures).
// It matches context.Canceled: the losers were cancelled, not timed out.
var errFirstCompletion error = &stopCause{msg: "event_handler_completion='first' resolved", ctxErr: context.Canceled}

// stopCause is a stop cause that is neither a timeout nor a destroy: its text, and the context error it
// stands for (what errors.Is finds through the cancelled and aborted handler errors it causes).
type stopCause struct {
	msg    string
	ctxErr error
}

func (c *stopCause) Error() string { return c.msg }
func (c *stopCause) Unwrap() error { return c.ctxErr }

// parentStopError is the cause recorded on the handlers of a blocking child when the parent's handler
// that was waiting for it stopped (F140): it names the parent event and wraps what stopped that handler
// (its timeout, the event timeout, a first-completion loss, Destroy, or its own parent's stop), so the
// child's outcome matches context.DeadlineExceeded or context.Canceled as the parent's did.
type parentStopError struct {
	parent string
	cause  error
}

func (e *parentStopError) Error() string {
	return "parent " + e.parent + " stopped: " + e.cause.Error()
}
func (e *parentStopError) Unwrap() error { return e.cause }

// cascadeItem is a blocking child to stop, with the cause recorded on its handlers.
type cascadeItem struct {
	ev    *BaseEvent
	cause error
}

// ctxErrFor is the error a handler's context ends with when cause stops it: context.DeadlineExceeded
// for a deadline, context.Canceled for anything else.
func ctxErrFor(cause error) error {
	if errors.Is(cause, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return context.Canceled
}

// stopLocked ends every unfinished result of the run: pending ones become EventHandlerCancelledError,
// started ones EventHandlerAbortedError with their contexts cancelled (F125, F126, F138, F140, F269).
// Blocking children of aborted handlers are collected for the cascade (F130, F140).
func (r *run) stopLocked(cause error, kind stopKind, cascade *[]cascadeItem) {
	r.stopped = true
	var t int64 // one clock reading for the first result stopped here, ticks after it
	stamp := func() int64 {
		if t == 0 {
			t = now()
		} else {
			t = tick()
		}
		return t
	}
	for _, res := range r.results {
		switch res.status {
		case rsPending:
			r.settleLocked(res, stamp(), nil, true, &EventHandlerCancelledError{Message: r.stopMessage(res, cause, kind, false), Cause: cause}, cascade)
		case rsStarted:
			r.settleLocked(res, stamp(), nil, true, &EventHandlerAbortedError{Message: r.stopMessage(res, cause, kind, true), Cause: cause}, cascade)
			res.cancel(ctxErrFor(cause))
			r.collectBlockingLocked(res, cause, cascade)
		default:
			continue
		}
		if kind == stopFirst {
			res.firstLoser = true
		}
	}
}

// collectBlockingLocked lists the blocking children of res, stopped because cause stopped res.
func (r *run) collectBlockingLocked(res *EventResult, cause error, cascade *[]cascadeItem) {
	for _, c := range res.children() {
		if c.blocksParentNoLock() {
			*cascade = append(*cascade, cascadeItem{ev: c, cause: &parentStopError{parent: r.ev.label(), cause: cause}})
		}
	}
}

func (r *run) stopMessage(res *EventResult, cause error, kind stopKind, started bool) string {
	who := r.bus.label + "." + res.handler.Label() + "(" + r.ev.label() + ")"
	switch kind {
	case stopEventTimeout:
		if started {
			return "Event handler " + who + " was interrupted because the event timed out after " + seconds(r.opts.Timeout) + "s"
		}
		return "Cancelled pending handler " + who + ": event timed out after " + seconds(r.opts.Timeout) + "s"
	case stopFirst:
		if started {
			return "Aborted " + who + ": event_handler_completion='first' resolved"
		}
		return "Cancelled " + who + ": event_handler_completion='first' resolved"
	case stopParent:
		if started && errors.Is(cause, context.DeadlineExceeded) {
			return "Event handler " + who + " was interrupted because of a parent timeout: " + cause.Error()
		}
		if started {
			return "Event handler " + who + " was interrupted because its parent was stopped: " + cause.Error()
		}
		return "Cancelled pending handler " + who + " as a result of parent error: " + cause.Error()
	}
	if started {
		return "Event handler " + who + " was aborted: " + cause.Error()
	}
	return "Cancelled pending handler " + who + ": " + cause.Error()
}

func seconds(d time.Duration) string {
	return fmt.Sprintf("%g", timeoutSeconds(d))
}

// stop ends the run from outside (parent cascade, destroy). If that finished the run, its continuation
// runs on a new goroutine.
func (r *run) stop(cause error, kind stopKind) {
	e := r.ev
	e.mu.Lock()
	if r.finished {
		e.mu.Unlock()
		return
	}
	if !r.begun {
		// Still acquiring its slots (or about to begin): begin ends it.
		if r.preStop == nil {
			r.preStop = &preStop{cause, kind}
		}
		e.mu.Unlock()
		_ = r.abort(abortStop)
		return
	}
	var cascade []cascadeItem
	r.stopLocked(cause, kind, &cascade)
	next, fin := r.advanceLocked()
	e.mu.Unlock()
	if r.bus.hooks != nil {
		e.flushHooks()
	}
	r.cascade(cascade)
	if fin || next != nil {
		go func() {
			// A run stopped with nothing left finishes here, a goroutine start after the stop's
			// reading: its completion gets a reading of its own.
			if fin && r.finish(now) || !fin && r.drive(next, fin) {
				r.bus.dispatchLoop()
			}
		}()
	}
}

// cascade cancels the blocking children of a stopped handler, recursively (F140): their pending
// handlers are cancelled, their running ones aborted; background children are untouched.
func (r *run) cascade(children []cascadeItem) {
	for _, c := range children {
		c.ev.abortTree(c.cause)
	}
}

func (e *BaseEvent) abortTree(cause error) {
	e.mu.Lock()
	if e.status == evCompleted {
		e.mu.Unlock()
		return
	}
	if e.xr().cancelled == nil {
		e.xw().cancelled = cause
	}
	runs := slices.Clone(e.runs)
	e.mu.Unlock()
	for _, r := range runs {
		r.stop(cause, stopParent)
	}
}

// onAlarm handles the run's timer: event timeout (F138), handler timeouts (F137, D6) and slow warnings
// (F136). It continues driving the run on this goroutine when a timeout finalised the running handler.
func (r *run) onAlarm() {
	e := r.ev
	t := now()
	var cascade []cascadeItem
	var warns []string
	e.mu.Lock()
	if r.finished {
		e.mu.Unlock()
		return
	}
	r.expireEventLocked(t, &cascade)
	next := int64(0)
	keep := func(at int64) {
		if at != 0 && (next == 0 || at < next) {
			next = at
		}
	}
	for _, res := range r.results {
		if res.status != rsStarted {
			continue
		}
		if r.expireHandlerLocked(res, t, &cascade) {
			continue
		}
		if res.slowAt != 0 && t >= res.slowAt {
			res.slowAt = 0
			warns = append(warns, "[abxbus] Slow event handler: "+r.bus.label+".on("+e.label()+", "+res.handler.Label()+") still running")
		}
		if res.ownDeadline {
			keep(res.deadline)
		}
		keep(res.slowAt)
	}
	if r.slowAt != 0 && t >= r.slowAt {
		r.slowAt = 0
		warns = append(warns, "[abxbus] Slow event processing: "+r.bus.label+".on("+e.label()+") still running")
	}
	keep(r.slowAt)
	if !r.stopped {
		keep(r.deadline)
	}
	r.rescheduleLocked(next, t)
	nextRes, fin := r.advanceLocked()
	e.mu.Unlock()
	if r.bus.hooks != nil {
		e.flushHooks()
	}
	for _, w := range warns {
		r.bus.logger.Warn(w, "bus", r.bus.label, "event", e.label())
	}
	r.cascade(cascade)
	if r.drive(nextRes, fin) {
		r.bus.dispatchLoop()
	}
}

// expireEventLocked applies the event timeout (F138) when the event deadline has passed.
func (r *run) expireEventLocked(t int64, cascade *[]cascadeItem) {
	if r.deadline != 0 && t >= r.deadline && !r.stopped {
		r.stopLocked(&EventTimeoutError{
			Message: fmt.Sprintf("Event %s.on(%s) timed out after %ss", r.bus.label, r.ev.label(), seconds(r.opts.Timeout)),
			Timeout: r.opts.Timeout,
		}, stopEventTimeout, cascade)
	}
}

// expireHandlerLocked applies a started handler's own timeout (F137) when its deadline has passed.
func (r *run) expireHandlerLocked(res *EventResult, t int64, cascade *[]cascadeItem) bool {
	if res.status != rsStarted || !res.ownDeadline || t < res.deadline {
		return false
	}
	who := r.bus.label + "." + res.handler.Label() + "(" + r.ev.label() + ")"
	r.settleLocked(res, tick(), nil, true, &EventHandlerTimeoutError{
		Message: "Event handler " + who + " timed out after " + fmt.Sprintf("%g", res.timeout.Seconds()) + "s",
		Timeout: res.timeout,
	}, cascade)
	res.cancel(context.DeadlineExceeded)
	r.collectBlockingLocked(res, res.err, cascade)
	return true
}

// finish ends the run: the event leaves this bus (it may complete, F146), the slots are released and the
// bus bookkeeping updated. It returns true when the caller must continue the bus dispatcher. stamp
// gives the event's completion time: tick when the caller read the clock just before (drive: the last
// settle or begin), now otherwise.
func (r *run) finish(stamp func() int64) bool {
	e := r.ev
	e.mu.Lock()
	r.unscheduleLocked()
	if i := slices.Index(e.runs, r); i >= 0 {
		e.runs = slices.Delete(e.runs, i, i+1)
	}
	e.pendingBuses--
	done := e.tryCompleteStampLocked(stamp)
	e.mu.Unlock()
	cont := r.release()
	if done && e.afterComplete(r) {
		return cont // runDone is the last note of the event's hook queue
	}
	r.bus.runDone(r)
	return cont
}
