package retry_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/retry"
)

var (
	errFlaky = errors.New("flaky")
	errFatal = errors.New("fatal")
)

type tempError struct{ msg string }

func (e *tempError) Error() string { return e.msg }

// failing returns a function that returns errs[i] on call i (the last one repeats) and counts calls.
func failing(calls *atomic.Int32, errs ...error) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		n := int(calls.Add(1))
		err := errs[min(n, len(errs))-1]
		if err == nil {
			return fmt.Sprintf("ok after %d", n), nil
		}
		return "", err
	}
}

func attemptsOf(t *testing.T, err error) int {
	t.Helper()
	var re *retry.Error
	if !errors.As(err, &re) {
		t.Fatalf("error %v (%T) is not a *retry.Error", err, err)
	}
	return re.Attempts
}

// F259: the final error reports the attempts and unwraps to the last error.
func TestErrorReportsAttemptsF259(t *testing.T) {
	var calls atomic.Int32
	_, err := retry.Do(context.Background(), retry.Options{Name: "charge", MaxAttempts: 3}, failing(&calls, fmt.Errorf("card: %w", errFlaky)))
	if got := attemptsOf(t, err); got != 3 || calls.Load() != 3 {
		t.Fatalf("attempts %d, calls %d, want 3 and 3", got, calls.Load())
	}
	if !errors.Is(err, errFlaky) {
		t.Fatalf("errors.Is(%v, errFlaky) = false", err)
	}
	if want := "retry: charge: 3 attempts: card: flaky"; err.Error() != want {
		t.Fatalf("message %q, want %q", err.Error(), want)
	}

	calls.Store(0)
	v, err := retry.Do(context.Background(), retry.Options{MaxAttempts: 3}, failing(&calls, errFlaky, errFlaky, nil))
	if err != nil || v != "ok after 3" {
		t.Fatalf("got %q, %v; want success on the third attempt", v, err)
	}

	// The zero options make one attempt.
	calls.Store(0)
	_, err = retry.Do(context.Background(), retry.Options{}, failing(&calls, errFlaky))
	if got := attemptsOf(t, err); got != 1 || calls.Load() != 1 {
		t.Fatalf("zero options: attempts %d, calls %d, want 1 and 1", got, calls.Load())
	}
}

// F261: matcher precedence. StopOn wins over RetryOn; any RetryOn match retries; no RetryOn retries
// everything; a non-matching error stops at once.
func TestMatcherPrecedenceF261(t *testing.T) {
	wrappedTemp := fmt.Errorf("dial: %w", &tempError{"reset"})
	cases := []struct {
		name     string
		retryOn  []retry.Matcher
		stopOn   []retry.Matcher
		err      error
		attempts int
	}{
		{"no matcher retries any error", nil, nil, errFatal, 4},
		{"On matches a wrapped sentinel", []retry.Matcher{retry.On(errFlaky)}, nil, fmt.Errorf("x: %w", errFlaky), 4},
		{"non-matching stops at once", []retry.Matcher{retry.On(errFlaky)}, nil, errFatal, 1},
		{"OnType through errors.As", []retry.Matcher{retry.OnType[*tempError]()}, nil, wrappedTemp, 4},
		{"OnType other type stops", []retry.Matcher{retry.OnType[*tempError]()}, nil, errFlaky, 1},
		{"If predicate", []retry.Matcher{retry.If(func(err error) bool { return strings.Contains(err.Error(), "reset") })}, nil, wrappedTemp, 4},
		{"any of several RetryOn", []retry.Matcher{retry.On(errFatal), retry.OnType[*tempError]()}, nil, wrappedTemp, 4},
		{"StopOn wins over RetryOn", []retry.Matcher{retry.On(errFlaky)}, []retry.Matcher{retry.On(errFlaky)}, errFlaky, 1},
		{"StopOn wins over retry-all", nil, []retry.Matcher{retry.OnType[*tempError]()}, wrappedTemp, 1},
		{"StopOn elsewhere leaves retries", nil, []retry.Matcher{retry.On(errFatal)}, errFlaky, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			_, err := retry.Do(context.Background(), retry.Options{MaxAttempts: 4, RetryOn: c.retryOn, StopOn: c.stopOn}, failing(&calls, c.err))
			if got := attemptsOf(t, err); got != c.attempts || int(calls.Load()) != c.attempts {
				t.Fatalf("attempts %d, calls %d, want %d", got, calls.Load(), c.attempts)
			}
			if !errors.Is(err, c.err) {
				t.Fatalf("error %v does not wrap %v", err, c.err)
			}
		})
	}
}

