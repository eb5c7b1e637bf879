package abxbus

import (
	"context"
	"fmt"
	"runtime"
)

// WaitOption shapes Now and Wait.
type WaitOption int

const (
	// FirstResult returns as soon as the first valid result exists (or the event completes without one);
	// the remaining handlers keep running.
	FirstResult WaitOption = iota + 1
)

// Now processes the event immediately and waits for it:
//   - outside a handler, a queued event leaves its bus queue and starts at once, even while another
//     event of that bus (or of its global-serial domain) is running: the serial slot it cannot take is
//     waived for this one event. Now then waits for completion;
//   - inside a handler (ctx is the handler's context), the event queue-jumps: it runs at once, borrowing
//     the bus-serial / global-serial slot the calling handler's event holds, so awaiting a child is a
//     function call and never deadlocks. An event forwarded to further buses jumps there
//     too. Awaiting a linked child from the handler that emitted it marks it as blocking its
//     parent's completion.
//
// ctx bounds only this wait; processing continues if it ends. Now returns nil once the event is
// completed (or, with FirstResult, has a valid result); handler errors are read through the result
// accessors. Errors: the emit rejection recorded on the event, ErrNotEmitted, ErrWouldDeadlock,
// ctx.Err().
func (e *BaseEvent) Now(ctx context.Context, opts ...WaitOption) error {
	if err := e.unusable("Now"); err != nil {
		return err
	}
	return e.wait(ctx, true, opts)
}

// Wait waits for the event to complete through normal queue order; it never queue-jumps. From
// inside a handler, waiting on an event that cannot start before that handler returns (queued behind
// the slot the handler's event holds) returns ErrWouldDeadlock at once.
func (e *BaseEvent) Wait(ctx context.Context, opts ...WaitOption) error {
	if err := e.unusable("Wait"); err != nil {
		return err
	}
	return e.wait(ctx, false, opts)
}

func (e *BaseEvent) wait(ctx context.Context, jump bool, opts []WaitOption) error {
	first := false
	for _, o := range opts {
		switch o {
		case FirstResult:
			first = true
		default:
			return fmt.Errorf("%w: unknown wait option %d", ErrInvalidOption, o)
		}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	caller := currentResult(ctx)
	e.mu.Lock()
	if e.xr().emitErr != nil {
		err := e.x.emitErr
		e.mu.Unlock()
		return err
	}
	if jump && caller != nil && e.lr().emittedByRes == caller && !e.blocksParent {
		// Awaiting a linked child from the handler that emitted it makes it block the parent, whether or
		// not it has completed already.
		e.blocksParent = true
	}
	if e.signalledLocked() || first && e.hasValid { // also a completed event decoded from JSON
		err := e.xr().failErr
		e.mu.Unlock()
		return err
	}
	if len(e.buses.get()) == 0 {
		e.mu.Unlock()
		return fmt.Errorf("%s: %w", e.label(), ErrNotEmitted)
	}
	var lender *run
	if caller != nil {
		if caller.ev == e && !first {
			e.mu.Unlock()
			return fmt.Errorf("%s waits on its own event: %w", caller.handler.Label(), ErrWouldDeadlock)
		}
		lender = caller.run
	}
	var ch chan struct{}
	var w *nowWaiter // outside a handler: a pooled channel instead of the done channel (spawn.go)
	switch {
	case first:
		ch = e.firstValidLocked()
	case caller == nil:
		if w = e.waiterLocked(); w != nil {
			ch = w.ch
			break
		}
		fallthrough
	default:
		ch = e.doneLocked()
	}
	var busArr [4]*Bus // stays on the stack in the common case
	buses := busArr[:0]
	if jump {
		if !e.jumping || e.xr().jumpLender == nil {
			e.jumping = true
			if lender != nil || e.x != nil {
				e.xw().jumpLender = lender
			}
		}
		buses = append(buses, e.buses.get()...)
	}
	e.mu.Unlock()

	// An event emitted by Call was queue-jumping on every bus from its first accept: a bus that did not
	// leave it queued for this Now (a parallel one, or one it was forwarded to) started it already, so
	// when no queue holds it there is nothing to take out (and no bus lock to take).
	if jump && !(e.called && e.queued.Load() == 0) {
		here := lender == nil && !first && len(buses) == 1 // may run on this goroutine (WithInline)
		for _, b := range buses {
			e.jumpOn(b, lender, here)
		}
	}
	select {
	case <-ch:
		if w != nil {
			waiterPool.Put(w) // afterComplete took it from the event before waking it
		}
		return e.failure()
	default:
	}
	if caller != nil && caller.ev != e { // (a handler may wait for its own event's first result)
		op := "Wait"
		if jump {
			op = "Now"
		}
		return e.handlerWait(ctx, caller, ch, op)
	}
	select {
	case <-ch:
		if w != nil {
			waiterPool.Put(w)
		}
		return e.failure()
	case <-ctx.Done():
		if w != nil {
			e.dropWaiter(w)
		}
		return ctx.Err()
	}
}

// handlerWait is a wait from inside a handler (caller): it publishes the wait for the deadlock detector
// and fails with ErrWouldDeadlock when the event cannot complete before that handler returns (it is
// queued behind a slot the handler's run holds, or the wait closes a cycle across buses).
func (e *BaseEvent) handlerWait(ctx context.Context, caller *EventResult, ch chan struct{}, op string) error {
	caller.waitOn.Store(e)
	counted := false
	defer func() {
		caller.waitOn.Store(nil)
		if counted {
			waitEdges.Add(-1)
		}
	}()
	for {
		requeued := e.requeuedChan()
		var changed <-chan struct{}
		if waitEdges.Load() > 0 {
			changed = graphChangedChan()
		}
		queued := e.queued.Load() > 0
		if queued && !counted {
			counted = true
			waitEdges.Add(1)
		}
		var other <-chan struct{} // the requeue of an event whose run was asked to give up
		if queued || waitEdges.Load() > 0 {
			o, retry, err := e.checkHandlerWait(caller, op)
			if err != nil {
				return err
			}
			if retry {
				runtime.Gosched()
				continue
			}
			if o != nil {
				other = o.requeuedChan()
			}
		}
		select {
		case <-ch:
			return e.failure()
		case <-ctx.Done():
			return ctx.Err()
		case <-requeued: // a queue-jump of e was given up to break a cycle: check again
		case <-other:
		case <-changed:
		}
	}
}

// requeuedChan returns the channel closed at the next requeue (or nudge) of e.
func (e *BaseEvent) requeuedChan() <-chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.xw()
	if x.requeued == nil {
		x.requeued = make(chan struct{})
	}
	return x.requeued
}

