package abxbus

import (
	"context"
	"testing"
	"unsafe"
)

// Allocation pins of the hot path (issue "Performance II", a lighter event record): the number of heap
// allocations per event, counted, not timed. A change that makes the common event allocate more fails
// here; one that makes it allocate less lowers the pins.

type allocPing struct {
	Returns[int]
	N int `json:"n"`
}

// allocsPerEvent runs f (one event) enough times to average out the bus's occasional work (history
// eviction, a dispatcher goroutine start) and returns the allocations per run.
func allocsPerEvent(t *testing.T, f func()) float64 {
	t.Helper()
	for i := 0; i < 100; i++ {
		f() // warm up: pools, the type registry, the history ring
	}
	return testing.AllocsPerRun(2000, f)
}

func pinAllocs(t *testing.T, what string, got, want float64) {
	t.Helper()
	if raceEnabled {
		t.Logf("%s: %v allocations per event (not pinned under -race, which allocates for its own bookkeeping)", what, got)
		return
	}
	if got > want {
		t.Errorf("%s: %v allocations per event, want at most %v", what, got, want)
	}
	t.Logf("%s: %v allocations per event (pin %v)", what, got, want)
}

func TestAllocsEmitNowOneHandler(t *testing.T) {
	ctx := context.Background()
	bus, err := New("AllocBus", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Destroy(true)
	bus.OnType("AllocPing", func(ctx context.Context, e *BaseEvent) (any, error) { return nil, nil })
	got := allocsPerEvent(t, func() {
		e, _ := NewBaseEvent("AllocPing", nil)
		if _, err := bus.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := e.Now(ctx); err != nil {
			t.Fatal(err)
		}
	})
	pinAllocs(t, "untyped emit + Now, one handler, default bus", got, 1)
}

func TestAllocsCallTypedOneHandler(t *testing.T) {
	ctx := context.Background()
	bus, err := New("AllocBus", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Destroy(true)
	On(bus, func(ctx context.Context, p allocPing) (int, error) { return p.N + 1000, nil })
	i := 0
	got := allocsPerEvent(t, func() {
		i++
		if _, err := Call(ctx, bus, allocPing{N: i}); err != nil {
			t.Fatal(err)
		}
	})
	pinAllocs(t, "typed Call, one handler, default bus", got, 2)
}

func TestAllocsCallTypedInlineHandler(t *testing.T) {
	ctx := context.Background()
	bus, err := New("AllocBus", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Destroy(true)
	On(bus, func(ctx context.Context, p allocPing) (int, error) { return p.N + 1000, nil }, WithInline())
	i := 0
	got := allocsPerEvent(t, func() {
		i++
		if _, err := Call(ctx, bus, allocPing{N: i}); err != nil {
			t.Fatal(err)
		}
	})
	pinAllocs(t, "typed Call, one WithInline handler, default bus", got, 2)
}

func TestAllocsEmitNoHandler(t *testing.T) {
	ctx := context.Background()
	bus, err := New("AllocBus", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Destroy(true)
	got := allocsPerEvent(t, func() {
		e, _ := NewBaseEvent("AllocNobody", nil)
		if _, err := bus.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		if err := e.Now(ctx); err != nil {
			t.Fatal(err)
		}
	})
	pinAllocs(t, "untyped emit + Now, no handler, default bus", got, 1)
}

// The 50k workload's shape: typed events emitted in a batch, then the bus drained; per event.
func TestAllocsEmitBatchOneHandler(t *testing.T) {
	ctx := context.Background()
	bus, err := New("AllocBus", &Options{MaxHistorySize: Ptr(512), MaxHistoryDrop: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Destroy(true)
	On(bus, func(ctx context.Context, p allocPing) (int, error) { return p.N + 1000, nil })
	const batch = 100
	i := 0
	got := allocsPerEvent(t, func() {
		for k := 0; k < batch; k++ {
			i++
			if _, err := Emit(ctx, bus, allocPing{N: i}); err != nil {
				t.Fatal(err)
			}
		}
		if err := bus.WaitUntilIdle(ctx); err != nil {
			t.Fatal(err)
		}
	}) / batch
	pinAllocs(t, "typed Emit in a batch of 100 + WaitUntilIdle, one handler", got, 3.1)
}

// The event record (with its first result and first run inline) stays within the 640-byte size class:
// objects of that size carry an 8-byte allocation header, so 632 bytes is the limit. Growing it past
// that costs every event 64 bytes more (the next class is 704).
func TestEventRecordSize(t *testing.T) {
	const limit = 632
	if got := unsafe.Sizeof(BaseEvent{}); got > limit {
		t.Errorf("BaseEvent is %d bytes, want at most %d (EventResult %d, run %d)", got, limit, unsafe.Sizeof(EventResult{}), unsafe.Sizeof(run{}))
	}
}

// A registration allocates its Handler: keep it within the 160-byte size class (onoff registers one
// per event; a bool added in the wrong place once made it 168 bytes, 176 with its class).
func TestHandlerRecordSize(t *testing.T) {
	if got := unsafe.Sizeof(Handler{}); got > 160 {
		t.Errorf("Handler is %d bytes, want at most 160", got)
	}
}