// F263: each attempt gets its own deadline; the timeout is retried when it matches.
func TestAttemptTimeoutF263(t *testing.T) {
	var infos []retry.RetryInfo
	var calls atomic.Int32
	v, err := retry.Do(context.Background(), retry.Options{
		MaxAttempts:    3,
		AttemptTimeout: 20 * time.Millisecond,
		OnRetry:        func(_ context.Context, info retry.RetryInfo) { infos = append(infos, info) },
	}, func(ctx context.Context) (int, error) {
		n := int(calls.Add(1))
		if n < 3 {
			<-ctx.Done() // hangs until its own deadline
			return 0, ctx.Err()
		}
		if _, ok := ctx.Deadline(); !ok {
			return 0, errors.New("the attempt context has no deadline")
		}
		return n, nil
	})
	if err != nil || v != 3 {
		t.Fatalf("got %d, %v; want 3, nil", v, err)
	}
	if len(infos) != 2 {
		t.Fatalf("%d retries reported, want 2", len(infos))
	}
	for i, info := range infos {
		var te *retry.AttemptTimeoutError
		if !errors.As(info.Err, &te) || te.Attempt != i+1 || te.Timeout != 20*time.Millisecond || !errors.Is(info.Err, context.DeadlineExceeded) {
			t.Fatalf("retry %d error %v, want an AttemptTimeoutError of attempt %d matching DeadlineExceeded", i, info.Err, i+1)
		}
	}

	// Not retried when the matchers exclude it.
	calls.Store(0)
	_, err = retry.Do(context.Background(), retry.Options{
		MaxAttempts: 3, AttemptTimeout: 10 * time.Millisecond, RetryOn: []retry.Matcher{retry.On(errFlaky)},
	}, func(ctx context.Context) (int, error) {
		calls.Add(1)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	var te *retry.AttemptTimeoutError
	if attemptsOf(t, err) != 1 || !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v; want one attempt failing with an AttemptTimeoutError", err)
	}
	// Selected explicitly.
	calls.Store(0)
	_, err = retry.Do(context.Background(), retry.Options{
		MaxAttempts: 2, AttemptTimeout: 10 * time.Millisecond, RetryOn: []retry.Matcher{retry.OnType[*retry.AttemptTimeoutError]()},
	}, func(ctx context.Context) (int, error) {
		calls.Add(1)
		<-ctx.Done()
		return 0, ctx.Err()
	})
	if attemptsOf(t, err) != 2 {
		t.Fatalf("got %v; want two attempts", err)
	}
}

// F263: the caller's context is the outer budget: no attempt after it ends, delays cut short.
func TestOuterBudgetWinsF263(t *testing.T) {
	t.Run("cancel during the delay", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var calls atomic.Int32
		_, err := retry.Do(ctx, retry.Options{
			MaxAttempts: 5, RetryAfter: time.Hour,
			OnRetry: func(context.Context, retry.RetryInfo) { cancel() },
		}, failing(&calls, errFlaky))
		var re *retry.Error
		if !errors.As(err, &re) || re.Attempts != 1 || !errors.Is(err, context.Canceled) || !errors.Is(err, errFlaky) || re.Stopped == nil {
			t.Fatalf("got %v; want stopped after 1 attempt, matching Canceled and the attempt's error", err)
		}
		if !strings.Contains(err.Error(), "stopped after 1 attempt") {
			t.Fatalf("message %q does not say the retries were stopped", err.Error())
		}
	})
	t.Run("deadline shorter than the delay", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		var calls atomic.Int32
		_, err := retry.Do(ctx, retry.Options{MaxAttempts: 5, RetryAfter: time.Hour}, failing(&calls, errFlaky))
		if attemptsOf(t, err) != 1 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v; want 1 attempt and DeadlineExceeded", err)
		}
	})
	t.Run("deadline shorter than the attempt timeout", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := retry.Do(ctx, retry.Options{MaxAttempts: 5, AttemptTimeout: time.Hour}, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		var te *retry.AttemptTimeoutError
		if attemptsOf(t, err) != 1 || errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v; want 1 attempt ended by the caller's deadline, not an attempt timeout", err)
		}
	})
	t.Run("already done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var calls atomic.Int32
		_, err := retry.Do(ctx, retry.Options{MaxAttempts: 5}, failing(&calls, errFlaky))
		if attemptsOf(t, err) != 0 || calls.Load() != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v after %d calls; want no attempt", err, calls.Load())
		}
	})
}

// F260 with real sleeps: each gap between attempts is at least its delay (lower bounds only; the upper
// bound is the test's own timeout).
func TestDelaysAreRealF260(t *testing.T) {
	var stamps []time.Time
	_, err := retry.Do(context.Background(), retry.Options{MaxAttempts: 4, RetryAfter: 15 * time.Millisecond, BackoffFactor: 2},
		func(context.Context) (int, error) {
			stamps = append(stamps, time.Now())
			return 0, errFlaky
		})
	if attemptsOf(t, err) != 4 {
		t.Fatalf("got %v", err)
	}
	for i, want := range []time.Duration{15 * time.Millisecond, 30 * time.Millisecond, 60 * time.Millisecond} {
		if gap := stamps[i+1].Sub(stamps[i]); gap < want {
			t.Fatalf("gap before attempt %d is %v, shorter than the delay %v", i+2, gap, want)
		}
	}
}

