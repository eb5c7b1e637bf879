package abxbus_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Issue 13 item 4: the shared alarm heaps. Many runs on several buses with interleaved handler
// deadlines all time out (each handler waits for its context), while runs that finish first keep their
// results: a finished run's deadline never reaches its handlers.
func TestAlarmsManyInterleavedDeadlinesIssue13Item4(t *testing.T) {
	ctx := tctx(t)
	const buses, perBus = 4, 12
	var wg sync.WaitGroup
	errs := make(chan error, buses*perBus)
	for bi := range buses {
		b := newBus(t, fmt.Sprintf("Alarms%d", bi), &abxbus.Options{EventConcurrency: abxbus.Parallel})
		must[*abxbus.Handler](t)(abxbus.On(b, func(hctx context.Context, p Ping) (int, error) {
			if p.N%3 == 0 { // finishes at once, long before its deadline
				return p.N, nil
			}
			<-hctx.Done()
			return 0, hctx.Err()
		}, abxbus.WithName("h")))
		for i := range perBus {
			n := bi + buses*i
			// Deadlines interleaved across the buses and out of emit order: 1..48 ms.
			d := time.Duration(1+(n*7)%(buses*perBus)) * time.Millisecond
			if n%3 == 0 {
				d = 10 * time.Second // queued with the others, removed when the run finishes
			}
			e := must[*abxbus.Event[Ping, int]](t)(abxbus.EmitWith(ctx, b, Ping{N: n}, abxbus.EventOptions{HandlerTimeout: d}))
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := e.Wait(ctx); err != nil {
					errs <- err
					return
				}
				rs := e.EventResults()
				if len(rs) != 1 {
					errs <- fmt.Errorf("event %d: %d results", n, len(rs))
					return
				}
				v, err := rs[0].Value()
				switch {
				case n%3 == 0 && (err != nil || v != n):
					errs <- fmt.Errorf("event %d finished early but got %v, %v", n, v, err)
				case n%3 != 0 && !errors.Is(err, abxbus.ErrHandlerTimeout):
					errs <- fmt.Errorf("event %d: %v, want a handler timeout", n, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Issue 13 item 4: a far deadline armed first and a near one armed after it on the same bus: the near
// one fires (the shard timer is re-armed earlier) while the far one is still pending.
func TestAlarmNearAfterFarIssue13Item4(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "NearAfterFar", &abxbus.Options{EventConcurrency: abxbus.Parallel})
	farStarted := make(chan struct{})
	release := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(b, func(hctx context.Context, p Ping) (int, error) {
		if p.N == 0 {
			close(farStarted)
			select {
			case <-hctx.Done():
				return 0, hctx.Err()
			case <-release:
				return 1, nil
			}
		}
		<-hctx.Done()
		return 0, hctx.Err()
	}))
	far := must[*abxbus.Event[Ping, int]](t)(abxbus.EmitWith(ctx, b, Ping{N: 0}, abxbus.EventOptions{HandlerTimeout: time.Hour}))
	<-farStarted
	near := must[*abxbus.Event[Ping, int]](t)(abxbus.EmitWith(ctx, b, Ping{N: 1}, abxbus.EventOptions{HandlerTimeout: 5 * time.Millisecond}))
	if err := near.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := near.EventResults()[0].Value(); !errors.Is(err, abxbus.ErrHandlerTimeout) {
		t.Fatalf("near deadline: %v, want a handler timeout", err)
	}
	if far.Status() == abxbus.EventCompleted {
		t.Fatal("the far deadline fired with the near one")
	}
	close(release)
	if err := far.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := far.EventResults()[0].Value(); err != nil || v != 1 {
		t.Fatalf("far event: %v, %v; want 1", v, err)
	}
}

// Issue 13 item 4: destroying a bus whose runs have pending deadlines (near and far) leaves no
// goroutine behind and no alarm queued.
func TestAlarmDestroyWithPendingDeadlinesIssue13Item4(t *testing.T) {
	ctx := tctx(t)
	base := runtime.NumGoroutine()
	b, err := abxbus.New("DestroyPending", &abxbus.Options{EventConcurrency: abxbus.Parallel})
	if err != nil {
		t.Fatal(err)
	}
	var started sync.WaitGroup
	must[*abxbus.Handler](t)(abxbus.On(b, func(hctx context.Context, p Ping) (int, error) {
		started.Done()
		<-hctx.Done()
		return 0, hctx.Err()
	}))
	for i := range 6 {
		started.Add(1)
		d := time.Hour
		if i%2 == 0 {
			d = 200 * time.Millisecond
		}
		must[*abxbus.Event[Ping, int]](t)(abxbus.EmitWith(ctx, b, Ping{N: i}, abxbus.EventOptions{HandlerTimeout: d}))
	}
	started.Wait()
	b.Destroy(true)
	// The stopped runs finish on goroutines of their own: wait for them.
	for n := abxbus.PendingAlarms(b); n != 0; n = abxbus.PendingAlarms(b) {
		if ctx.Err() != nil {
			t.Fatalf("%d alarms still queued after Destroy", n)
		}
		time.Sleep(time.Millisecond)
	}
	for n := runtime.NumGoroutine(); n > base; n = runtime.NumGoroutine() {
		if ctx.Err() != nil {
			t.Fatalf("%d goroutines after Destroy, want %d", n, base)
		}
		time.Sleep(time.Millisecond)
	}
}

// Issue 13 item 4: once a bus is idle none of its runs has an alarm queued (finished runs leave the
// heaps), even with the default far deadlines.
func TestAlarmFinishedRunsLeaveHeapIssue13Item4(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "FinishedLeave", &abxbus.Options{MaxHistoryDrop: true})
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return p.N, nil }))
	for i := range 200 {
		must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{N: i}))
	}
	idle(t, b)
	if n := abxbus.PendingAlarms(b); n != 0 {
		t.Fatalf("%d alarms queued on an idle bus", n)
	}
}
