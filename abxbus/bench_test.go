package abxbus_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

type BenchPing struct {
	abxbus.Returns[int]
	N int `json:"n"`
}

// BenchmarkCallTyped: emit + immediate await of one typed event with one typed handler; with the
// handler registered WithInline it runs on the caller's goroutine.
func BenchmarkCallTyped(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []abxbus.HandlerOption
	}{{"handoff", nil}, {"inline", []abxbus.HandlerOption{abxbus.WithInline()}}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			bus, _ := abxbus.New("Bench", &abxbus.Options{MaxHistorySize: abxbus.Ptr(0)})
			defer bus.Destroy(true)
			abxbus.On(bus, func(ctx context.Context, p BenchPing) (int, error) { return p.N + 1, nil }, mode.opts...)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if v, err := abxbus.Call(ctx, bus, BenchPing{N: i}); err != nil || v != i+1 {
					b.Fatal(v, err)
				}
			}
		})
	}
}

// BenchmarkUntypedEmitNow: the same through the untyped core.
func BenchmarkUntypedEmitNow(b *testing.B) {
	ctx := context.Background()
	bus, _ := abxbus.New("Bench", &abxbus.Options{MaxHistorySize: abxbus.Ptr(0)})
	defer bus.Destroy(true)
	bus.OnType("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return 1, nil })
	b.ReportAllocs()
	for b.Loop() {
		e, _ := abxbus.NewBaseEvent("Ping", nil)
		if _, err := bus.Emit(ctx, e); err != nil {
			b.Fatal(err)
		}
		if err := e.Now(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// Benchmark50k: 1 bus x 50k events x 1 handler: emit all, then wait until idle.
func Benchmark50k(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		bus, _ := abxbus.New("Bench", &abxbus.Options{MaxHistorySize: abxbus.Ptr(512), MaxHistoryDrop: true,
			Logger: slog.New(slog.DiscardHandler)}) // emitting 50k before waiting drops unfinished entries: expected
		abxbus.On(bus, func(ctx context.Context, p BenchPing) (int, error) { return p.N, nil })
		for i := 0; i < 50_000; i++ {
			if _, err := abxbus.Emit(ctx, bus, BenchPing{N: i}); err != nil {
				b.Fatal(err)
			}
		}
		if err := bus.WaitUntilIdle(ctx); err != nil {
			b.Fatal(err)
		}
		bus.Destroy(true)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*50_000), "ns/event")
}

// BenchmarkFindFullHistory: Find the oldest matching event in a full history of 1000 (newest first, so
// the whole history is scanned), by an untyped predicate, a predicate on the typed payload and a
// field-equality filter.
func BenchmarkFindFullHistory(b *testing.B) {
	ctx := context.Background()
	bus, _ := abxbus.New("Bench", &abxbus.Options{MaxHistorySize: abxbus.Ptr(1000)})
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, p BenchPing) (int, error) { return p.N, nil })
	var first *abxbus.Event[BenchPing, int]
	for i := range 1000 {
		e, _ := abxbus.Emit(ctx, bus, BenchPing{N: i})
		if i == 0 {
			first = e
		}
	}
	bus.WaitUntilIdle(ctx)
	b.Run("predicate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e, err := abxbus.Find[BenchPing](ctx, bus, abxbus.FindOptions{Where: func(e *abxbus.BaseEvent) bool { return e == first.Base() }})
			if err != nil || e == nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("typed-predicate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e, err := abxbus.Find(ctx, bus, abxbus.FindOptions{}, func(p BenchPing) bool { return p.N == 0 })
			if err != nil || e == nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("equals", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e, err := abxbus.Find[BenchPing](ctx, bus, abxbus.FindOptions{Equals: map[string]any{"n": 0}})
			if err != nil || e == nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEventJSON: encode and decode one processed event with a result.
func BenchmarkEventJSON(b *testing.B) {
	ctx := context.Background()
	bus, _ := abxbus.New("Bench", nil)
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, p BenchPing) (int, error) { return p.N, nil })
	e, _ := abxbus.Emit(ctx, bus, BenchPing{N: 7})
	e.Now(ctx)
	data, _ := e.Base().ToJSON()
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := e.Base().ToJSON(); err != nil {
				b.Fatal(err)
			}
		}
	})
	reg := abxbus.NewRegistry()
	abxbus.Register[BenchPing](reg)
	b.Run("decode-typed", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := reg.Decode(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