// Retries are visible: OnRetry and one Debug record per retry; slow attempts log a warning.
func TestRetriesAreVisibleF259(t *testing.T) {
	var buf lockedBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var infos []retry.RetryInfo
	var calls atomic.Int32
	_, err := retry.Do(context.Background(), retry.Options{
		Name: "fetch", MaxAttempts: 3, RetryAfter: time.Millisecond, BackoffFactor: 3, Logger: log,
		OnRetry: func(_ context.Context, info retry.RetryInfo) { infos = append(infos, info) },
	}, failing(&calls, errFlaky))
	if attemptsOf(t, err) != 3 {
		t.Fatal(err)
	}
	want := []retry.RetryInfo{{Name: "fetch", Attempt: 1, Err: errFlaky, Delay: time.Millisecond}, {Name: "fetch", Attempt: 2, Err: errFlaky, Delay: 3 * time.Millisecond}}
	if fmt.Sprint(infos) != fmt.Sprint(want) {
		t.Fatalf("OnRetry saw %v, want %v", infos, want)
	}
	if n := strings.Count(buf.String(), "msg=retrying func=fetch"); n != 2 {
		t.Fatalf("%d retry records, want 2:\n%s", n, buf.String())
	}

	// A slow attempt: the function waits until the warning has been logged.
	buf.Reset()
	_, err = retry.Do(context.Background(), retry.Options{Name: "slow", SlowAttempt: time.Millisecond, Logger: log},
		func(ctx context.Context) (int, error) {
			for !strings.Contains(buf.String(), "slow attempt") {
				select {
				case <-ctx.Done():
					return 0, ctx.Err()
				case <-time.After(time.Millisecond):
				}
			}
			return 1, nil
		})
	if err != nil || !strings.Contains(buf.String(), "level=WARN msg=\"slow attempt\" func=slow attempt=1") {
		t.Fatalf("err %v, log:\n%s", err, buf.String())
	}
}

// The function name defaults to the Go name.
func TestDefaultName(t *testing.T) {
	_, err := retry.Do(context.Background(), retry.Options{}, namedFailure)
	if !strings.HasPrefix(err.Error(), "retry: retry_test.namedFailure: 1 attempt:") {
		t.Fatalf("message %q", err.Error())
	}
}

func namedFailure(context.Context) (int, error) { return 0, errFatal }

func TestInvalidOptions(t *testing.T) {
	fn := func(context.Context) (int, error) { return 0, nil }
	k, _ := retry.Keyed("k", 1, func(s string) string { return s })
	var nilSem *retry.Semaphore
	cases := []struct {
		o    retry.Options
		want string
	}{
		{retry.Options{MaxAttempts: -1}, "MaxAttempts is -1"},
		{retry.Options{RetryAfter: -time.Second}, "RetryAfter is -1s"},
		{retry.Options{BackoffFactor: 0.5}, "BackoffFactor is 0.5"},
		{retry.Options{BackoffFactor: -2}, "BackoffFactor is -2"},
		{retry.Options{MaxDelay: -1}, "MaxDelay is -1ns"},
		{retry.Options{Jitter: 1.5}, "Jitter is 1.5"},
		{retry.Options{AttemptTimeout: -time.Second}, "AttemptTimeout is -1s"},
		{retry.Options{SlowAttempt: -time.Second}, "SlowAttempt is -1s"},
		{retry.Options{SemaphoreTimeout: -time.Second}, "SemaphoreTimeout is -1s"},
		{retry.Options{RetryOn: []retry.Matcher{retry.On(nil)}}, "RetryOn[0] is an empty matcher"},
		{retry.Options{StopOn: []retry.Matcher{retry.On(errFatal), retry.If(nil)}}, "StopOn[1] is an empty matcher"},
		{retry.Options{RetryOn: []retry.Matcher{{}}}, "RetryOn[0] is an empty matcher"},
		{retry.Options{Semaphore: k}, `keyed semaphore "k" needs a payload`},
		{retry.Options{Semaphore: nilSem}, "Semaphore is a nil *retry.Semaphore"},
	}
	for _, c := range cases {
		_, err := retry.Func(c.o, fn)
		if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("options %+v: error %v, want ErrInvalidOption mentioning %q", c.o, err, c.want)
		}
	}
	// abxbus.NoTimeout is "none" for the timeouts.
	if _, err := retry.Func(retry.Options{AttemptTimeout: abxbus.NoTimeout, SemaphoreTimeout: abxbus.NoTimeout}, fn); err != nil {
		t.Errorf("NoTimeout: %v", err)
	}
	if _, err := retry.Func[int](retry.Options{}, nil); !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "nil") {
		t.Errorf("nil function: %v", err)
	}
	if _, err := retry.Handler(retry.Options{Semaphore: k}, func(context.Context, int) (int, error) { return 0, nil }); err == nil || !strings.Contains(err.Error(), `keys on string, but the function's payload is int`) {
		t.Errorf("keyed type mismatch: %v", err)
	}
	if _, err := retry.Do(context.Background(), retry.Options{MaxAttempts: -3}, fn); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Errorf("Do with invalid options: %v", err)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}
