// Package retry runs a function again when it fails, with backoff, per-attempt timeouts and
// concurrency limits (semaphores). It works on abxbus handlers of every shape and on any
// func(context.Context) (T, error), with or without a bus.
//
// # Retries
//
// [Handler] wraps a typed handler (the func(ctx, P) (R, error) that abxbus.On registers), [Notify] a
// notification handler, [Untyped] an abxbus.HandlerFunc and [Func] any function of a context; [Do]
// runs a function once under the options. [Options] say how:
//
//	charge, err := retry.Handler(retry.Options{
//		MaxAttempts:    4,                      // total attempts; 1 means no retries
//		RetryAfter:     100 * time.Millisecond, // delay before the first retry
//		BackoffFactor:  2,                      // then 200 ms, 400 ms
//		AttemptTimeout: 2 * time.Second,        // each attempt's context deadline
//		RetryOn:        []retry.Matcher{retry.On(ErrUnavailable), retry.OnType[*net.OpError]()},
//	}, chargeCard)
//	if err != nil { ... }            // invalid options
//	_, err = abxbus.On(bus, charge)
//
// The delay before retry k (after attempt k failed, k from 1) is RetryAfter * BackoffFactor^(k-1),
// capped by MaxDelay and optionally randomized downwards by Jitter.
//
// Which errors are retried: an error matched by a StopOn matcher never is; otherwise one matched by any
// RetryOn matcher is, and with no RetryOn matchers every error is. Matchers test errors.Is ([On]),
// errors.As ([OnType]) or a predicate ([If]). An error that is not retried is returned at once.
//
// The caller's context is the outer budget and wins over every option: inside a bus handler, the
// handler, event and bus timeouts (and cancellation) end the retries, a delay is cut short when the
// context is done, and no attempt starts after that. AttemptTimeout adds a deadline per attempt; an
// attempt that fails past that deadline reports an [*AttemptTimeoutError], which is retried when the
// matchers allow it. Functions must watch their context: nothing here interrupts a running attempt. A
// panic is not an error and is not retried: it propagates to the caller (a bus records it as the
// handler's panic) after the call's semaphore slot is released.
//
// Every failure is an [*Error] carrying the number of attempts and the last error; it unwraps to that
// error, so errors.Is and errors.As keep working on what the function returned. Each retry is visible:
// Options.OnRetry is called and a Debug record is logged through log/slog; a slow attempt
// (Options.SlowAttempt) logs a Warn record, at most one every 2 s per wrapped function.
//
// # Semaphores
//
// Options.Semaphore limits how many calls run at once. A call takes one slot before its first attempt
// and keeps it through all attempts and delays. The scope is the [Limiter] value given:
//
//   - [NewSemaphore]: slots of its own; keep it in a struct field for a per-instance limit.
//   - [Global]: one process-wide semaphore per name.
//   - [Keyed]: one set of slots per key computed from the payload (e.g. per customer).
//   - [Multiprocess]: slots shared by the processes of one machine, as flock(2)-locked files in a
//     directory; a crashed or killed holder's slot is freed by the kernel.
//
// The wait for a slot is bounded by Options.SemaphoreTimeout, by default AttemptTimeout *
// max(1, limit-1) when AttemptTimeout is set and unbounded otherwise, and always by the caller's
// context. When it expires, the call runs without a slot and logs a warning (the default, lax), or fails
// with a [*SemaphoreTimeoutError] naming the semaphore (Options.SemaphoreStrict).
//
// Re-entry is allowed: a call nested inside one that holds a slot of the same semaphore (a direct call,
// or a handler of a child event emitted from the holder's handler context and awaited with Now, Call or
// CallChild, on any bus and goroutine) runs inside the holder's slot rather than waiting for another,
// which with a limit of 1 would never come. The nesting is recognized through the context: the child's
// handler context carries the values of the context it was emitted with.
//
// # Concurrency
//
// Wrapped functions, semaphores and matchers are safe for concurrent use (the wrapped function itself
// must be, if called concurrently). OnRetry and predicates run on the calling goroutine.
package retry
