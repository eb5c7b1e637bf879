package retry_test

import (
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

// holdSlots takes n slots of sem from n goroutines and keeps them until the returned function is
// called (which waits for the goroutines to end).
func holdSlots(t *testing.T, sem retry.Limiter, n int) (release func()) {
	t.Helper()
	entered := make(chan struct{}, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := retry.Do(context.Background(), retry.Options{Semaphore: sem, SemaphoreStrict: true}, func(context.Context) (int, error) {
				entered <- struct{}{}
				<-gate
				return 0, nil
			})
			if err != nil {
				t.Errorf("holder: %v", err)
			}
		})
	}
	for range n {
		<-entered
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			close(gate)
			wg.Wait()
		})
	}
	t.Cleanup(release)
	return release
}

// tryOnce runs one call on sem that fails at once (strict, with a short timeout) when no slot is free.
func tryOnce(ctx context.Context, sem retry.Limiter) error {
	_, err := retry.Do(ctx, retry.Options{Semaphore: sem, SemaphoreStrict: true, SemaphoreTimeout: 20 * time.Millisecond},
		func(context.Context) (int, error) { return 1, nil })
	return err
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// F262: at most limit calls hold a semaphore at once.
func TestSemaphoreLimitF262(t *testing.T) {
	sem, err := retry.NewSemaphore("limit", 2)
	if err != nil {
		t.Fatal(err)
	}
	var active, peak atomic.Int32
	f, err := retry.Func(retry.Options{Semaphore: sem}, func(context.Context) (int, error) {
		n := active.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(100 * time.Microsecond)
		active.Add(-1)
		return 0, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for range 20 {
				if _, err := f(context.Background()); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 2 || p < 1 {
		t.Fatalf("peak concurrency %d, want 1..2", p)
	}
}

// F262: the slot is taken once per call and kept through every attempt.
func TestSemaphoreHeldAcrossAttemptsF262(t *testing.T) {
	sem, _ := retry.NewSemaphore("attempts", 1)
	var mu sync.Mutex
	var order []string
	call := func(who string) {
		n := 0
		_, err := retry.Do(context.Background(), retry.Options{Semaphore: sem, MaxAttempts: 3, RetryAfter: time.Millisecond, Logger: quiet()},
			func(context.Context) (int, error) {
				n++
				mu.Lock()
				order = append(order, who)
				mu.Unlock()
				if n < 3 {
					return 0, errFlaky
				}
				return n, nil
			})
		if err != nil {
			t.Error(err)
		}
	}
	var wg sync.WaitGroup
	for _, who := range []string{"a", "b", "c"} {
		wg.Go(func() { call(who) })
	}
	wg.Wait()
	s := strings.Join(order, "")
	for _, who := range []string{"a", "b", "c"} {
		if !strings.Contains(s, strings.Repeat(who, 3)) {
			t.Fatalf("attempt order %q: the attempts of %s are interleaved with another call's", s, who)
		}
	}
}

func TestGlobalSemaphoreF262(t *testing.T) {
	a, err := retry.Global("test-global", 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := retry.Global("test-global", 1)
	if err != nil || a != b {
		t.Fatalf("Global twice: %p, %p, %v; want the same semaphore", a, b, err)
	}
	if _, err := retry.Global("test-global", 3); !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), `"test-global" already exists with limit 1; asked for limit 3`) {
		t.Fatalf("another limit: %v", err)
	}
	release := holdSlots(t, a, 1)
	if err := tryOnce(context.Background(), b); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("while the slot is held: %v, want a semaphore timeout", err)
	}
	release()
	if err := tryOnce(context.Background(), b); err != nil {
		t.Fatalf("after release: %v", err)
	}
	for _, bad := range []struct {
		name  string
		limit int
		want  string
	}{{"", 1, "needs a name"}, {"x", 0, `semaphore "x": limit is 0`}} {
		if _, err := retry.Global(bad.name, bad.limit); !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Global(%q, %d): %v", bad.name, bad.limit, err)
		}
		if _, err := retry.NewSemaphore(bad.name, bad.limit); !errors.Is(err, abxbus.ErrInvalidOption) {
			t.Errorf("NewSemaphore(%q, %d): %v", bad.name, bad.limit, err)
		}
	}
}

// Per-instance: two semaphores of the same name are independent.
func TestSemaphorePerInstanceF262(t *testing.T) {
	type client struct{ sem *retry.Semaphore }
	c1, c2 := client{}, client{}
	c1.sem, _ = retry.NewSemaphore("client", 1)
	c2.sem, _ = retry.NewSemaphore("client", 1)
	holdSlots(t, c1.sem, 1)
	if err := tryOnce(context.Background(), c2.sem); err != nil {
		t.Fatalf("the other instance's semaphore: %v", err)
	}
	if err := tryOnce(context.Background(), c1.sem); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the held instance's semaphore: %v", err)
	}
}

