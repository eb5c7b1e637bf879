package retry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

// recordDelays wraps a function that fails attempts-1 times and returns the delays the runner asked
// to sleep, through the unexported sleep hook (no real waiting).
func recordDelays(t *testing.T, o Options, attempts int) []time.Duration {
	t.Helper()
	var got []time.Duration
	o.sleep = func(ctx context.Context, d time.Duration) error {
		got = append(got, d)
		return nil
	}
	calls := 0
	_, err := Do(context.Background(), o, func(context.Context) (int, error) {
		calls++
		if calls < attempts {
			return 0, errors.New("fail")
		}
		return calls, nil
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	return got
}

func ms(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x * float64(time.Millisecond))
	}
	return out
}

func equalDurations(a, b []time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// F260: the delay before retry k is RetryAfter * BackoffFactor^(k-1), capped by MaxDelay, jittered
// downwards by Jitter.
func TestDelayFormulaF260(t *testing.T) {
	cases := []struct {
		name string
		o    Options
		want []time.Duration
	}{
		{"constant by default", Options{MaxAttempts: 4, RetryAfter: 10 * time.Millisecond}, ms(10, 10, 10)},
		{"factor 2", Options{MaxAttempts: 5, RetryAfter: 10 * time.Millisecond, BackoffFactor: 2}, ms(10, 20, 40, 80)},
		{"factor 1.5", Options{MaxAttempts: 4, RetryAfter: 100 * time.Millisecond, BackoffFactor: 1.5}, ms(100, 150, 225)},
		{"max delay caps", Options{MaxAttempts: 5, RetryAfter: 10 * time.Millisecond, BackoffFactor: 2, MaxDelay: 30 * time.Millisecond}, ms(10, 20, 30, 30)},
		{"jitter halves at most", Options{MaxAttempts: 3, RetryAfter: 100 * time.Millisecond, BackoffFactor: 2, Jitter: 0.5, random: func() float64 { return 0.5 }}, ms(75, 150)},
		{"full jitter at the top of the range", Options{MaxAttempts: 3, RetryAfter: 100 * time.Millisecond, Jitter: 1, random: func() float64 { return 0 }}, ms(100, 100)},
		{"no delay", Options{MaxAttempts: 3}, ms(0, 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := recordDelays(t, c.o, c.o.MaxAttempts); !equalDurations(got, c.want) {
				t.Fatalf("delays %v, want %v", got, c.want)
			}
		})
	}
}

// A huge factor saturates instead of overflowing into a negative duration.
func TestDelaySaturatesF260(t *testing.T) {
	r, err := newRunner(Options{MaxAttempts: 100, RetryAfter: time.Hour, BackoffFactor: 10}, func(context.Context) (int, error) { return 0, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{30, 99, 1000} {
		if d := r.delay(k); d != time.Duration(math.MaxInt64) {
			t.Fatalf("delay(%d) = %v, want the largest duration", k, d)
		}
	}
}

// F259: the slow-attempt warning is throttled to one per 2 s per wrapped function.
func TestSlowWarningThrottleF259(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	r, err := newRunner(Options{SlowAttempt: time.Millisecond, Logger: log}, func(context.Context) (int, error) { return 0, nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.warnSlow(context.Background(), 1, time.Second)
	r.warnSlow(context.Background(), 2, time.Second) // microseconds later: throttled
	if n := strings.Count(buf.String(), "slow attempt"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, buf.String())
	}
	r.lastSlow.Add(-int64(slowWarningEvery)) // as if the last warning were 2 s older
	r.warnSlow(context.Background(), 3, time.Second)
	if n := strings.Count(buf.String(), "slow attempt"); n != 2 {
		t.Fatalf("%d warnings after the throttle window, want 2:\n%s", n, buf.String())
	}
	// Another wrapped function has its own throttle.
	r2, _ := newRunner(Options{SlowAttempt: time.Millisecond, Logger: log}, func(context.Context) (int, error) { return 0, nil }, nil)
	r2.warnSlow(context.Background(), 1, time.Second)
	if n := strings.Count(buf.String(), "slow attempt"); n != 3 {
		t.Fatalf("%d warnings, want 3 (one per wrapped function):\n%s", n, buf.String())
	}
}

// The per-key pools of a keyed semaphore go away when no call holds or waits for them.
func TestKeyedPoolsAreReleased(t *testing.T) {
	k, err := Keyed("per-user", 1, func(u string) string { return u })
	if err != nil {
		t.Fatal(err)
	}
	h, err := Handler(Options{Semaphore: k}, func(ctx context.Context, u string) (string, error) {
		k.mu.Lock()
		n := len(k.pools)
		k.mu.Unlock()
		if n != 1 {
			t.Errorf("%d pools while one call runs, want 1", n)
		}
		return u, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"a", "b", "a"} {
		if _, err := h(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}
	if len(k.pools) != 0 {
		t.Fatalf("%d pools left, want 0", len(k.pools))
	}
}
