package inflight_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inflight"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// At most Limit events are in flight: the next Acquire waits for the oldest to complete, or for its
// context.
func TestWindowBoundsEventsInFlight(t *testing.T) {
	b, err := abxbus.New("Inflight", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy(true)
	release := make(chan struct{})
	if _, err := b.OnType("Job", func(ctx context.Context, _ *abxbus.BaseEvent) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	w := &inflight.Window{Limit: 2}
	emit := func() (*abxbus.BaseEvent, error) {
		e, err := abxbus.NewBaseEvent("Job", nil)
		if err != nil {
			return nil, err
		}
		return b.Emit(context.Background(), e)
	}
	ctx := context.Background()
	for range 2 {
		if _, err := w.Acquire(ctx, emit); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := w.Acquire(short, emit); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third Acquire with two events in flight: %v, want DeadlineExceeded", err)
	}
	close(release)
	third, err := w.Acquire(ctx, emit)
	if err != nil {
		t.Fatalf("Acquire after the events completed: %v", err)
	}
	if err := third.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	emitErr := errors.New("emit failed")
	if _, err := w.Acquire(ctx, func() (*abxbus.BaseEvent, error) { return nil, emitErr }); !errors.Is(err, emitErr) {
		t.Fatalf("emit's error: %v", err)
	}
}

// A Window without a Limit bounds nothing: every Acquire emits at once (it once indexed an empty
// window and panicked), and a context already ended is still refused.
func TestWindowWithoutLimit(t *testing.T) {
	b, err := abxbus.New("InflightUnbounded", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy(true)
	var w inflight.Window
	for i := range 3 {
		e, _ := abxbus.NewBaseEvent("Job", nil)
		if got, err := w.Acquire(context.Background(), func() (*abxbus.BaseEvent, error) { return b.Emit(context.Background(), e) }); err != nil || got != e {
			t.Fatalf("Acquire %d: %v %v", i, got, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e, _ := abxbus.NewBaseEvent("Job", nil)
	if _, err := w.Acquire(ctx, func() (*abxbus.BaseEvent, error) { return b.Emit(context.Background(), e) }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with an ended context: %v", err)
	}
}
