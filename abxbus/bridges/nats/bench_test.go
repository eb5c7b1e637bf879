package nats_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	natsbridge "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
)

// Timed carries its send time, for the latency of delivery.
type Timed struct {
	abxbus.Returns[abxbus.Void]
	SentNs int64 `json:"sent_ns"`
	Seq    int   `json:"seq"`
}

// BenchmarkBridge: one producer (awaited Emits) and 1, 2, 4 listener bridges, each on its own
// connection, per mode. Core listeners each receive every event (broadcast); JetStream listeners
// share one durable consumer and split the events. events/s is events delivered to their
// destination (every core listener, one JetStream worker) per second of the run; p50/p99 the
// latency from before Emit to the handler. jetstream-1ms-handler gives every event 1 ms of work, to
// show the workers of one consumer sharing it.
func BenchmarkBridge(b *testing.B) {
	srv := startNATS(b, true)
	run := 0
	for _, mode := range []struct {
		name string
		o    natsbridge.Options
		work time.Duration // each handler call sleeps this long (a worker's cost per event)
	}{
		{"core", natsbridge.Options{}, 0},
		{"core-noconfirm", natsbridge.Options{NoConfirm: true}, 0},
		{"jetstream", natsbridge.Options{Mode: natsbridge.JetStream, Consumer: "bench"}, 0},
		{"jetstream-1ms-handler", natsbridge.Options{Mode: natsbridge.JetStream, Consumer: "bench"}, time.Millisecond},
	} {
		for _, workers := range []int{1, 2, 4} {
			b.Run(fmt.Sprintf("%s/workers=%d", mode.name, workers), func(b *testing.B) {
				run++
				subject := fmt.Sprintf("bench%d", run)
				reg := abxbus.NewRegistry()
				abxbus.Register[Timed](reg)
				o := mode.o
				o.Registry = reg
				em, err := natsbridge.New(srv.URL, subject, &o)
				if err != nil {
					b.Fatal(err)
				}
				defer em.Close()
				var mu sync.Mutex
				lat := make([]time.Duration, 0, b.N*workers)
				want := b.N
				if mode.o.Mode == natsbridge.Core {
					want = b.N * workers
				}
				all := make(chan struct{})
				var ls []*natsbridge.Bridge
				for range workers {
					l, err := natsbridge.New(srv.URL, subject, &o)
					if err != nil {
						b.Fatal(err)
					}
					ls = append(ls, l)
					abxbus.On(l.Bus(), func(ctx context.Context, p Timed) (abxbus.Void, error) {
						if mode.work > 0 {
							time.Sleep(mode.work)
						}
						d := time.Duration(time.Now().UnixNano() - p.SentNs)
						mu.Lock()
						lat = append(lat, d)
						if len(lat) == want {
							close(all)
						}
						mu.Unlock()
						return abxbus.Void{}, nil
					})
					if err := l.Start(); err != nil {
						b.Fatal(err)
					}
				}
				defer func() {
					for _, l := range ls {
						l.Close()
					}
				}()
				ctx := context.Background()
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					if err := em.Emit(ctx, abxbus.NewEvent(Timed{SentNs: time.Now().UnixNano(), Seq: i}).Base()); err != nil {
						b.Fatal(err)
					}
				}
				select {
				case <-all:
				case <-time.After(60 * time.Second):
					mu.Lock()
					b.Fatalf("delivered %d of %d", len(lat), want)
				}
				el := time.Since(start)
				b.StopTimer()
				mu.Lock()
				defer mu.Unlock()
				slices.Sort(lat)
				b.ReportMetric(float64(len(lat))/el.Seconds(), "events/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}