// failure is the processing failure recorded on a completed event (a bus destroyed while it was queued
// there), or nil.
func (e *BaseEvent) failure() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.xr().failErr
}

// willJump marks a new event, not yet emitted, that is awaited with Now at once (typed Call) from outside
// a handler as queue-jumping: the bus that accepts it starts no dispatcher to race the Now for it, and
// leaves it queued for the Now to start (jumpOn) once the caller is registered as its waiter, so that the
// run's goroutine does not contend with the caller for the event's lock. A bus it is forwarded to later
// runs it at once, as for any queue-jumping event.
//
// whole: the caller waits for completion (not for a first result), so a parallel bus may run the
// event's WithInline handlers on the caller's goroutine right in the accept.
//
// created says the caller made e just before (typed Call): if the run then starts on the caller's
// goroutine with no user code in between (WithInline, no middleware hooks, no lookups offered the
// event), its start is stamped without reading the OS clock again (runHere).
func (e *BaseEvent) willJump(ctx context.Context, whole, created bool) {
	if currentResult(ctx) == nil {
		e.mu.Lock()
		e.jumping, e.callSoon, e.called, e.callWhole, e.callNew = true, true, true, whole, created
		e.mu.Unlock()
	}
}

// jumpOn takes e out of b's queue and runs it now. Inside a handler (lender set) the run borrows the
// lender's slots when they are the ones e needs and waits for the others with priority. Outside a handler
// (no lender) it waits for no slot: it takes those that are free and runs at once, beside whatever else
// runs on b.
//
// With here set (a Now from outside a handler, not FirstResult, the event on one bus), a run whose
// handlers all allow it (WithInline) runs on the calling goroutine instead.
func (e *BaseEvent) jumpOn(b *Bus, lender *run, here bool) {
	b.mu.Lock()
	if !b.unqueueLocked(e) {
		b.mu.Unlock()
		return
	}
	r := b.newRunLocked(e, lender)
	r.unlocked = lender == nil
	b.mu.Unlock()
	if here && r.inlineable() {
		runHere(r)
		return
	}
	spawnRun(r)
}

// EmitChild emits child as a linked child of the event whose handler owns ctx: on the bus running
// that handler, with event_parent_id, event_emitted_by_handler_id and an entry in the handler's
// children. Awaiting it with Now from the same handler makes it block the parent and lets it
// queue-jump. Errors: ErrNotInHandler when ctx is not a handler's context, ErrHandlerFinished when
// that handler already timed out or returned, ErrLineageCycle when child is the handler's own event or
// one of its ancestors, and the errors of Bus.Emit (ErrBusDestroyed when the handler's bus was destroyed).
func EmitChild(ctx context.Context, child *BaseEvent) (*BaseEvent, error) {
	if err := child.unusable("EmitChild"); err != nil {
		return child, err
	}
	caller := currentResult(ctx)
	if caller == nil {
		return child, fmt.Errorf("EmitChild(%s): %w", child.label(), ErrNotInHandler)
	}
	parent := caller.ev
	if child == parent || parent.IsChildOf(child) {
		return child, fmt.Errorf("EmitChild(%s) from a handler of %s: %w", child.label(), parent.label(), ErrLineageCycle)
	}
	if caller.bus.IsDestroyed() {
		return child, caller.bus.reject(child, &EventBusDestroyedError{Bus: caller.bus.label, Op: "EmitChild"})
	}
	if caller.finished() {
		return child, caller.bus.reject(child, fmt.Errorf("%s.EmitChild(%s) refused: %w (handler %s)", caller.bus.label, child.label(), ErrHandlerFinished, caller.handler.Label()))
	}
	child.mu.Lock()
	lin := child.linW()
	if lin.parentID.IsZero() {
		lin.parentID = parent.id
	}
	lin.emittedBy = caller.handler.id
	lin.emittedByRes = caller
	lin.parent = parent
	child.mu.Unlock()
	if _, err := caller.bus.Emit(ctx, child); err != nil {
		return child, err
	}
	parent.mu.Lock()
	caller.addChild(child)
	parent.xw().children = append(parent.xw().children, child)
	parent.mu.Unlock()
	return child, nil
}
