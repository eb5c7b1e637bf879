package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	redisbridge "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
)

// Streams: the events a worker's Close lets finish within DrainTimeout are acknowledged as they
// complete, so a worker of the same group (the same consumer name) that starts afterwards gets none
// of them again.
func TestStreamsCloseAcksDrainedEvents(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 30*time.Second)
	url := srv.URL() + "/0/drainack"
	send := streamsBridge(t, url, "g", "producer", nil)
	w := streamsBridge(t, url, "g", "w1", &redisbridge.Options{DrainTimeout: 10 * time.Second})
	h := &bridgetesting.SlowHandler{}
	if _, err := w.On("Ping", h.Handle); err != nil {
		t.Fatal(err)
	}
	const n = 8
	emitN(t, ctx, send, 0, n)
	h.WaitStarted(ctx)
	time.Sleep(20 * time.Millisecond) // all received by now; the first one is running
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h.ExpectFinished(t, n)
	p, err := send.Client().XPending(ctx, "drainack", "g").Result()
	if err != nil {
		t.Fatal(err)
	}
	again := newCollector()
	w2 := streamsBridge(t, url, "g", "w1", nil)
	if _, err := w2.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		again.Add(seqOf(t, e))
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	got := again.WaitCount(n, time.Second)
	if p.Count != 0 || len(got) != 0 {
		t.Fatalf("after a Close that let all %d events finish: %d entries pending, %d redelivered to the next worker %v", n, p.Count, len(got), got)
	}
}

// Streams: Close takes at most DrainTimeout in all, also when the server stops answering while the
// drained events are acknowledged (an XACK to a hung server once held Close for 5 s past a 300 ms
// DrainTimeout: its attempt had a 2 s grace of its own and the client ignored the context's deadline).
func TestStreamsCloseBoundedWhenServerHangs(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 30*time.Second)
	url := srv.URL() + "/0/drainhang"
	send := streamsBridge(t, url, "g", "producer", nil)
	const drain = 300 * time.Millisecond
	w := streamsBridge(t, url, "g", "w1", &redisbridge.Options{DrainTimeout: drain})
	started, finished := make(chan struct{}, 1), make(chan struct{}, 1)
	if _, err := w.On("Ping", func(c context.Context, e *abxbus.BaseEvent) (any, error) {
		started <- struct{}{}
		time.Sleep(200 * time.Millisecond) // completes within the drain, after the server hung
		finished <- struct{}{}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	emitN(t, ctx, send, 0, 1)
	<-started
	srv.Freeze(t)
	t0 := time.Now()
	w.Close()
	d := time.Since(t0)
	srv.Resume(t)
	select {
	case <-finished:
	default:
		t.Fatal("the handler had not finished when Close returned")
	}
	if d > drain+2*time.Second {
		t.Fatalf("Close took %v with DrainTimeout %v and a hung server", d, drain)
	}
}
