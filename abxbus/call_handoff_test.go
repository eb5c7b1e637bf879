package abxbus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Issue 13 item 5: Call and Now from outside a handler hand the run to another goroutine (not the
// caller's), so that a handler that ignores its context and does not return never holds the caller past
// the handler's timeout, past the caller's context or past Destroy.
func TestCallReturnsAtTimeoutWhileHandlerStuckIssue13Item5(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "StuckCall", nil)
	release := make(chan struct{})
	returned := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, p Ping) (int, error) {
		defer close(returned)
		<-release // ignores its context
		return 1, nil
	}, abxbus.WithHandlerTimeout(20*time.Millisecond)))
	_, err := abxbus.Call(context.Background(), bus, Ping{})
	var te *abxbus.EventHandlerTimeoutError
	if !errors.As(err, &te) {
		t.Fatalf("Call with a stuck handler: %v, want the handler timeout", err)
	}
	select {
	case <-returned:
		t.Fatal("the handler returned before it was released: Call did not return at the timeout")
	default:
	}
	close(release)
	<-returned

	// The caller's context ends the wait while the handler is stuck; the next Call on the same event
	// type reuses the waiter pool and still gets its answer.
	release2 := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, k Kid) (int, error) {
		<-release2
		return k.N, nil
	}))
	short, cancel := context.WithCancel(ctx)
	k := must[*abxbus.Event[Kid, int]](t)(abxbus.Emit(ctx, bus, Kid{N: 5}))
	done := make(chan error, 1)
	go func() { done <- k.Now(short) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Now with a cancelled context: %v", err)
	}
	close(release2)
	if err := k.Now(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := k.Result(ctx); err != nil || v != 5 {
		t.Fatalf("result after the abandoned wait: %v %v", v, err)
	}
	for i := range 50 {
		if v, err := abxbus.Call(ctx, bus, Kid{N: i}); err != nil || v != i {
			t.Fatalf("call %d: %v %v", i, v, err)
		}
	}

	// Destroy ends a Call whose handler is stuck.
	release3 := make(chan struct{})
	started := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, s Side) (string, error) {
		close(started)
		<-release3
		return "late", nil
	}))
	callErr := make(chan error, 1)
	go func() { _, err := abxbus.Call(context.Background(), bus, Side{}); callErr <- err }()
	<-started
	bus.Destroy(false)
	if err := <-callErr; err == nil {
		t.Fatal("Call on a destroyed bus with a stuck handler returned no error")
	}
	close(release3)
}

// Several callers awaiting one event with Now: one uses the pooled waiter, the others the done
// channel; all of them return at completion.
func TestNowManyWaitersIssue13Item5(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "ManyWaiters", nil)
	gate := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(bus, func(hctx context.Context, p Ping) (int, error) {
		<-gate
		return p.N, nil
	}))
	for round := range 20 {
		e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: round}))
		errs := make(chan error, 4)
		for range 4 {
			go func() { errs <- e.Now(ctx) }()
		}
		gate <- struct{}{}
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if v, err := e.Result(ctx); err != nil || v != round {
			t.Fatalf("round %d: %v %v", round, v, err)
		}
	}
	idle(t, bus)
}
