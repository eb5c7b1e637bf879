package sqlitemirror_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/middleware/sqlitemirror"
)

// BenchmarkMirror is 1 bus x 5k events x 1 handler (emit all, wait for each, then Close the mirror so
// that every row is committed): 6 rows per event (3 event phases, 3 result phases). "none" is the
// same workload without the mirror. ns/event includes the writes (until Close returned);
// ns/event-completed is the time until every event completed, the writer still catching up: what the
// bus itself pays while the queue has room.
func BenchmarkMirror(b *testing.B) {
	const n = 5_000
	for _, mirror := range []bool{false, true} {
		name := "none"
		if mirror {
			name = "mirror"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			b.ReportAllocs()
			i := 0
			var untilDone time.Duration
			for b.Loop() {
				start := time.Now()
				i++
				var mws []abxbus.Middleware
				var m *sqlitemirror.Mirror
				if mirror {
					var err error
					if m, err = sqlitemirror.Open(filepath.Join(dir, "h"+string(rune('a'+i%26))+".db"), &sqlitemirror.Options{Logger: quiet}); err != nil {
						b.Fatal(err)
					}
					mws = []abxbus.Middleware{m}
				}
				bus, _ := abxbus.New("Bench", &abxbus.Options{MaxHistorySize: abxbus.Ptr(512), MaxHistoryDrop: true,
					Logger: quiet, Middlewares: mws})
				abxbus.On(bus, func(ctx context.Context, w Work) (int, error) { return w.N, nil })
				evs := make([]*abxbus.Event[Work, int], 0, n)
				for j := range n {
					e, _ := abxbus.Emit(ctx, bus, Work{N: j})
					evs = append(evs, e)
				}
				for _, e := range evs {
					e.Wait(ctx)
				}
				untilDone += time.Since(start)
				bus.Destroy(true)
				if m != nil {
					if err := m.Close(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
			b.ReportMetric(float64(untilDone.Nanoseconds())/float64(b.N*n), "ns/event-completed")
		})
	}
}