// F262: strict timeout is an error naming the semaphore; lax runs without a slot and warns.
func TestSemaphoreTimeoutStrictAndLaxF262(t *testing.T) {
	sem, _ := retry.NewSemaphore("db", 1)
	holdSlots(t, sem, 1)
	calls := 0
	fn := func(context.Context) (int, error) { calls++; return 7, nil }

	_, err := retry.Do(context.Background(), retry.Options{Semaphore: sem, SemaphoreStrict: true, SemaphoreTimeout: 10 * time.Millisecond}, fn)
	var st *retry.SemaphoreTimeoutError
	if !errors.As(err, &st) || st.Semaphore != "db" || st.Limit != 1 || st.Timeout != 10*time.Millisecond || !errors.Is(err, context.DeadlineExceeded) || calls != 0 {
		t.Fatalf("strict: %v (calls %d)", err, calls)
	}
	if attemptsOf(t, err) != 0 || !strings.Contains(err.Error(), `semaphore "db" (limit 1): no free slot within 10ms`) {
		t.Fatalf("strict message: %q", err.Error())
	}

	var buf lockedBuffer
	v, err := retry.Do(context.Background(), retry.Options{Semaphore: sem, SemaphoreTimeout: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&buf, nil))}, fn)
	if err != nil || v != 7 || calls != 1 {
		t.Fatalf("lax: %d, %v (calls %d); want the call to run", v, err, calls)
	}
	if !strings.Contains(buf.String(), `level=WARN msg="semaphore timeout: running without a slot"`) || !strings.Contains(buf.String(), "semaphore=db") {
		t.Fatalf("lax warning missing:\n%s", buf.String())
	}
}

// F262: the derived semaphore timeout is AttemptTimeout * max(1, limit-1); without AttemptTimeout the
// wait is bounded only by the caller's context.
func TestDerivedSemaphoreTimeoutF262(t *testing.T) {
	for _, c := range []struct {
		limit int
		want  time.Duration
	}{{1, 15 * time.Millisecond}, {2, 15 * time.Millisecond}, {3, 30 * time.Millisecond}} {
		sem, _ := retry.NewSemaphore(fmt.Sprintf("derived-%d", c.limit), c.limit)
		release := holdSlots(t, sem, c.limit)
		_, err := retry.Do(context.Background(), retry.Options{Semaphore: sem, SemaphoreStrict: true, AttemptTimeout: 15 * time.Millisecond},
			func(context.Context) (int, error) { return 0, nil })
		var st *retry.SemaphoreTimeoutError
		if !errors.As(err, &st) || st.Timeout != c.want {
			t.Fatalf("limit %d: %v, want a semaphore timeout after %v", c.limit, err, c.want)
		}
		release()
	}

	sem, _ := retry.NewSemaphore("unbounded", 1)
	holdSlots(t, sem, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := retry.Do(ctx, retry.Options{Semaphore: sem, SemaphoreStrict: true}, func(context.Context) (int, error) { return 0, nil })
	var st *retry.SemaphoreTimeoutError
	var re *retry.Error
	if errors.As(err, &st) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &re) || re.Stopped == nil || !strings.Contains(err.Error(), `waiting for semaphore "unbounded"`) {
		t.Fatalf("no semaphore timeout: %v, want the caller's deadline", err)
	}
	// The caller's context also ends a lax wait, without running the function.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	ran := false
	_, err = retry.Do(ctx2, retry.Options{Semaphore: sem, SemaphoreTimeout: time.Hour}, func(context.Context) (int, error) { ran = true; return 0, nil })
	if ran || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("lax wait past the caller's deadline: ran %v, %v", ran, err)
	}
}

