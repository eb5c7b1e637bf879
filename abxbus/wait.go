package abxbus

import (
	"context"
	"fmt"
)

// WaitOption shapes Now and Wait (F91).
type WaitOption int

const (
	// FirstResult returns as soon as the first valid result exists (or the event completes without one);
	// the remaining handlers keep running (F94, F129).
	FirstResult WaitOption = iota + 1
)

// Now processes the event immediately and waits for it (F92):
//   - outside a handler, a queued event moves to the head of its bus queue (it still waits for the
//     event running on that bus, if any) and Now waits for completion;
//   - inside a handler (ctx is the handler's context), the event queue-jumps: it runs at once, borrowing
//     the bus-serial / global-serial slot the calling handler's event holds, so awaiting a child is a
//     function call and never deadlocks (F101-F106). An event forwarded to further buses jumps there
//     too (F100, F110). Awaiting a linked child from the handler that emitted it marks it as blocking its
//     parent's completion (F85).
//
// ctx bounds only this wait; processing continues if it ends (D4). Now returns nil once the event is
// completed (or, with FirstResult, has a valid result); handler errors are read through the result
// accessors (D3). Errors: the emit rejection recorded on the event, ErrNotEmitted, ErrWouldDeadlock,
// ctx.Err().
func (e *BaseEvent) Now(ctx context.Context, opts ...WaitOption) error {
	if err := e.unusable("Now"); err != nil {
		return err
	}
	return e.wait(ctx, true, opts)
}

// Wait waits for the event to complete through normal queue order; it never queue-jumps (F93). From
// inside a handler, waiting on an event that cannot start before that handler returns (queued behind
// the slot the handler's event holds) returns ErrWouldDeadlock at once (D5).
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
	if e.emitErr != nil {
		err := e.emitErr
		e.mu.Unlock()
		return err
	}
	if e.status == EventCompleted || first && e.hasValid { // also a completed event decoded from JSON
		e.mu.Unlock()
		return nil
	}
	if len(e.buses) == 0 {
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
		if jump && e.emittedByRes == caller && !e.blocksParent {
			e.blocksParent = true // F85
		}
	}
	var ch chan struct{}
	if first {
		ch = e.firstValidLocked()
	} else {
		ch = e.doneLocked()
	}
	var busArr [4]*Bus // stays on the stack in the common case
	buses := busArr[:0]
	if jump {
		if !e.jumping || e.jumpLender == nil {
			e.jumping, e.jumpLender = true, lender
		}
		buses = append(buses, e.buses...)
	}
	e.mu.Unlock()

	if jump {
		for _, b := range buses {
			e.jumpOn(b, lender)
		}
	} else if lender != nil {
		if err := e.checkWaitable(lender); err != nil {
			return err
		}
	}
	select {
	case <-ch:
		return nil
	default:
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// jumpOn takes e out of b's queue and runs it now: borrowing the lender's slots when it holds the ones
// e needs, otherwise waiting for them with priority. Outside a handler (no lender) e just moves to the
// head of the queue.
func (e *BaseEvent) jumpOn(b *Bus, lender *run) {
	b.mu.Lock()
	if !b.unqueueLocked(e) {
		b.mu.Unlock()
		return
	}
	if lender == nil {
		b.pushFrontLocked(e)
		b.mu.Unlock()
		return
	}
	r := b.newRunLocked(e, lender)
	b.mu.Unlock()
	go func() {
		r.acquire(true)
		if r.begin() {
			b.dispatchLoop()
		}
	}()
}

// checkWaitable implements D5: e is still queued on a bus whose slot the waiting handler's run (or a run
// it borrows from) holds, so it cannot start before that handler returns.
func (e *BaseEvent) checkWaitable(lender *run) error {
	e.mu.Lock()
	buses := append([]*Bus(nil), e.buses...)
	mode := e.opts.Concurrency
	e.mu.Unlock()
	for _, b := range buses {
		b.mu.Lock()
		queued := b.isQueuedLocked(e)
		b.mu.Unlock()
		if !queued {
			continue
		}
		m := mode
		if m == "" {
			m = b.defaults.Concurrency
		}
		if lender.holds(&b.slot) || m == GlobalSerial && lender.holds(b.global) {
			return fmt.Errorf("Wait(%s) on %s: %w", e.label(), b.label, ErrWouldDeadlock)
		}
	}
	return nil
}

// EmitChild emits child as a linked child of the event whose handler owns ctx (F82): on the bus running
// that handler, with event_parent_id, event_emitted_by_handler_id and an entry in the handler's
// children. Awaiting it with Now from the same handler makes it block the parent (F85) and lets it
// queue-jump (F101). Errors: ErrNotInHandler when ctx is not a handler's context, ErrHandlerFinished when
// that handler already timed out or returned (F90, F141), and the errors of Bus.Emit.
func EmitChild(ctx context.Context, child *BaseEvent) (*BaseEvent, error) {
	if err := child.unusable("EmitChild"); err != nil {
		return child, err
	}
	caller := currentResult(ctx)
	if caller == nil {
		return child, fmt.Errorf("EmitChild(%s): %w", child.label(), ErrNotInHandler)
	}
	parent := caller.ev
	if caller.finished() {
		return child, caller.bus.reject(child, fmt.Errorf("%s.EmitChild(%s) refused: %w (handler %s)", caller.bus.label, child.label(), ErrHandlerFinished, caller.handler.Label()))
	}
	child.mu.Lock()
	if child.parentID.IsZero() {
		child.parentID = parent.id
	}
	child.emittedBy = caller.handler.id
	child.emittedByRes = caller
	child.parent = parent
	child.mu.Unlock()
	if _, err := caller.bus.Emit(ctx, child); err != nil {
		return child, err
	}
	parent.mu.Lock()
	caller.children = append(caller.children, child)
	parent.children = append(parent.children, child)
	parent.mu.Unlock()
	return child, nil
}
