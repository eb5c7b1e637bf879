package retry

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// slowWarningEvery is the minimum gap between two slow-attempt warnings of one wrapped function.
const slowWarningEvery = 2 * time.Second

// Options configure a wrapper. The zero value is valid: one attempt, no delay, no limit, which makes the
// wrapper a pass-through that only adds the attempt count to errors. Options are copied when a wrapper is
// built; changing them afterwards has no effect on it.
type Options struct {
	// Name names the wrapped function in errors, log records and RetryInfo. Empty: the Go function's
	// name (package-qualified, without the import path).
	Name string

	// MaxAttempts is the total number of attempts, the first included: 1 means no retries. 0 means 1.
	// Negative is an invalid option.
	MaxAttempts int
	// RetryAfter is the delay before the first retry. 0 retries at once; negative is invalid.
	RetryAfter time.Duration
	// BackoffFactor multiplies the delay after each failed attempt: the delay before retry k (after
	// attempt k failed, k from 1) is RetryAfter * BackoffFactor^(k-1). 0 means 1 (a constant delay);
	// other values below 1, NaN and infinities are invalid.
	BackoffFactor float64
	// MaxDelay caps each delay computed by the formula (before jitter). 0 means no cap; negative is
	// invalid.
	MaxDelay time.Duration
	// Jitter, in [0, 1], randomizes each delay d uniformly within [d*(1-Jitter), d], so that callers
	// that failed together do not retry together. 0 (the default) keeps the delays exact.
	Jitter float64

	// RetryOn selects the errors worth retrying: an error is retried when any matcher in the list
	// matches it. Empty: every error is retried. An error that no matcher selects is returned at once.
	RetryOn []Matcher
	// StopOn selects errors that are never retried, and wins over RetryOn: an error matched by both
	// stops. Use it to carve exceptions out of a broad RetryOn (or out of "retry everything").
	StopOn []Matcher

	// AttemptTimeout bounds each attempt: the attempt's context gets a deadline this far ahead (or the
	// caller's deadline, if earlier). An attempt that returns an error after its deadline passed fails
	// with an *AttemptTimeoutError, which the matchers then judge like any other error. The function
	// is not interrupted: it must watch its context. 0 or abxbus.NoTimeout: no per-attempt limit;
	// other negative values are invalid.
	AttemptTimeout time.Duration
	// SlowAttempt logs a warning when an attempt is still running this long after it started, at most
	// one warning every 2 s per wrapped function. 0 disables it; negative is invalid.
	SlowAttempt time.Duration

	// Semaphore, when set, limits how many calls run at once: a call takes a slot before its first
	// attempt and keeps it through every attempt and delay until it returns. See [Semaphore], [Global],
	// [Keyed] and [Multiprocess].
	Semaphore Limiter
	// SemaphoreTimeout bounds the wait for a slot. 0 derives it: AttemptTimeout * max(1, limit-1) when
	// AttemptTimeout is set, else no bound. abxbus.NoTimeout: no bound. Other negative values are
	// invalid. The caller's context bounds the wait in every case.
	SemaphoreTimeout time.Duration
	// SemaphoreStrict makes a semaphore timeout an error (*SemaphoreTimeoutError). By default
	// (lax) the call logs a warning and runs without a slot.
	SemaphoreStrict bool

	// OnRetry, if set, is called after a failed attempt that will be retried, before the delay, on the
	// calling goroutine (so concurrent calls call it concurrently). It must not block for long: the
	// delay starts when it returns.
	OnRetry func(ctx context.Context, info RetryInfo)
	// Logger receives the wrapper's records: one Debug record per retry, a Warn record per slow attempt
	// and per lax semaphore timeout. Nil: slog.Default().
	Logger *slog.Logger

	// Test hooks: the sleep between attempts and the random source of the jitter.
	sleep  func(ctx context.Context, d time.Duration) error
	random func() float64
}

