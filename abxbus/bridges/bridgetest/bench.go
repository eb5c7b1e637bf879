package bridgetest

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Benchmark measures the bridge h describes, one emitter to one listener: b.N events emitted one after
// the other (each Emit awaited), received by a handler on the listener. It reports "events/s" (b.N
// over the time from the first Emit to the last receipt) and the one-way latency percentiles "p50-ms"
// and "p99-ms" (receipt minus the time just before Emit; under this full load it includes queueing).
func Benchmark(b *testing.B, h Harness) { bench(b, h, 0) }

// BenchmarkLatency measures the one-way latency of the bridge h describes without load: b.N events
// emitted gap apart (Emit awaited, then a sleep of gap), reported as "p50-ms" and "p99-ms", with
// "events/s" as in Benchmark. A gap of 2ms matches the figures recorded for the TypeScript bridges.
func BenchmarkLatency(b *testing.B, h Harness, gap time.Duration) { bench(b, h, gap) }

func bench(b *testing.B, h Harness, gap time.Duration) {
	h = h.withDefaults()
	p := h.NewPair(b)
	defer p.Emitter.Close()
	defer p.Listener.Close()
	run := newRunID()
	n := b.N
	sent := make([]time.Time, n)
	recv := make([]time.Time, n)
	var mu sync.Mutex
	count := 0
	all := make(chan struct{})
	warm := make(chan struct{}, 1)
	if _, err := p.Listener.On(PingType, func(_ context.Context, e *abxbus.BaseEvent) (any, error) {
		at := time.Now()
		raw, err := e.PayloadJSON()
		if err != nil {
			return nil, err
		}
		var pg ping
		if err := json.Unmarshal(raw, &pg); err != nil || pg.Run != run {
			return nil, err
		}
		if pg.Seq < 0 {
			select {
			case warm <- struct{}{}:
			default:
			}
			return nil, nil
		}
		mu.Lock()
		defer mu.Unlock()
		if pg.Seq < n && recv[pg.Seq].IsZero() {
			recv[pg.Seq] = at
			if count++; count == n {
				close(all)
			}
		}
		return nil, nil
	}); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout+time.Duration(n)*(time.Millisecond+gap))
	defer cancel()
	if err := p.Emitter.Emit(ctx, mustPing(b, run, -1)); err != nil { // warm up: connections, listener
		b.Fatal(err)
	}
	select {
	case <-warm:
	case <-ctx.Done():
		b.Fatal("the warm-up event did not arrive")
	}
	events := make([]*abxbus.BaseEvent, n)
	for i := range events {
		events[i] = mustPing(b, run, i)
	}
	b.ResetTimer()
	start := time.Now()
	for i, e := range events {
		sent[i] = time.Now()
		if err := p.Emitter.Emit(ctx, e); err != nil {
			b.Fatalf("Emit %d: %v", i, err)
		}
		if gap > 0 {
			time.Sleep(gap)
		}
	}
	select {
	case <-all:
	case <-ctx.Done():
		mu.Lock()
		got := count
		mu.Unlock()
		b.Fatalf("received %d of %d events", got, n)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	last := start
	lat := make([]float64, n)
	for i := range n {
		if recv[i].After(last) {
			last = recv[i]
		}
		lat[i] = float64(recv[i].Sub(sent[i])) / float64(time.Millisecond)
	}
	slices.Sort(lat)
	if el := last.Sub(start).Seconds(); el > 0 {
		b.ReportMetric(float64(n)/el, "events/s")
	}
	b.ReportMetric(lat[n/2], "p50-ms")
	b.ReportMetric(lat[min(n-1, n*99/100)], "p99-ms")
	b.ReportMetric(0, "ns/op")
}
