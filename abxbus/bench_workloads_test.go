package abxbus_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Micro-benchmarks of the operations the standard workloads (`abxbus bench`) are made of. Run them with
//
//	go test -run '^$' -bench Micro -benchmem ./abxbus
//
// Each reports ns/op, B/op and allocs/op for one operation; the workloads report the same per event.

type MicroPing struct {
	abxbus.Returns[int]
	N int `json:"n"`
}

func microBus(b *testing.B, opts *abxbus.Options) *abxbus.Bus {
	b.Helper()
	bus, err := abxbus.New("MicroBench", opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bus.Destroy(true) })
	return bus
}

// historyVariants are the history settings of the workloads: in-flight only, and the 50k workload's
// bounded history with drop (so eviction runs on every emit once it is full).
var historyVariants = []struct {
	name string
	opts *abxbus.Options
}{
	{"history=0", &abxbus.Options{MaxHistorySize: abxbus.Ptr(0)}},
	{"history=512-drop", &abxbus.Options{MaxHistorySize: abxbus.Ptr(512), MaxHistoryDrop: true}},
}

// BenchmarkMicroTypedEmitNow: typed Emit + Now of one event with one typed handler (the unit of the 50k
// workload without batching).
func BenchmarkMicroTypedEmitNow(b *testing.B) {
	for _, v := range historyVariants {
		b.Run(v.name, func(b *testing.B) {
			ctx := context.Background()
			bus := microBus(b, v.opts)
			if _, err := abxbus.On(bus, func(ctx context.Context, p MicroPing) (int, error) { return p.N + 1, nil }); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				e, err := abxbus.Emit(ctx, bus, MicroPing{N: i})
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Now(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMicroTypedEmitBatch: typed Emit of 512 events, then Now on each (the 50k workload's shape);
// reported per event.
func BenchmarkMicroTypedEmitBatch(b *testing.B) {
	const batchSize = 512
	ctx := context.Background()
	bus := microBus(b, &abxbus.Options{MaxHistorySize: abxbus.Ptr(512), MaxHistoryDrop: true})
	if _, err := abxbus.On(bus, func(ctx context.Context, p MicroPing) (int, error) { return p.N + 1, nil }); err != nil {
		b.Fatal(err)
	}
	batch := make([]*abxbus.Event[MicroPing, int], 0, batchSize)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e, err := abxbus.Emit(ctx, bus, MicroPing{N: i})
		if err != nil {
			b.Fatal(err)
		}
		batch = append(batch, e)
		if len(batch) == batchSize {
			for _, e := range batch {
				if err := e.Now(ctx); err != nil {
					b.Fatal(err)
				}
			}
			clear(batch)
			batch = batch[:0]
		}
	}
	for _, e := range batch {
		if err := e.Now(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMicroUntypedEmitNow: NewBaseEvent + Emit + Now through the untyped core, with a struct
// payload and with none.
func BenchmarkMicroUntypedEmitNow(b *testing.B) {
	for _, v := range historyVariants {
		for _, withPayload := range []bool{false, true} {
			name := v.name + "/payload=none"
			if withPayload {
				name = v.name + "/payload=struct"
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				bus := microBus(b, v.opts)
				if _, err := bus.OnType("MicroUntyped", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
					return 1, nil
				}); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					var payload any
					if withPayload {
						payload = MicroPing{N: i}
					}
					e, err := abxbus.NewBaseEvent("MicroUntyped", payload)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := bus.Emit(ctx, e); err != nil {
						b.Fatal(err)
					}
					if err := e.Now(ctx); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkMicroRegister: one typed handler registration (On). The bus is replaced every 10,000
// registrations (outside the timer) so the handler table stays the size the workloads use.
// detect-paths=true includes the runtime.FuncForPC lookup of handler_file_path done by default.
func BenchmarkMicroRegister(b *testing.B) {
	const perBus = 10_000
	names := make([]string, perBus)
	for i := range names {
		names[i] = "micro_handler_" + strconv.Itoa(i)
	}
	fn := func(ctx context.Context, p MicroPing) (int, error) { return p.N, nil }
	for _, detect := range []bool{false, true} {
		b.Run("detect-paths="+strconv.FormatBool(detect), func(b *testing.B) {
			opts := &abxbus.Options{DetectFilePaths: abxbus.Ptr(detect)}
			var bus *abxbus.Bus
			defer func() {
				if bus != nil {
					bus.Destroy(true)
				}
			}()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%perBus == 0 {
					b.StopTimer()
					if bus != nil {
						bus.Destroy(true)
					}
					var err error
					if bus, err = abxbus.New("MicroRegister", opts); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				if _, err := abxbus.On(bus, fn, abxbus.WithName(names[i%perBus])); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkMicroOnEmitOff: the onoff workload's unit: register a handler, emit one event, await it,
// unregister the handler.
func BenchmarkMicroOnEmitOff(b *testing.B) {
	ctx := context.Background()
	bus := microBus(b, &abxbus.Options{MaxHistorySize: abxbus.Ptr(128), MaxHistoryDrop: true})
	fn := func(ctx context.Context, p MicroPing) (int, error) { return p.N, nil }
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h, err := abxbus.On(bus, fn, abxbus.WithName("micro_one_off"))
		if err != nil {
			b.Fatal(err)
		}
		e, err := abxbus.Emit(ctx, bus, MicroPing{N: i})
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Now(ctx); err != nil {
			b.Fatal(err)
		}
		if !bus.Off(h) {
			b.Fatal("Off: handler was not registered")
		}
	}
}

// BenchmarkMicroQueueJump: a handler that emits a child on a second bus and awaits it with Now (the
// worst workload's unit, without timeouts).
func BenchmarkMicroQueueJump(b *testing.B) {
	ctx := context.Background()
	parent := microBus(b, &abxbus.Options{MaxHistorySize: abxbus.Ptr(128), MaxHistoryDrop: true})
	child := microBus(b, &abxbus.Options{MaxHistorySize: abxbus.Ptr(128), MaxHistoryDrop: true})
	type MicroChild struct {
		abxbus.Returns[int]
		N int `json:"n"`
	}
	if _, err := abxbus.On(child, func(ctx context.Context, p MicroChild) (int, error) { return p.N, nil }); err != nil {
		b.Fatal(err)
	}
	if _, err := abxbus.On(parent, func(ctx context.Context, p MicroPing) (int, error) {
		c, err := abxbus.Emit(ctx, child, MicroChild{N: p.N})
		if err != nil {
			return 0, err
		}
		if err := c.Now(ctx); err != nil {
			return 0, err
		}
		return p.N, nil
	}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e, err := abxbus.Emit(ctx, parent, MicroPing{N: i})
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Now(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
