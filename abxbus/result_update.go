package abxbus

import (
	"fmt"
	"time"
)

// ResultUpdate is a create-or-update of one handler's result row. Zero fields change
// nothing; the set ones apply in this order: Timeout, Result, Error, then Status (an explicit status is
// applied last).
type ResultUpdate struct {
	// Bus is the bus the row is recorded for when it is created (its eventbus_name/eventbus_id). nil: the
	// handler's bus. It does not emit the event on that bus.
	Bus *Bus
	// Status sets the row status (pending, started, completed or error).
	Status ResultStatus
	// Result sets the row's value when SetResult is true or Result is not nil (set SetResult to record
	// a null result). The value is checked against the event's result type like a handler's return:
	// valid gives status completed; a mismatch gives status error with an EventHandlerResultSchemaError
	// and a null value; an error value gives status error with that error.
	Result    any
	SetResult bool
	// Error, when not nil, records that error: status error, null value.
	Error error
	// Timeout sets the row's handler timeout (handler_timeout): a positive duration (at most
	// MaxTimeout), or NoTimeout to clear it; 0 changes nothing. Any other negative duration is an error
	// matching ErrInvalidOption.
	Timeout time.Duration
}

// UpdateResult creates or updates the result row of handler h on e, for seeding or
// rehydrating results (for example from a log) rather than for normal processing. A new row is pending
// until the update says otherwise. Effects on the event: a row updated to started marks a
// pending event started; a row going back to pending or started reopens a completed event (clearing
// event_completed_at); a terminal row may complete an event that was only waiting for it.
//
// Rows produced by a bus running the handler are owned by that run and are never changed here:
// updating one returns an error matching ErrInvalidOption, as do a nil handler and an unknown status.
// Rows created here are kept in handler registration order with the others and are seen by the
// result accessors. Safe for concurrent use; no user code runs.
func (e *BaseEvent) UpdateResult(h *Handler, upd ResultUpdate) (*EventResult, error) {
	if err := e.unusable("UpdateResult"); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, fmt.Errorf("%w: UpdateResult on %s: nil handler", ErrInvalidOption, e.label())
	}
	switch upd.Status {
	case "", ResultPending, ResultStarted, ResultCompleted, ResultError:
	default:
		return nil, fmt.Errorf("%w: UpdateResult on %s: unknown result status %q", ErrInvalidOption, e.label(), upd.Status)
	}
	if err := checkTimeout("handler timeout", &upd.Timeout); err != nil {
		return nil, err
	}
	// The value check may encode JSON of a user type: do it before taking the lock.
	var value any
	var null bool
	var valueErr error
	setValue := upd.SetResult || upd.Result != nil
	if setValue {
		if err, ok := upd.Result.(error); ok {
			valueErr = err
		} else {
			value, null, valueErr = e.checkResult(h, upd.Result)
		}
	}

	e.mu.Lock()
	var row *EventResult
	for _, r := range e.results {
		if r.handler == h || r.handler.id == h.id {
			row = r
			break
		}
	}
	t := now()
	if row == nil {
		bus := upd.Bus
		if bus == nil {
			bus = h.bus
		}
		row = &EventResult{ev: e, bus: bus, handler: h, id: newIDAt(t), status: rsPending, null: true}
		e.results = append(e.results, row)
	} else if row.run != nil {
		e.mu.Unlock()
		return nil, fmt.Errorf("%w: UpdateResult on %s: the result of %s belongs to a bus run and is final once settled (F41)",
			ErrInvalidOption, e.label(), h.Label())
	}

	switch d := upd.Timeout; {
	case d == NoTimeout:
		row.timeout = 0
	case d > 0:
		row.timeout = d
	}
	if setValue {
		if valueErr != nil {
			row.status, row.err, row.value, row.null = rsError, valueErr, nil, true
		} else {
			row.status, row.err, row.value, row.null = rsCompleted, nil, value, null
		}
	}
	if upd.Error != nil {
		row.status, row.err, row.value, row.null = rsError, upd.Error, nil, true
	}
	if upd.Status != "" {
		row.status = parseResStatus(upd.Status)
	}

	// Timestamps and the event's own state follow the row.
	switch row.status {
	case rsPending:
		row.completedAt = 0
		e.reopenLocked()
	case rsStarted:
		if row.startedAt == 0 {
			row.startedAt = t
		}
		row.completedAt = 0
		e.reopenLocked()
		if e.status == evPending {
			e.status = evStarted
			e.startedAt = t
		}
	default: // terminal
		if row.startedAt == 0 {
			row.startedAt = t
		}
		if row.completedAt == 0 {
			row.completedAt = t
		}
		if row.validLocked() && !e.hasValid {
			e.hasValid = true
			if e.x != nil && e.x.firstValid != nil {
				close(e.x.firstValid)
			}
		}
	}
	done := row.status.terminal() && e.tryCompleteLocked()
	e.mu.Unlock()
	if done {
		e.afterComplete()
	}
	return row, nil
}

// Update is e.UpdateResult(r.Handler(), upd) for the event this row belongs to.
func (r *EventResult) Update(upd ResultUpdate) (*EventResult, error) {
	if r == nil || r.ev == nil {
		return nil, errResultUnattached("Update")
	}
	return r.ev.UpdateResult(r.handler, upd)
}

// reopenLocked turns a completed event back into a started one because one of its rows is no longer
// terminal (F161): event_completed_at is cleared and the completion signals are re-armed. It reports
// whether the event was completed.
func (e *BaseEvent) reopenLocked() bool {
	if e.status != evCompleted {
		return false
	}
	e.status = evStarted
	e.completedAt = 0
	e.completedFlag.Store(false)
	e.done = nil // a fresh channel is made on demand and closed at the next completion
	if !e.hasValid && e.x != nil {
		e.x.firstValid = nil
	}
	return true
}
