package abxbus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// histSoakCounts are the handler-side tallies of one soak bus.
type histSoakCounts struct {
	ping, order, parent, kid, kidFailed, kidRejected atomic.Int64
}

// histSoakBus is a bus with max_history_size=100 and handlers for a mix of modes: parallel Pings,
// serial Orders, Parents whose handler calls a Kid child (queue-jump), Kids failing every 7th.
func histSoakBus(t *testing.T, name string, drop bool, c *histSoakCounts) *abxbus.Bus {
	t.Helper()
	b := newBus(t, name, &abxbus.Options{
		MaxHistorySize: abxbus.Ptr(100),
		MaxHistoryDrop: drop,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)), // the one drop warning
	})
	h := must[*abxbus.Handler](t)
	h(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { c.ping.Add(1); return p.N, nil }))
	h(abxbus.On(b, func(ctx context.Context, o Order) (string, error) { c.order.Add(1); return o.OrderID, nil }))
	h(abxbus.On(b, func(ctx context.Context, p Parent) (string, error) {
		c.parent.Add(1)
		i, _ := strconv.Atoi(p.Name)
		v, err := abxbus.CallChild(ctx, Kid{N: i})
		if errors.Is(err, abxbus.ErrHistoryFull) {
			c.kidRejected.Add(1) // D1 backpressure reaches children too: an error, never a hang
		}
		return fmt.Sprint(v), err
	}))
	h(abxbus.On(b, func(ctx context.Context, k Kid) (int, error) {
		c.kid.Add(1)
		if k.N%7 == 0 {
			c.kidFailed.Add(1)
			return 0, errors.New("kid failed")
		}
		return k.N, nil
	}))
	return b
}

// histSoakEmit emits event i of the mix on b. In reject mode (drop=false) a rejected emit waits for the
// oldest outstanding event and retries with a fresh event, as a producer honouring D1 backpressure
// would; outstanding holds the emitted events not yet known to be complete.
func histSoakEmit(t *testing.T, ctx context.Context, b *abxbus.Bus, i int, outstanding *[]*abxbus.BaseEvent, rejections *int) {
	for {
		var e *abxbus.BaseEvent
		var err error
		switch i % 4 {
		case 0:
			var ev *abxbus.Event[Ping, int]
			ev, err = abxbus.EmitWith(ctx, b, Ping{N: i}, abxbus.EventOptions{Concurrency: abxbus.Parallel})
			e = ev.Base()
		case 1, 3:
			var ev *abxbus.Event[Order, string]
			ev, err = abxbus.Emit(ctx, b, Order{OrderID: fmt.Sprint(i)})
			e = ev.Base()
		case 2:
			var ev *abxbus.Event[Parent, string]
			ev, err = abxbus.Emit(ctx, b, Parent{Name: fmt.Sprint(i)})
			e = ev.Base()
		}
		if err == nil {
			*outstanding = append(*outstanding, e)
			if len(*outstanding) > 400 {
				// keep the bookkeeping small: drop the ones already done from the front
				n := 0
				for _, x := range *outstanding {
					if x.Status() != abxbus.EventCompleted {
						(*outstanding)[n] = x
						n++
					}
				}
				clear((*outstanding)[n:])
				*outstanding = (*outstanding)[:n]
			}
			return
		}
		if !errors.Is(err, abxbus.ErrHistoryFull) {
			t.Fatalf("emit %d: %v", i, err)
		}
		*rejections++
		if len(*outstanding) == 0 {
			t.Fatalf("emit %d rejected with nothing outstanding", i)
		}
		oldest := (*outstanding)[0]
		*outstanding = (*outstanding)[1:]
		if err := oldest.Wait(ctx); err != nil {
			t.Fatalf("waiting for %s: %v", oldest, err)
		}
	}
}

// Soak (F187-F193, D1, D14): a bus with max_history_size=100 processes 100k events of mixed modes, with
// failing handlers and children, in both drop modes. The retained history never exceeds 100, every
// accepted event is processed exactly once, and the heap after GC stays within a generous bound (the
// processed events are garbage). Scaled down under -race and -short.
func TestHistorySoakBounded(t *testing.T) {
	n := 100_000
	if histRaceBuild || testing.Short() {
		n = 20_000
	}
	ctx := tctx(t)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	for _, drop := range []bool{false, true} {
		t.Run(fmt.Sprintf("drop=%v", drop), func(t *testing.T) {
			var c histSoakCounts
			b := histSoakBus(t, "SoakBus", drop, &c)
			var outstanding []*abxbus.BaseEvent
			rejections, maxHist := 0, 0
			for i := 0; i < n; i++ {
				histSoakEmit(t, ctx, b, i, &outstanding, &rejections)
				if i%997 == 0 {
					if l := b.HistoryLen(); l > maxHist {
						maxHist = l
					}
				}
			}
			idle(t, b)
			if l := b.HistoryLen(); l > 100 || maxHist > 100 {
				t.Fatalf("history length %d (max sampled %d) exceeds 100", l, maxHist)
			}
			if drop && rejections != 0 {
				t.Fatalf("drop mode rejected %d emits", rejections)
			}
			// Every accepted event ran its handler exactly once (D14: dropped ones too).
			pings, orders, parents := int64(0), int64(0), int64(0)
			for i := 0; i < n; i++ {
				switch i % 4 {
				case 0:
					pings++
				case 1, 3:
					orders++
				case 2:
					parents++
				}
			}
			if c.ping.Load() != pings || c.order.Load() != orders || c.parent.Load() != parents {
				t.Fatalf("handler calls ping=%d order=%d parent=%d, want %d %d %d",
					c.ping.Load(), c.order.Load(), c.parent.Load(), pings, orders, parents)
			}
			if c.kid.Load() != parents-c.kidRejected.Load() || c.kidFailed.Load() == 0 {
				t.Fatalf("kids ran %d (failed %d), parents %d, kids rejected %d",
					c.kid.Load(), c.kidFailed.Load(), parents, c.kidRejected.Load())
			}
			t.Logf("%d events: %d emits rejected and retried, %d child emits rejected, %d kid failures",
				n, rejections, c.kidRejected.Load(), c.kidFailed.Load())
			outstanding = nil

			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			const bound = 48 << 20 // generous: 100 retained events need well under 1 MB
			if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > bound {
				t.Fatalf("heap grew by %d MB after processing %d events (bound %d MB)", grow>>20, n, bound>>20)
			} else {
				t.Logf("heap after GC: %+d KB", grow>>10)
			}
		})
	}
}
