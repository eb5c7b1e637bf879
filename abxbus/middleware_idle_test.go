package abxbus_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// slowResultHook holds up the delivery of a result's completed hook, and counts completed event hooks.
type slowResultHook struct {
	completed atomic.Int32
	delay     time.Duration
}

func (h *slowResultHook) OnEventChange(_ *abxbus.Bus, _ *abxbus.BaseEvent, phase abxbus.EventStatus) {
	if phase == abxbus.EventCompleted {
		h.completed.Add(1)
	}
}

func (h *slowResultHook) OnEventResultChange(_ *abxbus.Bus, _ *abxbus.BaseEvent, r *abxbus.EventResult, phase abxbus.EventStatus) {
	if phase == abxbus.EventCompleted && r.HandlerName() == "quick" {
		time.Sleep(h.delay)
	}
}

// WaitUntilIdle (F268) waits for the events to be processed, their completion hooks included: here the
// event's last handler finishes on one goroutine while another is still delivering an earlier hook of
// the same event, so the completion hooks are left to that goroutine; the bus must not report idle
// before they ran.
func TestWaitUntilIdleWaitsForCompletionHooks(t *testing.T) {
	h := &slowResultHook{delay: 300 * time.Millisecond}
	b := newBus(t, "IdleHooks", &abxbus.Options{Middlewares: []abxbus.Middleware{h}, HandlerConcurrency: abxbus.HandlersParallel})
	must[*abxbus.Handler](t)(b.OnType("Job", func(context.Context, *abxbus.BaseEvent) (any, error) { return 1, nil }, abxbus.WithName("quick")))
	must[*abxbus.Handler](t)(b.OnType("Job", func(context.Context, *abxbus.BaseEvent) (any, error) {
		time.Sleep(50 * time.Millisecond)
		return 2, nil
	}, abxbus.WithName("slow")))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e := must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("Job", nil))
	if _, err := b.Emit(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.completed.Load(); n != 1 {
		t.Fatalf("WaitUntilIdle returned with %d completed event hooks run, want 1", n)
	}
	if !b.IsIdle() {
		t.Fatal("IsIdle is false after WaitUntilIdle")
	}
}
