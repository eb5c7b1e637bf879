package bridgetesting

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Emitter is the sending half of a bridge.
type Emitter interface {
	Emit(ctx context.Context, e *abxbus.BaseEvent) error
}

// Latencies records send and receipt times by seq and reports events/s and p50/p99 latency.
type Latencies struct {
	mu         sync.Mutex
	sent, recv []time.Time
	got        int
	all        chan struct{}
}

// NewLatencies records n events, seqs 0..n-1.
func NewLatencies(n int) *Latencies {
	return &Latencies{sent: make([]time.Time, n), recv: make([]time.Time, n), all: make(chan struct{})}
}

// Handle is the listener's HandlerFunc: it stamps the receipt of the event's seq.
func (l *Latencies) Handle(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
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

// Run is the Go to Go benchmark loop: em emits Ping(0..b.N-1), each awaited, stamping its send; once
// the listener (whose handler is Handle) received all, it reports events/s and the latency of the
// listener handler's receipt after the time just before Emit.
func (l *Latencies) Run(b *testing.B, em Emitter) {
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		ev := Ping(i)
		l.sent[i] = time.Now()
		if err := em.Emit(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
	<-l.all
	elapsed := time.Since(start)
	b.StopTimer()
	l.report(b, elapsed)
}

func (l *Latencies) report(b *testing.B, elapsed time.Duration) {
	n := len(l.sent)
	b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
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

// EmitLoop is the Go to TS benchmark loop: em emits Ping(0..b.N-1), each awaited; wait returns once
// the TS listener received them all. It reports events/s until then and the p50/p99 Emit time.
func EmitLoop(b *testing.B, em Emitter, wait func()) {
	ctx := context.Background()
	lat := make([]float64, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		t0 := time.Now()
		if err := em.Emit(ctx, Ping(i)); err != nil {
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

// TSLatencies records, for events a TS emitter stamped with sent_at_ms, the receipt latency.
type TSLatencies struct {
	mu        sync.Mutex
	lat       []float64
	first     float64
	last      time.Time
	n         int
	all       chan struct{}
	closeOnce sync.Once
}

// NewTSLatencies records n events.
func NewTSLatencies(n int) *TSLatencies { return &TSLatencies{n: n, all: make(chan struct{})} }

// All is closed once n events were received.
func (l *TSLatencies) All() <-chan struct{} { return l.all }

// Handle is the Go listener's HandlerFunc.
func (l *TSLatencies) Handle(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
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

// Report reports events/s (first TS stamp to the last receipt) and the p50/p99 receipt latency.
func (l *TSLatencies) Report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	secs := (float64(l.last.UnixNano())/1e6 - l.first) / 1000
	slices.Sort(l.lat)
	b.ReportMetric(float64(len(l.lat))/secs, "events/s")
	b.ReportMetric(l.lat[len(l.lat)/2], "p50-ms")
	b.ReportMetric(l.lat[min(len(l.lat)-1, len(l.lat)*99/100)], "p99-ms")
}
