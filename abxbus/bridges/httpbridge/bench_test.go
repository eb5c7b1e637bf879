package httpbridge_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
	"github.com/typedbus/abxbus-go/internal/tspeer"
)

// latencies records send and receipt times by seq and reports events/s and p50/p99 latency.
type latencies struct {
	mu         sync.Mutex
	sent, recv []time.Time
	got        int
	all        chan struct{}
}

func newLatencies(n int) *latencies {
	return &latencies{sent: make([]time.Time, n), recv: make([]time.Time, n), all: make(chan struct{})}
}

func (l *latencies) handle(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
	now := time.Now()
	raw, _ := e.PayloadJSON()
	var p struct {
		Seq int `json:"seq"`
	}
	json.Unmarshal(raw, &p)
	l.mu.Lock()
	defer l.mu.Unlock()
	if p.Seq >= 0 && p.Seq < len(l.recv) {
		l.recv[p.Seq] = now
		l.got++
		if l.got == len(l.recv) {
			close(l.all)
		}
	}
	return nil, nil
}

func (l *latencies) report(b *testing.B, elapsed time.Duration, endToEnd bool) {
	n := len(l.sent)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
	if !endToEnd {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	d := make([]float64, 0, n)
	for i := range n {
		d = append(d, float64(l.recv[i].Sub(l.sent[i]).Microseconds())/1000)
	}
	slices.Sort(d)
	b.ReportMetric(d[n/2], "p50-ms")
	b.ReportMetric(d[min(n-1, n*99/100)], "p99-ms")
}

// BenchmarkGoToGo: one emitter awaiting each Emit, one listener, an IPCPingEvent per event; latency
// is the listener handler's receipt minus the time just before Emit.
func BenchmarkGoToGo(b *testing.B) {
	for _, m := range []struct {
		name string
		opts httpbridge.Options
	}{{"ack-queued", httpbridge.Options{}}, {"ack-handled", httpbridge.Options{AckAfterHandled: true}}} {
		b.Run(m.name, func(b *testing.B) {
			lat := newLatencies(b.N)
			o := m.opts
			o.ListenOn = "http://127.0.0.1:0/abxbus_events"
			ln, err := httpbridge.New("", &o)
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			ln.On("*", lat.handle)
			em := newEmitter(b, ln.ListenURL(), nil)
			ctx := context.Background()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				ev := ping(i)
				lat.sent[i] = time.Now()
				if err := em.Emit(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
			<-lat.all
			elapsed := time.Since(start)
			b.StopTimer()
			lat.report(b, elapsed, true)
		})
	}
}

// BenchmarkGoToTS: the Go emitter (awaited) to the TS HTTPEventBridge listener; events/s counts until
// the TS listener received all of them. Run with -benchtime=2000x (the TS listener waits for exactly
// b.N events).
func BenchmarkGoToTS(b *testing.B) {
	tspeer.Require(b)
	url := "http://127.0.0.1:" + strconv.Itoa(freePort(b)) + "/abxbus_events"
	ctx := context.Background()
	wait := tsListener(b, ctx, "http-listen", url, b.N)
	em := newEmitter(b, url, nil)
	lat := make([]float64, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		t0 := time.Now()
		if err := em.Emit(ctx, ping(i)); err != nil {
			b.Fatal(err)
		}
		lat[i] = float64(time.Since(t0).Microseconds()) / 1000
	}
	wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(lat[b.N/2], "emit-p50-ms")
	b.ReportMetric(lat[min(b.N-1, b.N*99/100)], "emit-p99-ms")
}