// Keyed: one limit per key.
func TestKeyedSemaphoreF262(t *testing.T) {
	type Job struct{ User string }
	k, err := retry.Keyed("per-user", 1, func(j Job) string { return j.User })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := retry.Keyed[Job]("x", 1, nil); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("nil key: %v", err)
	}
	aIn, bIn := make(chan struct{}), make(chan struct{})
	h, err := retry.Handler(retry.Options{Semaphore: k, SemaphoreStrict: true, SemaphoreTimeout: 20 * time.Millisecond},
		func(ctx context.Context, j Job) (string, error) {
			switch j.User {
			case "a": // runs until b runs beside it: different keys do not block each other
				close(aIn)
				<-bIn
			case "b":
				close(bIn)
			}
			return j.User, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := h(context.Background(), Job{"a"}); err != nil {
			t.Error(err)
		}
	})
	<-aIn // a holds key a's only slot until b has run
	if _, err := h(context.Background(), Job{"b"}); err != nil {
		t.Fatalf("key b while key a is held: %v", err)
	}
	wg.Wait()

	blockA := make(chan struct{})
	enteredA := make(chan struct{})
	h2, _ := retry.Handler(retry.Options{Semaphore: k, SemaphoreStrict: true, SemaphoreTimeout: 20 * time.Millisecond},
		func(ctx context.Context, j Job) (string, error) {
			if j.User == "hold" {
				close(enteredA)
				<-blockA
			}
			return j.User, nil
		})
	wg.Go(func() { h2(context.Background(), Job{"hold"}) })
	<-enteredA
	_, err = h2(context.Background(), Job{"hold"})
	var st *retry.SemaphoreTimeoutError
	if !errors.As(err, &st) || st.Semaphore != "per-user[hold]" {
		t.Fatalf("same key while held: %v, want a timeout on per-user[hold]", err)
	}
	close(blockA)
	wg.Wait()
}

// F264: a nested call of a function with the same semaphore runs inside the holder's slot.
func TestReentryDirectF264(t *testing.T) {
	sem, _ := retry.NewSemaphore("reentry", 1)
	o := retry.Options{Semaphore: sem, SemaphoreStrict: true, SemaphoreTimeout: 10 * time.Second}
	var inner func(context.Context, int) (int, error)
	inner, _ = retry.Handler(o, func(ctx context.Context, depth int) (int, error) {
		if depth == 0 {
			return 0, nil
		}
		v, err := inner(ctx, depth-1)
		return v + 1, err
	})
	if v, err := inner(context.Background(), 3); err != nil || v != 3 {
		t.Fatalf("nested calls: %d, %v", v, err)
	}

	// The mark ends with the holder's call: a context saved inside it no longer borrows the slot.
	var saved context.Context
	f, _ := retry.Func(o, func(ctx context.Context) (int, error) { saved = ctx; return 0, nil })
	if _, err := f(context.Background()); err != nil {
		t.Fatal(err)
	}
	holdSlots(t, sem, 1)
	if err := tryOnce(saved, sem); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a stale holder context borrowed the slot: %v", err)
	}
}

type Outer struct {
	abxbus.Returns[string]
	Via string `json:"via"`
}

type Inner struct {
	abxbus.Returns[string]
}

