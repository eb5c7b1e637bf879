package abxbus

import (
	"context"
	"errors"
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
	vs, err := e.collect(optsOf(opts), true)
	if err != nil || len(vs) == 0 {
		return nil, err
	}
	return vs[0], nil
}

// ResultsList waits for completion (driving the event like Now) and returns every valid result value
// in handler registration order, with the error policy of Result. It may return an empty list.
func (e *BaseEvent) ResultsList(ctx context.Context, opts ...ResultOptions) ([]any, error) {
	if err := e.Now(ctx); err != nil {
		return nil, err
	}
	return e.collect(optsOf(opts), false)
}

// ResultsSnapshot applies the accessor policy to the results recorded so far, without waiting.
func (e *BaseEvent) ResultsSnapshot(opts ...ResultOptions) ([]any, error) {
	return e.collect(optsOf(opts), false)
}

func optsOf(opts []ResultOptions) ResultOptions {
	if len(opts) == 0 {
		return ResultOptions{}
	}
	return opts[0]
}

func (e *BaseEvent) collect(o ResultOptions, first bool) ([]any, error) {
	e.mu.Lock()
	results := e.sortedResultsLocked()
	type snap struct {
		r     *EventResult
		value any
		err   error
		ok    bool
	}
	snaps := make([]snap, len(results))
	for i, r := range results {
		snaps[i] = snap{r: r, value: r.value, err: r.err, ok: r.validLocked()}
		if r.cancelCause == errFirstCompletion {
			snaps[i].err = nil // D12: a first-completion loser is not a failure
		}
	}
	eventType, eventID := e.eventType, e.id.String()
	e.mu.Unlock()

	if !o.IgnoreErrors {
		var errs []error
		for _, s := range snaps {
			if s.err != nil {
				errs = append(errs, s.err)
			}
		}
		switch len(errs) {
		case 0:
		case 1:
			return nil, errs[0]
		default:
			return nil, &EventHandlerErrors{EventType: eventType, EventID: eventID, Errors: errs}
		}
	}
	var out []any
	for _, s := range snaps {
		keep := s.ok
		if o.Include != nil {
			keep = o.Include(s.r)
		}
		if !keep {
			continue
		}
		out = append(out, s.value)
		if first {
			break
		}
	}
	if len(out) == 0 && o.RequireResult {
		return nil, &EventResultNoneError{EventType: eventType, EventID: eventID}
	}
	if out == nil && !first {
		out = []any{}
	}
	return out, nil
}

// isLoser reports whether err is the record of a first-completion loser (D12).
func isLoser(err error) bool { return errors.Is(err, errFirstCompletion) }
