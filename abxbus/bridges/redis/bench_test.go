package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	redisbridge "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
)

type BenchPing struct {
	abxbus.Returns[abxbus.Void]
	Seq  int   `json:"seq"`
	Sent int64 `json:"sent"`
}

// BenchmarkModes: one producer emitting b.N events (each Emit awaited) and 1, 2 or 4 workers; events/s
// is end to end (first emit to last receipt of every event by its worker: in pub/sub every worker
// receives every event, in streams the group splits them), latency is receipt minus the emit's start.
func BenchmarkModes(b *testing.B) {
	srv := startRedis(b, false)
	for _, mode := range []redisbridge.Mode{redisbridge.ModePubSub, redisbridge.ModeStreams} {
		for _, workers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%s/workers=%d", mode, workers), func(b *testing.B) {
				benchMode(b, srv.URL(), mode, workers)
			})
		}
	}
}

var benchRun atomic.Int64

func benchMode(b *testing.B, base string, mode redisbridge.Mode, workers int) {
	name := fmt.Sprintf("bench%d", benchRun.Add(1))
	url := base + "/0/" + name
	want := b.N
	if mode == redisbridge.ModePubSub {
		want = b.N * workers
	}
	var mu sync.Mutex
	lat := make([]time.Duration, 0, want)
	done := make(chan struct{})
	var received atomic.Int64
	for w := range workers {
		br, err := redisbridge.New(url, &redisbridge.Options{Mode: mode, Group: "g", Consumer: fmt.Sprint("w", w), Logger: quiet()})
		if err != nil {
			b.Fatal(err)
		}
		defer br.Close()
		if _, err := br.On("BenchPing", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			now := time.Now().UnixNano()
			raw, _ := e.PayloadJSON()
			var p BenchPing
			json.Unmarshal(raw, &p)
			mu.Lock()
			lat = append(lat, time.Duration(now-p.Sent))
			mu.Unlock()
			if received.Add(1) == int64(want) {
				close(done)
			}
			return nil, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	send, err := redisbridge.New(url, &redisbridge.Options{Mode: mode, Group: "g", Consumer: "producer"})
	if err != nil {
		b.Fatal(err)
	}
	defer send.Close()
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := send.Emit(ctx, abxbus.NewEvent(BenchPing{Seq: i, Sent: time.Now().UnixNano()}).Base()); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		b.Fatalf("received %d of %d", received.Load(), want)
	}
	el := time.Since(start)
	b.StopTimer()
	mu.Lock()
	slices.Sort(lat)
	p50, p99 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
	mu.Unlock()
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
}

// BenchmarkCall: one caller, sequential typed calls to a server in the same process over Redis.
func BenchmarkCall(b *testing.B) {
	srv := startRedis(b, false)
	bus, _ := abxbus.New("Calc", nil)
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, p Add) (int, error) { return p.A + p.B, nil })
	s, err := redisbridge.NewServer(srv.URL(), bus, &redisbridge.ServerOptions{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(); err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cl, err := redisbridge.NewClient(srv.URL(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		if v, err := redisbridge.Call(ctx, cl, Add{A: i, B: 1}); err != nil || v != i+1 {
			b.Fatal(v, err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
