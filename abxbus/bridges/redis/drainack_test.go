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
