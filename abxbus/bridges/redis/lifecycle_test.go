package redis_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	redisbridge "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
)

func TestOpenByAddress(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 20*time.Second)
	br, err := bridges.Open(ctx, srv.URL()+"/2/opened?mode=streams&group=g1&consumer=c1&maxlen=100&claim_idle=2s&max_deliveries=2&dial_timeout=3s", &bridges.OpenOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	rb := br.(*redisbridge.Bridge)
	if rb.Stream() != "opened" || rb.DeadLetter() != "opened:dead" || !br.Features().Durable || br.Features().FanOut {
		t.Fatalf("stream %q dead %q features %+v", rb.Stream(), rb.DeadLetter(), br.Features())
	}
	for i := range 150 {
		if err := br.Emit(ctx, abxbus.NewEvent(Ping{Seq: i}).Base()); err != nil {
			t.Fatal(err)
		}
	}
	n, err := rb.Client().XLen(ctx, "opened").Result()
	if err != nil || n > 150 || n < 100 {
		t.Fatalf("XLEN %d %v: want about 100 (MAXLEN ~ 100)", n, err)
	}
	for _, bad := range []string{"/x", "/1/2/3", "/0?mode=queue", "/0?claim_idle=soon", "/0?max_deliveries=0", "/0?bogus=1"} {
		if _, err := bridges.Open(ctx, srv.URL()+bad, nil); !errors.Is(err, abxbus.ErrInvalidOption) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	if redisbridge.RegisterError() != nil {
		t.Fatal(redisbridge.RegisterError())
	}
}

// Start is idempotent and safe against concurrent On; Emit and Start after Close fail with ErrClosed.
func TestLifecycle(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 20*time.Second)
	for _, mode := range []redisbridge.Mode{redisbridge.ModePubSub, redisbridge.ModeStreams} {
		br, err := redisbridge.New(srv.URL()+"/0/life", &redisbridge.Options{Mode: mode, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		got := newCollector()
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(2)
			go func() { defer wg.Done(); br.Start() }()
			go func() {
				defer wg.Done()
				br.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { got.Add(seqOf(t, e)); return nil, nil })
			}()
		}
		wg.Wait()
		if err := br.Emit(ctx, abxbus.NewEvent(Ping{Seq: 1}).Base()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if s := got.WaitCount(1, 5*time.Second); len(s) != 8 { // 8 handlers, one listener: each once
			t.Fatalf("%v: %d deliveries, want 8", mode, len(s))
		}
		if err := br.Close(); err != nil {
			t.Fatal(err)
		}
		br.Close()
		if err := br.Emit(ctx, abxbus.NewEvent(Ping{}).Base()); !errors.Is(err, bridges.ErrClosed) {
			t.Fatalf("emit after close: %v", err)
		}
		if err := br.Start(); !errors.Is(err, bridges.ErrClosed) {
			t.Fatalf("start after close: %v", err)
		}
	}
	if _, err := redisbridge.New(srv.URL(), &redisbridge.Options{Mode: redisbridge.Mode(9)}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatal(err)
	}
}

// Close lets the events already received finish (ModePubSub): 5 events with a 50 ms handler, all 5
// handled when Close returns.
func TestCloseFinishesReceived(t *testing.T) {
	srv := startRedis(t, false)
	li, err := redisbridge.New(srv.URL()+"/0/drain", &redisbridge.Options{Mode: redisbridge.ModePubSub, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer li.Close()
	h := &bridgetesting.SlowHandler{}
	if _, err := li.On("Ping", h.Handle); err != nil {
		t.Fatal(err)
	}
	em, err := redisbridge.New(srv.URL()+"/0/drain", &redisbridge.Options{Mode: redisbridge.ModePubSub, Logger: quiet(), RequireSubscriber: true})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	ctx := ctxT(t, 10*time.Second)
	for i := range 5 {
		if err := em.Emit(ctx, abxbus.NewEvent(Ping{Seq: i}).Base()); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(30 * time.Millisecond) // all 5 received; the first is running
	if err := li.Close(); err != nil {
		t.Fatal(err)
	}
	h.ExpectFinished(t, 5)
}
