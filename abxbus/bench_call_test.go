package abxbus_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Issue 13 items 5 and 6: typed Call beside the machine's floor measured in the same run, and the
// throughput of concurrent callers.

// BenchmarkFloorChanRR: a request/reply over buffered channels (capacity 1) between two goroutines, the
// floor typed Call is compared with (the same measurement as the chan-rr floor of abxbus bench).
func BenchmarkFloorChanRR(b *testing.B) {
	req, rep := make(chan int, 1), make(chan int, 1)
	go func() {
		for v := range req {
			rep <- v + 1
		}
		close(rep)
	}()
	for i := 0; b.Loop(); i++ {
		req <- i
		<-rep
	}
	close(req)
	<-rep
}

// BenchmarkFloorSpawn: starting a goroutine and waiting for it.
func BenchmarkFloorSpawn(b *testing.B) {
	var wg sync.WaitGroup
	for b.Loop() {
		wg.Add(1)
		go wg.Done()
		wg.Wait()
	}
}

// BenchmarkCallScaling: typed Call with one handler from 1 or 8 concurrent callers, on one Parallel
// bus shared by all callers and on bus-serial buses (one per caller), with the handler handed off (the
// default) or WithInline. ns/op is per call over all
// callers, so 8 callers scale when their ns/op is below the single caller's.
func BenchmarkCallScaling(b *testing.B) {
	for _, shape := range []string{"parallel-bus", "serial-buses", "parallel-bus-inline", "serial-buses-inline"} {
		inline := strings.HasSuffix(shape, "-inline")
		var hopts []abxbus.HandlerOption
		if inline {
			hopts = append(hopts, abxbus.WithInline())
		}
		for _, callers := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/callers=%d", shape, callers), func(b *testing.B) {
				ctx := context.Background()
				buses := make([]*abxbus.Bus, callers)
				for i := range buses {
					parallel := strings.HasPrefix(shape, "parallel-bus")
					if parallel && i > 0 {
						buses[i] = buses[0]
						continue
					}
					opts := &abxbus.Options{MaxHistorySize: abxbus.Ptr(0)}
					if parallel {
						opts.EventConcurrency = abxbus.Parallel
					}
					bus, err := abxbus.New("Bench", opts)
					if err != nil {
						b.Fatal(err)
					}
					defer bus.Destroy(true)
					abxbus.On(bus, func(ctx context.Context, p BenchPing) (int, error) { return p.N + 1, nil }, hopts...)
					buses[i] = bus
				}
				b.ReportAllocs()
				b.ResetTimer()
				var wg sync.WaitGroup
				errs := make(chan error, callers)
				for c := 0; c < callers; c++ {
					n := b.N / callers
					if c < b.N%callers {
						n++
					}
					wg.Add(1)
					go func(bus *abxbus.Bus, n int) {
						defer wg.Done()
						for i := 0; i < n; i++ {
							if v, err := abxbus.Call(ctx, bus, BenchPing{N: i}); err != nil || v != i+1 {
								errs <- fmt.Errorf("call %d: %v, %v", i, v, err)
								return
							}
						}
					}(buses[c], n)
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
			})
		}
	}
}