// RetryInfo describes a retry for Options.OnRetry.
type RetryInfo struct {
	// Name is the wrapped function's name.
	Name string
	// Attempt is the 1-based number of the attempt that failed; the next attempt is Attempt+1.
	Attempt int
	// Err is the failed attempt's error.
	Err error
	// Delay is the pause before the next attempt.
	Delay time.Duration
}

// runner is one wrapped function's validated options and state.
type runner struct {
	o        Options
	name     string
	log      *slog.Logger
	lastSlow atomic.Int64 // unix nanoseconds of the last slow-attempt warning
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: retry: "+format, append([]any{abxbus.ErrInvalidOption}, args...)...)
}

// newRunner validates o for a function fn whose payload has type payload (nil: none).
func newRunner(o Options, fn any, payload reflect.Type) (*runner, error) {
	if fn == nil || reflect.ValueOf(fn).IsNil() {
		return nil, invalid("the function to wrap is nil")
	}
	name := o.Name
	if name == "" {
		name = funcName(fn)
	}
	switch {
	case o.MaxAttempts < 0:
		return nil, invalid("%s: MaxAttempts is %d; it must be at least 1 (0 means 1)", name, o.MaxAttempts)
	case o.RetryAfter < 0:
		return nil, invalid("%s: RetryAfter is %v; it must not be negative", name, o.RetryAfter)
	case o.MaxDelay < 0:
		return nil, invalid("%s: MaxDelay is %v; it must not be negative (0 means no cap)", name, o.MaxDelay)
	case math.IsNaN(o.BackoffFactor) || math.IsInf(o.BackoffFactor, 0) || (o.BackoffFactor != 0 && o.BackoffFactor < 1):
		return nil, invalid("%s: BackoffFactor is %v; it must be a finite number of at least 1 (0 means 1)", name, o.BackoffFactor)
	case math.IsNaN(o.Jitter) || o.Jitter < 0 || o.Jitter > 1:
		return nil, invalid("%s: Jitter is %v; it must be within [0, 1]", name, o.Jitter)
	case o.AttemptTimeout < 0 && o.AttemptTimeout != abxbus.NoTimeout:
		return nil, invalid("%s: AttemptTimeout is %v; it must not be negative (0 means none)", name, o.AttemptTimeout)
	case o.SlowAttempt < 0:
		return nil, invalid("%s: SlowAttempt is %v; it must not be negative (0 disables it)", name, o.SlowAttempt)
	case o.SemaphoreTimeout < 0 && o.SemaphoreTimeout != abxbus.NoTimeout:
		return nil, invalid("%s: SemaphoreTimeout is %v; it must not be negative (0 derives it, abxbus.NoTimeout waits without bound)", name, o.SemaphoreTimeout)
	}
	for i, m := range o.RetryOn {
		if m.match == nil {
			return nil, invalid("%s: RetryOn[%d] is an empty matcher (a nil target or predicate)", name, i)
		}
	}
	for i, m := range o.StopOn {
		if m.match == nil {
			return nil, invalid("%s: StopOn[%d] is an empty matcher (a nil target or predicate)", name, i)
		}
	}
	if o.Semaphore != nil {
		if v := reflect.ValueOf(o.Semaphore); v.Kind() == reflect.Pointer && v.IsNil() {
			return nil, invalid("%s: Semaphore is a nil %T", name, o.Semaphore)
		}
		if err := o.Semaphore.check(payload); err != nil {
			return nil, invalid("%s: %v", name, err)
		}
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 1
	}
	if o.BackoffFactor == 0 {
		o.BackoffFactor = 1
	}
	if o.AttemptTimeout == abxbus.NoTimeout {
		o.AttemptTimeout = 0
	}
	o.RetryOn = append([]Matcher(nil), o.RetryOn...)
	o.StopOn = append([]Matcher(nil), o.StopOn...)
	if o.sleep == nil {
		o.sleep = sleep
	}
	if o.random == nil {
		o.random = rand.Float64
	}
	r := &runner{o: o, name: name, log: o.Logger}
	if r.log == nil {
		r.log = slog.Default()
	}
	return r, nil
}

