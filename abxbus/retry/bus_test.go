package retry_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/retry"
)

type Charge struct {
	abxbus.Returns[string]
	Card string `json:"card"`
}

type Ping struct {
	abxbus.Returns[abxbus.Void]
}

// F258: a retried typed handler on a real bus; the bus sees one handler run and its final outcome.
func TestRetryInBusHandlerF258(t *testing.T) {
	ctx := context.Background()
	bus, _ := abxbus.New("Billing", nil)
	defer bus.Destroy(true)
	var calls atomic.Int32
	h, err := retry.Handler(retry.Options{MaxAttempts: 3, RetryAfter: time.Millisecond, Logger: quiet()},
		func(ctx context.Context, c Charge) (string, error) {
			if abxbus.EventFromContext(ctx) == nil {
				t.Error("the attempt's context lost the handler's event")
			}
			if n := calls.Add(1); c.Card == "good" && n%3 == 0 {
				return "receipt-" + c.Card, nil
			}
			return "", errFlaky
		})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := abxbus.On(bus, h); err != nil {
		t.Fatal(err)
	}
	got, err := abxbus.Call(ctx, bus, Charge{Card: "good"})
	if err != nil || got != "receipt-good" || calls.Load() != 3 {
		t.Fatalf("got %q, %v after %d calls; want success on the third attempt", got, err, calls.Load())
	}

	calls.Store(0)
	_, err = abxbus.Call(ctx, bus, Charge{Card: "bad"})
	var re *retry.Error
	if !errors.As(err, &re) || re.Attempts != 3 || !errors.Is(err, errFlaky) {
		t.Fatalf("failing handler: %v, want a retry.Error of 3 attempts wrapping errFlaky", err)
	}

	// A notification handler.
	var pings atomic.Int32
	n, _ := retry.Notify(retry.Options{MaxAttempts: 2, Logger: quiet()}, func(ctx context.Context, _ Ping) error {
		if pings.Add(1) == 1 {
			return errFlaky
		}
		return nil
	})
	if _, err := abxbus.OnNotify(bus, n); err != nil {
		t.Fatal(err)
	}
	if _, err := abxbus.Call(ctx, bus, Ping{}); err != nil || pings.Load() != 2 {
		t.Fatalf("notify: %v after %d calls", err, pings.Load())
	}
}

// F263: the event timeout is the outer budget: the delay is cut short and no attempt follows.
func TestEventTimeoutIsTheOuterBudgetF263(t *testing.T) {
	ctx := context.Background()
	bus, _ := abxbus.New("Budget", &abxbus.Options{EventTimeout: 50 * time.Millisecond})
	defer bus.Destroy(true)
	var calls atomic.Int32
	returned := make(chan error, 1)
	h, _ := retry.Handler(retry.Options{MaxAttempts: 10, RetryAfter: time.Hour, Logger: quiet()},
		func(ctx context.Context, c Charge) (string, error) {
			calls.Add(1)
			return "", errFlaky
		})
	abxbus.On(bus, func(ctx context.Context, c Charge) (string, error) {
		v, err := h(ctx, c)
		returned <- err
		return v, err
	})
	_, err := abxbus.Call(ctx, bus, Charge{Card: "x"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call: %v, want the event timeout", err)
	}
	herr := <-returned
	var re *retry.Error
	if !errors.As(herr, &re) || re.Attempts != 1 || re.Stopped == nil || !errors.Is(herr, context.DeadlineExceeded) || calls.Load() != 1 {
		t.Fatalf("the wrapper returned %v after %d calls; want it stopped by the deadline after 1 attempt", herr, calls.Load())
	}
	if err := bus.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

// F263: a per-attempt timeout inside a handler timeout: attempts time out and are retried until the
// handler's own budget ends them.
func TestAttemptTimeoutInsideHandlerTimeoutF263(t *testing.T) {
	ctx := context.Background()
	bus, _ := abxbus.New("Attempts", nil)
	defer bus.Destroy(true)
	var calls atomic.Int32
	returned := make(chan error, 1)
	h, _ := retry.Untyped(retry.Options{MaxAttempts: 1000, AttemptTimeout: 5 * time.Millisecond, Logger: quiet()},
		func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			calls.Add(1)
			<-ctx.Done()
			return nil, ctx.Err()
		})
	abxbus.OnEvent(bus, func(ctx context.Context, e *abxbus.Event[Charge, string]) (string, error) {
		_, err := h(ctx, e.Base())
		returned <- err
		return "", err
	}, abxbus.WithHandlerTimeout(100*time.Millisecond))
	_, err := abxbus.Call(ctx, bus, Charge{})
	if !errors.Is(err, abxbus.ErrHandlerTimeout) {
		t.Fatalf("Call: %v, want the handler timeout", err)
	}
	herr := <-returned
	var re *retry.Error
	// The handler's budget, not MaxAttempts, ended the attempts (each lasts at least 5 ms).
	if !errors.As(herr, &re) || re.Stopped == nil || re.Attempts < 1 || re.Attempts >= 1000 || int(calls.Load()) != re.Attempts {
		t.Fatalf("the wrapper returned %v after %d calls", herr, calls.Load())
	}
	if err := bus.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
}
