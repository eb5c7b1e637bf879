package abxbus_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// A bus reports idle only after the events it finished have signalled their completion and every bus
// holding them applied its history retention: IsIdle and WaitUntilIdle never run ahead of Done().
// (A completion that once did the bus's bookkeeping before waking the waiters failed these thousands
// of times in 20000.)

type IdleOrderPing struct {
	abxbus.Returns[int]
}

func idleOrderRounds() int {
	if testing.Short() {
		return 2000
	}
	return 20000
}

// idleBeforeDone emits an event on b n times, calls idle(i) (which returns once b reports idle) and
// counts the times the event's Done() was still open then; an event not completed by then fails t.
func idleBeforeDone(t *testing.T, b *abxbus.Bus, n int, idle func(i int)) (bad int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		e, err := abxbus.Emit(ctx, b, IdleOrderPing{})
		if err != nil {
			t.Fatal(err)
		}
		done := e.Base().Done()
		idle(i)
		select {
		case <-done:
		default:
			if s := e.Base().Status(); s != abxbus.EventCompleted {
				t.Fatalf("%s: idle with the event %s", b.Label(), s)
			}
			bad++
		}
		<-done
	}
	return bad
}

func TestIsIdleImpliesDoneClosed(t *testing.T) {
	for _, mode := range []abxbus.EventConcurrency{abxbus.Parallel, abxbus.BusSerial} {
		b, err := abxbus.New("IdleOrder", &abxbus.Options{EventConcurrency: mode})
		if err != nil {
			t.Fatal(err)
		}
		abxbus.On(b, func(ctx context.Context, p IdleOrderPing) (int, error) { return 1, nil })
		n := idleOrderRounds()
		bad := idleBeforeDone(t, b, n, func(int) {
			for !b.IsIdle() { // a busy spin: the window is short
			}
		})
		b.Destroy(true)
		if bad > 0 {
			t.Errorf("%s: %d of %d times IsIdle() was true while the completed event's Done() was open", mode, bad, n)
		}
	}
}

func TestWaitUntilIdleImpliesDoneClosed(t *testing.T) {
	b, err := abxbus.New("IdleOrder", &abxbus.Options{EventConcurrency: abxbus.Parallel})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy(true)
	abxbus.On(b, func(ctx context.Context, p IdleOrderPing) (int, error) { return 1, nil })
	n := idleOrderRounds()
	bad := idleBeforeDone(t, b, n, func(i int) {
		if i%2 == 0 {
			for !b.IsIdle() { // a busy spin, so that WaitUntilIdle takes its fast path
			}
		}
		if err := b.WaitUntilIdle(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	if bad > 0 {
		t.Errorf("%d of %d times WaitUntilIdle returned while the event's Done() was open", bad, n)
	}
}

// An event emitted on A and forwarded to B (max_history_size 0): B's run ends first, A's completes the
// event. A is not idle before B's retention dropped the event.
func TestIdleAfterOtherBusRetention(t *testing.T) {
	a, err := abxbus.New("IdleOrderA", &abxbus.Options{EventConcurrency: abxbus.Parallel})
	if err != nil {
		t.Fatal(err)
	}
	bb, err := abxbus.New("IdleOrderB", &abxbus.Options{EventConcurrency: abxbus.Parallel, MaxHistorySize: abxbus.Ptr(0)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Destroy(true)
	defer bb.Destroy(true)
	abxbus.On(bb, func(ctx context.Context, p IdleOrderPing) (int, error) { return 2, nil })
	a.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		if _, err := bb.Emit(ctx, e); err != nil {
			return nil, err
		}
		for !bb.IsIdle() {
			runtime.Gosched()
		}
		return nil, nil
	})
	ctx := context.Background()
	bad, n := 0, idleOrderRounds()/10
	for i := 0; i < n; i++ {
		e, err := abxbus.Emit(ctx, a, IdleOrderPing{})
		if err != nil {
			t.Fatal(err)
		}
		for !a.IsIdle() {
			runtime.Gosched()
		}
		if h := bb.History(); len(h) != 0 {
			bad++
		}
		<-e.Base().Done()
	}
	if bad > 0 {
		t.Errorf("%d of %d times A was idle while B (max_history_size 0) still held the completed event", bad, n)
	}
}