func funcName(fn any) string {
	f := runtime.FuncForPC(reflect.ValueOf(fn).Pointer())
	if f == nil {
		return "func"
	}
	n := f.Name()
	if i := strings.LastIndexByte(n, '/'); i >= 0 {
		n = n[i+1:]
	}
	return strings.TrimSuffix(n, "-fm") // a method value
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// delay is the pause after failed attempt k (1-based).
func (r *runner) delay(k int) time.Duration {
	d := float64(r.o.RetryAfter) * math.Pow(r.o.BackoffFactor, float64(k-1))
	if r.o.MaxDelay > 0 && d > float64(r.o.MaxDelay) {
		d = float64(r.o.MaxDelay)
	}
	if r.o.Jitter > 0 {
		d -= d * r.o.Jitter * r.o.random()
	}
	if d >= float64(math.MaxInt64) { // 2^63: beyond every Duration
		return math.MaxInt64
	}
	return time.Duration(d)
}

// run makes the attempts of one call. payload feeds a keyed semaphore.
func (r *runner) run(ctx context.Context, payload any, attempt func(context.Context) error) error {
	if ctx.Err() != nil {
		return &Error{Name: r.name, Err: context.Cause(ctx), Stopped: context.Cause(ctx)}
	}
	actx := ctx
	if r.o.Semaphore != nil {
		c, release, err := r.acquire(ctx, payload)
		if err != nil {
			e := &Error{Name: r.name, Err: err}
			if ctx.Err() != nil {
				e.Stopped = context.Cause(ctx)
			}
			return e
		}
		defer release()
		actx = c
	}
	for k := 1; ; k++ {
		err := r.attempt(ctx, actx, k, attempt)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return &Error{Name: r.name, Attempts: k, Err: err, Stopped: context.Cause(ctx)}
		}
		if k >= r.o.MaxAttempts || !retryable(err, r.o.RetryOn, r.o.StopOn) {
			return &Error{Name: r.name, Attempts: k, Err: err}
		}
		d := r.delay(k)
		if r.o.OnRetry != nil {
			r.o.OnRetry(ctx, RetryInfo{Name: r.name, Attempt: k, Err: err, Delay: d})
		}
		r.log.LogAttrs(ctx, slog.LevelDebug, "retrying", slog.String("func", r.name), slog.Int("attempt", k),
			slog.Int("max_attempts", r.o.MaxAttempts), slog.Duration("delay", d), slog.Any("error", err))
		if serr := r.o.sleep(ctx, d); serr != nil || ctx.Err() != nil {
			return &Error{Name: r.name, Attempts: k, Err: err, Stopped: context.Cause(ctx)}
		}
	}
}

// attempt runs attempt number k with its own deadline and slow-attempt watch. outer is the caller's
// context, ctx the one the attempts derive from (outer plus the semaphore mark).
func (r *runner) attempt(outer, ctx context.Context, k int, fn func(context.Context) error) error {
	if r.o.SlowAttempt > 0 {
		start := time.Now()
		fired := make(chan struct{})
		t := time.AfterFunc(r.o.SlowAttempt, func() {
			defer close(fired)
			r.warnSlow(outer, k, time.Since(start))
		})
		defer func() {
			if !t.Stop() {
				<-fired // the warning is being written: let it finish before the call returns
			}
		}()
	}
	if r.o.AttemptTimeout <= 0 {
		return fn(ctx)
	}
	actx, cancel := context.WithTimeout(ctx, r.o.AttemptTimeout)
	defer cancel()
	err := fn(actx)
	if err != nil && actx.Err() == context.DeadlineExceeded && outer.Err() == nil {
		return &AttemptTimeoutError{Attempt: k, Timeout: r.o.AttemptTimeout, Err: err}
	}
	return err
}

