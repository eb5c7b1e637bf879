// Package inflight bounds how many received events a bridge keeps queued or running on its inbound bus.
package inflight

import (
	"context"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Window bounds how many received events are queued or running on the inbound bus at once. It keeps
// the events in emit order; the bus processes them in that order, so the oldest is the one to wait for.
// No goroutine watches the events: completed ones are dropped from the front when a slot is asked for.
// Set Limit before the first Acquire (0 or less: no bound, nothing is tracked); a Window is safe for
// concurrent use.
type Window struct {
	Limit  int
	mu     sync.Mutex
	events []*abxbus.BaseEvent
}

// Acquire waits until fewer than Limit events are in flight, then runs emit (under the lock, so that
// the order of the slice is the order of the bus) and records the event it returns. It returns ctx's
// error when ctx ends first.
func (f *Window) Acquire(ctx context.Context, emit func() (*abxbus.BaseEvent, error)) (*abxbus.BaseEvent, error) {
	if f.Limit <= 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return emit()
	}
	for {
		f.mu.Lock()
		for len(f.events) > 0 && isDone(f.events[0]) {
			f.events[0] = nil
			f.events = f.events[1:]
		}
		if len(f.events) < f.Limit {
			e, err := emit()
			if err == nil {
				f.events = append(f.events, e)
			}
			f.mu.Unlock()
			return e, err
		}
		head := f.events[0]
		f.mu.Unlock()
		select {
		case <-head.Done():
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func isDone(e *abxbus.BaseEvent) bool {
	select {
	case <-e.Done():
		return true
	default:
		return false
	}
}

// DefaultDrainTimeout is how long a bridge's Close waits by default for the received events to be
// handled before it destroys the inbound bus.
const DefaultDrainTimeout = 10 * time.Second

// Drain waits until bus is idle or d passed (d <= 0: it does not wait). It reports whether the bus
// became idle.
func Drain(bus *abxbus.Bus, d time.Duration) bool {
	if d <= 0 {
		return bus.IsIdle()
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return bus.WaitUntilIdle(ctx) == nil
}

// Unfinished returns how many of the window's events have not completed.
func (f *Window) Unfinished() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, e := range f.events {
		if !isDone(e) {
			n++
		}
	}
	return n
}