// F264: re-entry through a queue-jumped child event, on the same bus and on another bus.
func TestReentryThroughChildEventF264(t *testing.T) {
	ctx := context.Background()
	sem, _ := retry.NewSemaphore("bus-reentry", 1)
	o := retry.Options{Semaphore: sem, SemaphoreStrict: true, SemaphoreTimeout: 10 * time.Second}
	b1, _ := abxbus.New("One", nil)
	defer b1.Destroy(true)
	b2, _ := abxbus.New("Two", nil)
	defer b2.Destroy(true)

	inner, err := retry.Handler(o, func(ctx context.Context, _ Inner) (string, error) {
		return "inner on " + abxbus.BusFromContext(ctx).Name(), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []*abxbus.Bus{b1, b2} {
		if _, err := abxbus.On(b, inner); err != nil {
			t.Fatal(err)
		}
	}
	outer, _ := retry.Handler(o, func(ctx context.Context, p Outer) (string, error) {
		if p.Via == "Two" {
			return abxbus.Call(ctx, b2, Inner{})
		}
		return abxbus.CallChild(ctx, Inner{})
	})
	if _, err := abxbus.On(b1, outer); err != nil {
		t.Fatal(err)
	}
	for _, via := range []string{"One", "Two"} {
		got, err := abxbus.Call(ctx, b1, Outer{Via: via})
		if err != nil || got != "inner on "+via {
			t.Fatalf("via %s: %q, %v", via, got, err)
		}
	}
	if err := tryOnce(ctx, sem); err != nil {
		t.Fatalf("slot not released after the calls: %v", err)
	}
}

// A panicking attempt is not retried; the panic propagates and the slot is released.
func TestPanicReleasesTheSlot(t *testing.T) {
	sem, _ := retry.NewSemaphore("panics", 1)
	calls := 0
	f, _ := retry.Func(retry.Options{Semaphore: sem, MaxAttempts: 3, SlowAttempt: time.Hour}, func(context.Context) (int, error) {
		calls++
		panic("boom")
	})
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the panic", r)
			}
		}()
		f(context.Background())
	}()
	if calls != 1 {
		t.Fatalf("%d calls, want 1", calls)
	}
	if err := tryOnce(context.Background(), sem); err != nil {
		t.Fatalf("slot not released after a panic: %v", err)
	}
}

// A keyed semaphore on an untyped handler keys on the *abxbus.BaseEvent; one keyed on an interface
// takes every payload assignable to it.
func TestKeyedShapesF262(t *testing.T) {
	byType, _ := retry.Keyed("by-type", 1, func(e *abxbus.BaseEvent) string { return e.Type() })
	var seen []string
	h, err := retry.Untyped(retry.Options{Semaphore: byType}, func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		seen = append(seen, e.Type())
		return "ok", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bus, _ := abxbus.New("Untyped", nil)
	defer bus.Destroy(true)
	if _, err := bus.OnType("Inner", h); err != nil {
		t.Fatal(err)
	}
	if _, err := abxbus.Call(context.Background(), bus, Inner{}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[Inner]" {
		t.Fatalf("seen %v", seen)
	}

	byString, _ := retry.Keyed("stringer", 1, func(s fmt.Stringer) string { return s.String() })
	hs, err := retry.Handler(retry.Options{Semaphore: byString}, func(ctx context.Context, d time.Duration) (string, error) { return d.String(), nil })
	if err != nil {
		t.Fatal(err)
	}
	if v, err := hs(context.Background(), time.Second); err != nil || v != "1s" {
		t.Fatalf("%q, %v", v, err)
	}
}

type svc struct{}

func (svc) Lookup(context.Context, string) (int, error) { return 0, errFatal }

// A method value is named after its method.
func TestMethodValueName(t *testing.T) {
	h, _ := retry.Handler(retry.Options{}, svc{}.Lookup)
	if _, err := h(context.Background(), "x"); !strings.HasPrefix(err.Error(), "retry: retry_test.svc.Lookup: 1 attempt") {
		t.Fatalf("message %q", err.Error())
	}
}
