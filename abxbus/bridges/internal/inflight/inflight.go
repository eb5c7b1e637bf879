// Package inflight bounds how many received events a bridge keeps queued or running on its inbound bus.
package inflight

import (
	"context"
	"sync"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Window bounds how many received events are queued or running on the inbound bus at once. It keeps
// the events in emit order; the bus processes them in that order, so the oldest is the one to wait for.
// No goroutine watches the events: completed ones are dropped from the front when a slot is asked for.
// Set Limit before the first Acquire; a Window is safe for concurrent use.
type Window struct {
	Limit  int
	mu     sync.Mutex
	events []*abxbus.BaseEvent
}

// Acquire waits until fewer than Limit events are in flight, then runs emit (under the lock, so that
// the order of the slice is the order of the bus) and records the event it returns. It returns ctx's
// error when ctx ends first.
func (f *Window) Acquire(ctx context.Context, emit func() (*abxbus.BaseEvent, error)) (*abxbus.BaseEvent, error) {
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
