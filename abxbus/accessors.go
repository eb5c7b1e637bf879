package abxbus

import (
	"context"
)

// ResultOptions shape the result accessors (F151-F156). The zero value is the default policy:
// raise_if_any=true, raise_if_none=false, default filter.
type ResultOptions struct {
	// Include replaces the default filter (completed, non-null, not a forwarded event; F152). It sees
	// every result of the event, in handler registration order.
	Include func(r *EventResult) bool
	// IgnoreErrors disables raise_if_any: handler errors are not reported.
	IgnoreErrors bool
	// RequireResult enables raise_if_none: an error matching ErrNoResult when no result passes the
	// filter.
	RequireResult bool
}

// Result returns the first valid result value in handler registration order (F151, F153). It waits
// until a valid result exists or the event completes, driving a pending event like Now(ctx,
// FirstResult) (F157, D13); ctx bounds the wait. Errors follow F156: with the default options a single
// handler error is returned as is and several as *EventHandlerErrors (checked before values); the
// losers of first-completion mode are not counted (D12). It returns (nil, nil) when there is no valid
// result and RequireResult is not set.
func (e *BaseEvent) Result(ctx context.Context, opts ...ResultOptions) (any, error) {
	if err := e.Now(ctx, FirstResult); err != nil {
		return nil, err
	}
	return e.firstResult(optsOf(opts))
}

// ResultsList waits for completion (driving the event like Now) and returns every valid result value
// in handler registration order, with the error policy of Result. It may return an empty list.
func (e *BaseEvent) ResultsList(ctx context.Context, opts ...ResultOptions) ([]any, error) {
	if err := e.Now(ctx); err != nil {
		return nil, err
	}
	return e.collect(optsOf(opts))
}

// ResultsSnapshot applies the accessor policy to the results recorded so far, without waiting.
func (e *BaseEvent) ResultsSnapshot(opts ...ResultOptions) ([]any, error) {
	return e.collect(optsOf(opts))
}

func optsOf(opts []ResultOptions) ResultOptions {
	if len(opts) == 0 {
		return ResultOptions{}
	}
	return opts[0]
}

// collect is the list accessor's policy without waiting.
func (e *BaseEvent) collect(o ResultOptions) ([]any, error) {
	_, list, _, err := e.scanResults(o, false)
	return list, err
}

// firstResult is the single-result accessor's policy without waiting.
func (e *BaseEvent) firstResult(o ResultOptions) (any, error) {
	one, _, _, err := e.scanResults(o, true)
	return one, err
}

// scanResults applies the accessor policy (F152-F156, D12) to the results in registration order. Without
// an Include filter it works under the event lock without copying; with one, it snapshots first so the
// user's filter runs without the lock.
func (e *BaseEvent) scanResults(o ResultOptions, first bool) (one any, list []any, found bool, err error) {
	e.mu.Lock()
	results := e.orderedResultsLocked()
	if o.Include != nil {
		type snap struct {
			r     *EventResult
			value any
			err   error
		}
		snaps := make([]snap, len(results))
		for i, r := range results {
			snaps[i] = snap{r: r, value: r.value, err: r.accessorErrLocked()}
		}
		e.mu.Unlock()
		if !o.IgnoreErrors {
			var errs []error
			for _, s := range snaps {
				if s.err != nil {
					errs = append(errs, s.err)
				}
			}
			if err := e.handlerErrors(errs); err != nil {
				return nil, nil, false, err
			}
		}
		for _, s := range snaps {
			if !o.Include(s.r) {
				continue
			}
			if first {
				return s.value, nil, true, nil
			}
			list = append(list, s.value)
		}
		return e.scanEnd(o, first, one, list, len(list) > 0)
	}
	if !o.IgnoreErrors {
		var firstErr error
		n := 0
		for _, r := range results {
			if err := r.accessorErrLocked(); err != nil {
				if n == 0 {
					firstErr = err
				}
				n++
			}
		}
		if n > 0 {
			errs := []error{firstErr}
			if n > 1 {
				errs = errs[:0]
				for _, r := range results {
					if err := r.accessorErrLocked(); err != nil {
						errs = append(errs, err)
					}
				}
			}
			e.mu.Unlock()
			return nil, nil, false, e.handlerErrors(errs)
		}
	}
	for _, r := range results {
		if !r.validLocked() {
			continue
		}
		found = true
		if first {
			one = r.value
			break
		}
		list = append(list, r.value)
	}
	e.mu.Unlock()
	return e.scanEnd(o, first, one, list, found)
}

func (e *BaseEvent) scanEnd(o ResultOptions, first bool, one any, list []any, found bool) (any, []any, bool, error) {
	if !found && o.RequireResult {
		return nil, nil, false, &EventResultNoneError{EventType: e.eventType, EventID: e.id.String()}
	}
	if list == nil && !first {
		list = []any{}
	}
	return one, list, found, nil
}

// handlerErrors is the F154 raise: nil, the single error itself, or the aggregate.
func (e *BaseEvent) handlerErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return &EventHandlerErrors{EventType: e.eventType, EventID: e.id.String(), Errors: errs}
}

// accessorErrLocked is the error a result contributes to the accessors: none for first-completion
// losers (D12).
func (r *EventResult) accessorErrLocked() error {
	if r.cancelCause == errFirstCompletion {
		return nil
	}
	return r.err
}