func (r *runner) warnSlow(ctx context.Context, k int, elapsed time.Duration) {
	now := time.Now().UnixNano()
	last := r.lastSlow.Load()
	if last != 0 && now-last < int64(slowWarningEvery) {
		return
	}
	if !r.lastSlow.CompareAndSwap(last, now) {
		return
	}
	r.log.LogAttrs(ctx, slog.LevelWarn, "slow attempt", slog.String("func", r.name), slog.Int("attempt", k),
		slog.Duration("elapsed", elapsed))
}

// Handler wraps a typed handler, the function shape abxbus.On registers:
//
//	h, err := retry.Handler(retry.Options{MaxAttempts: 3, RetryAfter: time.Second}, chargeCard)
//	...
//	abxbus.On(bus, h)
//
// Each call of the returned function runs fn up to MaxAttempts times (see [Options]) and returns the
// first success, or the zero R and an *Error holding the last error and the number of attempts (a value
// fn returned beside an error is dropped). The handler's context
// stays the outer budget: bus, event and handler timeouts end the retries, and a delay is cut short
// when the context is done. The returned function is safe for concurrent use if fn is. Handler returns
// an error wrapping abxbus.ErrInvalidOption when the options are invalid or fn is nil.
//
// Cost: per call, a few small allocations (more with a semaphore or AttemptTimeout); nothing per
// attempt beyond fn itself, except a timer when AttemptTimeout or SlowAttempt is set.
func Handler[P, R any](o Options, fn func(ctx context.Context, p P) (R, error)) (func(ctx context.Context, p P) (R, error), error) {
	r, err := newRunner(o, fn, reflect.TypeFor[P]())
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, p P) (R, error) {
		var out R
		err := r.run(ctx, p, func(ctx context.Context) error {
			v, err := fn(ctx, p)
			if err == nil {
				out = v
			}
			return err
		})
		if err != nil {
			var zero R
			return zero, err
		}
		return out, nil
	}, nil
}

// Notify wraps a notification handler, the function shape abxbus.OnNotify registers. It behaves as
// [Handler].
func Notify[P any](o Options, fn func(ctx context.Context, p P) error) (func(ctx context.Context, p P) error, error) {
	r, err := newRunner(o, fn, reflect.TypeFor[P]())
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, p P) error {
		return r.run(ctx, p, func(ctx context.Context) error { return fn(ctx, p) })
	}, nil
}

// Untyped wraps an untyped handler (abxbus.HandlerFunc, for Bus.OnType and wildcard handlers). It
// behaves as [Handler]; a keyed semaphore used with it takes the *abxbus.BaseEvent.
func Untyped(o Options, fn abxbus.HandlerFunc) (abxbus.HandlerFunc, error) {
	r, err := newRunner(o, fn, reflect.TypeFor[*abxbus.BaseEvent]())
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		var out any
		err := r.run(ctx, e, func(ctx context.Context) error {
			v, err := fn(ctx, e)
			if err == nil {
				out = v
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		return out, nil
	}, nil
}

// Func wraps any function of a context, with or without a bus. It behaves as [Handler]; a keyed
// semaphore cannot be used with it (there is no payload to key on).
func Func[T any](o Options, fn func(ctx context.Context) (T, error)) (func(ctx context.Context) (T, error), error) {
	r, err := newRunner(o, fn, nil)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) (T, error) {
		var out T
		err := r.run(ctx, nil, func(ctx context.Context) error {
			v, err := fn(ctx)
			if err == nil {
				out = v
			}
			return err
		})
		if err != nil {
			var zero T
			return zero, err
		}
		return out, nil
	}, nil
}

// Do runs fn once under the options, as Func(o, fn)(ctx) does; it is for one-off calls (the
// slow-attempt throttle is per Do call). Invalid options are returned as the error, with no attempt.
func Do[T any](ctx context.Context, o Options, fn func(ctx context.Context) (T, error)) (T, error) {
	f, err := Func(o, fn)
	if err != nil {
		var zero T
		return zero, err
	}
	return f(ctx)
}
