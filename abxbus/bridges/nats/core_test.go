package nats_test

import (
	"context"
	"errors"
	"github.com/nats-io/nats.go"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	natsbridge "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
)

// F249: core publish/subscribe on the subject, in order, every listener sees every event.
func TestCoreFanOutInOrder(t *testing.T) {
	srv := startNATS(t, false)
	ctx := ctxT(t, 30*time.Second)
	em := newBridge(t, srv.URL, "abxbus_events", nil)
	var cs []*collector
	for i := 0; i < 2; i++ {
		c := newCollector()
		onSeq(t, newBridge(t, srv.URL, "abxbus_events", nil), c)
		cs = append(cs, c)
	}
	const n = 300
	emitPings(t, ctx, em, 0, n)
	for i, c := range cs {
		got := c.WaitDistinct(n, 10*time.Second)
		want := make([]int, n)
		for j := range want {
			want[j] = j
		}
		if !slices.Equal(got, want) {
			t.Fatalf("listener %d: got %d events %v..., want 0..%d in order", i, len(got), got[:min(len(got), 10)], n-1)
		}
	}
	if f := em.Features(); !f.FanOut || f.Durable || !f.Ordered || f.MaxMessageBytes != 1<<20 {
		t.Fatalf("Features = %+v", f)
	}
}

func TestCoreTooLarge(t *testing.T) {
	srv := startNATS(t, false)
	ctx := ctxT(t, 10*time.Second)
	br := newBridge(t, srv.URL, "big", nil)
	err := br.Emit(ctx, abxbus.NewEvent(Ping{Label: strings.Repeat("x", 1_100_000)}).Base())
	if !errors.Is(err, bridges.ErrTooLarge) {
		t.Fatalf("Emit of 1.1 MB: %v, want ErrTooLarge", err)
	}
	if err := br.Emit(ctx, abxbus.NewEvent(Ping{Label: strings.Repeat("x", 1_000_000)}).Base()); err != nil {
		t.Fatalf("Emit of 1.0 MB: %v", err)
	}
}

func TestCoreStartIdempotentConcurrent(t *testing.T) {
	srv := startNATS(t, false)
	ctx := ctxT(t, 10*time.Second)
	br := newBridge(t, srv.URL, "twice", nil)
	c := newCollector()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); br.Start() }()
		go func() { defer wg.Done(); onSeq(t, br, c) }()
	}
	wg.Wait()
	emitPings(t, ctx, br, 0, 1)
	time.Sleep(200 * time.Millisecond)
	// 8 handlers on one subscription: 8 calls for the single event, never 16.
	if got := c.Snapshot(); len(got) != 8 {
		t.Fatalf("%d handler calls, want 8 (one subscription)", len(got))
	}
	br.Close()
	if err := br.Start(); !errors.Is(err, bridges.ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	if err := br.Emit(ctx, abxbus.NewEvent(Ping{}).Base()); !errors.Is(err, bridges.ErrClosed) {
		t.Fatalf("Emit after Close: %v", err)
	}
}

func TestOpenAddress(t *testing.T) {
	srv := startNATS(t, true)
	ctx := ctxT(t, 10*time.Second)
	b, err := bridges.Open(ctx, srv.URL+"/orders?mode=jetstream&consumer=billing&max_deliver=3", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if f := b.Features(); !f.Durable || !f.AtLeastOnce || f.FanOut {
		t.Fatalf("Features %+v", f)
	}
	if b.(*natsbridge.Bridge).Subject() != "orders" {
		t.Fatalf("subject %q", b.(*natsbridge.Bridge).Subject())
	}
	for _, bad := range []string{srv.URL + "/x?mode=kafka", srv.URL + "/x?nope=1", "nats:///x"} {
		if _, err := bridges.Open(ctx, bad, nil); !errors.Is(err, abxbus.ErrInvalidOption) {
			t.Errorf("Open(%s): %v, want ErrInvalidOption", bad, err)
		}
	}
}

// The core wire is the TS bridge's: a plain PUB of the compact event JSON, without headers or reply
// subject (bridge-wire/nats_server_trace.txt).
func TestCoreWire(t *testing.T) {
	srv := startNATS(t, false)
	ctx := ctxT(t, 10*time.Second)
	br := newBridge(t, srv.URL, "abxbus.wire", nil)
	sub, err := br.Conn().SubscribeSync("abxbus.wire")
	if err != nil {
		t.Fatal(err)
	}
	e := abxbus.NewEvent(Ping{Seq: 7, Label: "wire"}).Base()
	if err := br.Emit(ctx, e); err != nil {
		t.Fatal(err)
	}
	m, err := sub.NextMsgWithContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := e.ToJSON()
	if string(m.Data) != string(want) || len(m.Header) != 0 || m.Reply != "" {
		t.Fatalf("message: headers %v reply %q data %s, want no headers, no reply, %s", m.Header, m.Reply, m.Data, want)
	}
}

// A core listener that falls behind further than MaxPending: the client drops messages, and the
// bridge reports how many (Dropped, OnError) instead of losing them silently.
func TestCoreSlowListenerReportsDrops(t *testing.T) {
	srv := startNATS(t, false)
	ctx := ctxT(t, 20*time.Second)
	em := newBridge(t, srv.URL, "slow", &natsbridge.Options{NoConfirm: true})
	var mu sync.Mutex
	var reported []error
	li := newBridge(t, srv.URL, "slow", &natsbridge.Options{QueueSize: 1, MaxPending: 10, OnError: func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}})
	release := make(chan struct{})
	if _, err := li.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		<-release
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	emitPings(t, ctx, em, 0, 200)
	if err := em.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for li.Dropped() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	mu.Lock()
	defer mu.Unlock()
	if li.Dropped() == 0 || len(reported) == 0 || !errors.Is(reported[0], nats.ErrSlowConsumer) {
		t.Fatalf("Dropped() = %d, reported %v", li.Dropped(), reported)
	}
	t.Logf("200 events to a blocked listener with MaxPending 10: %d dropped and reported: %v", li.Dropped(), reported[0])
}

// A core Emit while the server is down is not confirmed: Emit returns an error once ctx ends.
func TestCoreEmitWhileServerDownFails(t *testing.T) {
	srv := startNATS(t, false)
	ctx := ctxT(t, 20*time.Second)
	em := newBridge(t, srv.URL, "down", nil)
	srv.Stop(t)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	err := em.Emit(short, abxbus.NewEvent(Ping{Seq: 1}).Base())
	if err == nil {
		t.Fatal("Emit while the server is down: nil error")
	}
	t.Logf("Emit while the server is down: %v", err)
	srv.Start(t)
}
