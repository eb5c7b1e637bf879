package retry

import (
	"context"
	"fmt"
	"time"
)

// Error is the error a wrapped function returns when it gives up: every failure of a wrapped call is an
// *Error (a success returns a nil error). Attempts says how many times the function ran: 0 when it never
// ran (the context was already done, or a strict semaphore could not be acquired), else the number of
// attempts including the last one. Err is the last attempt's error (or the reason no attempt ran).
//
// An *Error unwraps to Err, so errors.Is and errors.As see the function's own errors through it; when
// the retries stopped because the caller's context ended, it also unwraps to that context's cause
// (context.Canceled or context.DeadlineExceeded, or the cause given to context.WithCancelCause).
type Error struct {
	// Name is the wrapped function's name (Options.Name, or the Go function name).
	Name string
	// Attempts is the number of attempts made, 0 if none ran.
	Attempts int
	// Err is the last attempt's error, or the error that prevented the first attempt.
	Err error
	// Stopped is the caller's context cause when its end stopped the retries, else nil.
	Stopped error
}

func (e *Error) Error() string {
	switch {
	case e.Stopped != nil && e.Attempts > 0:
		return fmt.Sprintf("retry: %s: stopped after %d %s (%v): %v", e.Name, e.Attempts, plural(e.Attempts), e.Stopped, e.Err)
	case e.Attempts == 0:
		return fmt.Sprintf("retry: %s: no attempt made: %v", e.Name, e.Err)
	default:
		return fmt.Sprintf("retry: %s: %d %s: %v", e.Name, e.Attempts, plural(e.Attempts), e.Err)
	}
}

// Unwrap returns Err and, when the caller's context stopped the retries, that context's cause.
func (e *Error) Unwrap() []error {
	if e.Stopped != nil && e.Stopped != e.Err {
		return []error{e.Err, e.Stopped}
	}
	return []error{e.Err}
}

func plural(n int) string {
	if n == 1 {
		return "attempt"
	}
	return "attempts"
}

// AttemptTimeoutError is the error of one attempt that failed after its per-attempt timeout
// (Options.AttemptTimeout) expired: the function returned an error once the attempt's context was past
// its deadline, and the caller's own context was still live. It matches context.DeadlineExceeded with
// errors.Is and unwraps to the function's error. RetryOn and StopOn matchers see this error, so
// retry.On(context.DeadlineExceeded) or retry.OnType[*retry.AttemptTimeoutError]() select timeouts.
type AttemptTimeoutError struct {
	// Attempt is the 1-based number of the attempt that timed out.
	Attempt int
	// Timeout is the per-attempt limit that expired.
	Timeout time.Duration
	// Err is what the function returned.
	Err error
}

func (e *AttemptTimeoutError) Error() string {
	return fmt.Sprintf("attempt %d timed out after %v: %v", e.Attempt, e.Timeout, e.Err)
}

// Unwrap returns the function's error.
func (e *AttemptTimeoutError) Unwrap() error { return e.Err }

// Is reports whether target is context.DeadlineExceeded.
func (e *AttemptTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// SemaphoreTimeoutError is returned (inside an *Error with Attempts 0) when a strict semaphore
// (Options.SemaphoreStrict) had no free slot within the semaphore timeout. It matches
// context.DeadlineExceeded with errors.Is.
type SemaphoreTimeoutError struct {
	// Semaphore is the semaphore's name (with the key, for a keyed semaphore).
	Semaphore string
	// Limit is the semaphore's number of slots.
	Limit int
	// Timeout is how long the call waited.
	Timeout time.Duration
}

func (e *SemaphoreTimeoutError) Error() string {
	return fmt.Sprintf("semaphore %q (limit %d): no free slot within %v", e.Semaphore, e.Limit, e.Timeout)
}

// Is reports whether target is context.DeadlineExceeded.
func (e *SemaphoreTimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }
