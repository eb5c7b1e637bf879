package unixsock_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
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
		opts unixsock.Options
	}{
		{"per-event", unixsock.Options{}},
		{"persistent", unixsock.Options{Persistent: true}},
		{"persistent-noack", unixsock.Options{Persistent: true, NoAck: true}},
	} {
		b.Run(m.name, func(b *testing.B) {
			path := sockPath(b)
			lat := newLatencies(b.N)
			ln, err := unixsock.New(path, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			ln.On("*", lat.handle)
			em := newEmitter(b, path, &m.opts)
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

// BenchmarkGoToTS: the Go emitter (per event, awaited) to the TS SocketEventBridge listener; events/s
// counts until the TS listener received all of them. Run with -benchtime=2000x (the TS listener waits
// for exactly b.N events).
func BenchmarkGoToTS(b *testing.B) {
	tspeer.Require(b)
	path := sockPath(b)
	ctx := context.Background()
	cmd := tspeer.Command(ctx, b, "netbridges.mjs", "socket-listen", path, strconv.Itoa(b.N), b.TempDir()+"/out.json")
	ready := startTS(b, cmd)
	<-ready
	em := newEmitter(b, path, nil)
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
	if err := cmd.Wait(); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(lat[b.N/2], "emit-p50-ms")
	b.ReportMetric(lat[min(b.N-1, b.N*99/100)], "emit-p99-ms")
}

// tsLatencies records, for events a TS emitter stamped with sent_at_ms, the receipt latency.
type tsLatencies struct {
	mu        sync.Mutex
	lat       []float64
	first     float64
	last      time.Time
	n         int
	all       chan struct{}
	closeOnce sync.Once
}

func (l *tsLatencies) handle(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
	now := time.Now()
	raw, _ := e.PayloadJSON()
	var p struct {
		SentAt float64 `json:"sent_at_ms"`
	}
	json.Unmarshal(raw, &p)
	l.mu.Lock()
	defer l.mu.Unlock()
	ms := float64(now.UnixNano())/1e6 - p.SentAt
	if len(l.lat) == 0 {
		l.first = p.SentAt
	}
	l.lat = append(l.lat, ms)
	l.last = now
	if len(l.lat) == l.n {
		l.closeOnce.Do(func() { close(l.all) })
	}
	return nil, nil
}

func (l *tsLatencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	secs := (float64(l.last.UnixNano())/1e6 - l.first) / 1000
	slices.Sort(l.lat)
	b.ReportMetric(float64(len(l.lat))/secs, "events/s")
	b.ReportMetric(l.lat[len(l.lat)/2], "p50-ms")
	b.ReportMetric(l.lat[min(len(l.lat)-1, len(l.lat)*99/100)], "p99-ms")
}

// BenchmarkTSToGo: the TS SocketEventBridge emitter (each emit awaited) to a Go listener; latency is the
// Go handler's receipt minus the TS sent_at_ms stamp (one machine clock). Run with -benchtime=2000x.
func BenchmarkTSToGo(b *testing.B) {
	tspeer.Require(b)
	l := &tsLatencies{n: b.N, all: make(chan struct{})}
	path := sockPath(b)
	ln, err := unixsock.New(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ln.On("*", l.handle)
	b.ResetTimer()
	rep := tsEmit(b, context.Background(), "socket-emit", path, b.N, 0)
	<-l.all
	b.StopTimer()
	if rep.OK != b.N {
		b.Fatalf("TS emitter: %+v", rep)
	}
	l.report(b)
}
