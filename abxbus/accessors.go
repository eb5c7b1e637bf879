package abxbus

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// ResultOptions shape the result accessors (Result, ResultsList, Call). The zero value is the default
// policy: wait for the event to complete, report handler errors, allow an empty answer, default filter.
type ResultOptions struct {
	// Include replaces the default filter (a completed result with a non-null value that is not a
	// forwarded event). It sees every result of the event, in handler registration order.
	Include func(r *EventResult) bool
	// IgnoreErrors stops handler errors from being reported: the accessors return the values that
	// pass the filter as if the failed handlers had returned null.
	IgnoreErrors bool
	// RequireResult makes "no result passes the filter" an error matching ErrNoResult.
	RequireResult bool
	// First returns early, on request: the accessor waits only until a valid result exists (valid by
	// the default filter, whatever Include says) or the event completes without one, like Now with
	// FirstResult, and then applies the filter and the error policy to the results recorded at that
	// moment. Only handlers already finished can contribute an error; handlers still queued or
	// running keep running and are not waited for (to stop them, use completion mode first). Without
	// First, every accessor waits for the whole event.
	First bool
}

// Result returns the first value that passes the filter, in handler registration order (not completion
// order). It waits until the event has completed, driving a pending event like Now (from a handler,
// the event queue-jumps), and only then applies the filter and the error policy, so the answer does not
// depend on which handler happens to finish first. ctx bounds only the wait (processing continues).
//
// Errors, checked before values: with the default options one handler error is returned as is and
// several as *EventHandlerErrors; with RequireResult, an *EventResultNoneError (matching ErrNoResult)
// when nothing passes the filter, whose message says whether the event had no handler at all (then it
// also matches ErrNoHandler) or what its handlers did instead. Handlers cancelled because another won in completion mode first are
// not counted as errors. It returns (nil, nil) when nothing passes the filter and RequireResult is not
// set. Wait failures (ctx done, the emit rejected, never emitted, ErrWouldDeadlock) are returned as
// from Now. With First set, it returns as soon as a valid result exists (see ResultOptions.First).
func (e *BaseEvent) Result(ctx context.Context, opts ...ResultOptions) (any, error) {
	if err := e.unusable("Result"); err != nil {
		return nil, err
	}
	o := optsOf(opts)
	if err := e.waitFor(ctx, o); err != nil {
		return nil, err
	}
	return e.firstResult(o)
}

// ResultsList waits for the event to complete (driving it like Now) and returns every value that passes
// the filter, in handler registration order, with the error policy of Result. The list is empty, not
// nil, when nothing passes. With First set, it returns once a valid result exists, with the values
// recorded by then.
func (e *BaseEvent) ResultsList(ctx context.Context, opts ...ResultOptions) ([]any, error) {
	if err := e.unusable("ResultsList"); err != nil {
		return nil, err
	}
	o := optsOf(opts)
	if err := e.waitFor(ctx, o); err != nil {
		return nil, err
	}
	return e.collect(o)
}

// waitFor is the accessors' wait: the whole event, or with First the first valid result.
func (e *BaseEvent) waitFor(ctx context.Context, o ResultOptions) error {
	if o.First {
		return e.Now(ctx, FirstResult)
	}
	return e.Now(ctx)
}

// ResultsSnapshot applies the policy of ResultsList to the results recorded so far, without waiting and
// without driving the event: handlers still queued or running contribute neither values nor errors.
func (e *BaseEvent) ResultsSnapshot(opts ...ResultOptions) ([]any, error) {
	if err := e.unusable("ResultsSnapshot"); err != nil {
		return nil, err
	}
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
		return nil, nil, false, e.noResult(o)
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
	if r.firstLoser {
		return nil
	}
	return r.err
}

// noResult describes why no result passed the filter: no handler ran at all, or what the handlers did.
func (e *BaseEvent) noResult(o ResultOptions) *EventResultNoneError {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := &EventResultNoneError{EventType: e.eventType, EventID: e.id.String(), Buses: slices.Clone(e.path.get()), Handlers: len(e.results)}
	if err.Handlers == 0 {
		return err
	}
	var null, forwarded, failed, lost, running, filtered int
	for _, r := range e.results {
		switch {
		case r.status == rsError && r.firstLoser:
			lost++
		case r.status == rsError:
			failed++
		case !r.status.terminal():
			running++
		case r.validLocked():
			filtered++ // valid, but the Include filter left it out
		case r.value != nil && !r.null:
			forwarded++ // a completed non-null value that is not valid is a forwarded event
		default:
			null++
		}
	}
	var parts []string
	add := func(n int, one, many string) {
		switch {
		case n == 0:
		case n == err.Handlers && n == 1:
			parts = append(parts, "its one handler "+one)
		case n == err.Handlers && n == 2:
			parts = append(parts, "both handlers "+many)
		case n == err.Handlers:
			parts = append(parts, fmt.Sprintf("all %d handlers %s", n, many))
		case n == 1:
			parts = append(parts, "1 "+one)
		default:
			parts = append(parts, fmt.Sprintf("%d %s", n, many))
		}
	}
	add(null, "returned null", "returned null")
	add(forwarded, "forwarded the event", "forwarded the event")
	add(failed, "failed (errors ignored)", "failed (errors ignored)")
	add(lost, "lost to another handler's result", "lost to another handler's result")
	add(running, "was still running", "were still running")
	if o.Include != nil {
		add(filtered, "returned a value the filter left out", "returned values the filter left out")
	}
	err.Detail = strings.Join(parts, ", ")
	return err
}
