package redis_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	redisbridge "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
)

// emitThrough emits seqs [0,n) every gap, retrying a failed Emit until it succeeds (counting the
// failures); midway it calls fault once. It returns the seqs whose Emit eventually succeeded.
func emitThrough(t *testing.T, ctx context.Context, br *redisbridge.Bridge, n int, gap time.Duration, fault func()) (emitted []int, failures int) {
	t.Helper()
	for i := range n {
		if i == n/2 {
			go fault()
		}
		for {
			err := br.Emit(ctx, abxbus.NewEvent(Ping{Seq: i}).Base())
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("emit %d: %v", i, err)
			}
			failures++
			time.Sleep(20 * time.Millisecond)
		}
		emitted = append(emitted, i)
		time.Sleep(gap)
	}
	return emitted, failures
}

// The Redis server killed (SIGKILL) and restarted mid-stream, with the append-only file on: the streams
// mode loses nothing (emits fail while it is down and are retried; the listener reconnects).
func TestStreamsServerRestartLosesNothing(t *testing.T) {
	srv := startRedis(t, true)
	ctx := ctxT(t, 60*time.Second)
	url := srv.URL() + "/0/restart"
	recv := streamsBridge(t, url, "g", "w1", &redisbridge.Options{ClaimIdle: time.Second})
	got := newCollector()
	recv.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		got.Add(seqOf(t, e))
		return nil, nil
	})
	send := streamsBridge(t, url, "g", "producer", nil)
	emitted, failures := emitThrough(t, ctx, send, 400, time.Millisecond, func() {
		srv.Kill(t)
		time.Sleep(300 * time.Millisecond)
		srv.Start(t)
	})
	seqs := got.WaitCount(len(emitted), 30*time.Second)
	c := countOf(emitted, seqs)
	t.Logf("streams, server killed and restarted (appendonly, fsync always): %v; failed emits retried: %d", c, failures)
	if c.lost != 0 {
		t.Fatalf("lost: %v", c)
	}
	waitPending(t, send.Client(), "restart", "g", 0)
}

// The Redis server restarted mid-stream in pub/sub mode: with RequireSubscriber every event that did
// not reach the subscriber is an Emit error (the emitter knows); nothing is lost silently.
func TestPubSubServerRestartReportsLoss(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 60*time.Second)
	url := srv.URL() + "/0/psrestart"
	var reconnects atomic.Int64
	recv, err := redisbridge.New(url, &redisbridge.Options{Logger: quiet(), OnError: func(error) { reconnects.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	got := newCollector()
	recv.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		got.Add(seqOf(t, e))
		return nil, nil
	})
	send, err := redisbridge.New(url, &redisbridge.Options{RequireSubscriber: true})
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	var noSub, down int
	var emitted []int
	var once sync.Once
	for i := range 300 {
		if i == 150 {
			once.Do(func() { go srv.Restart(t) })
		}
		for {
			err := send.Emit(ctx, abxbus.NewEvent(Ping{Seq: i}).Base())
			if err == nil {
				break
			}
			if errors.Is(err, redisbridge.ErrNoSubscriber) {
				noSub++
			} else {
				down++
			}
			time.Sleep(20 * time.Millisecond)
		}
		emitted = append(emitted, i)
		time.Sleep(2 * time.Millisecond)
	}
	seqs := got.WaitCount(len(emitted), 10*time.Second)
	c := countOf(emitted, seqs)
	t.Logf("pub/sub, server restarted: %v (emits refused while the server was down: %d, with no subscriber: %d, retried); listener problems reported: %d",
		c, down, noSub, reconnects.Load())
	if c.lost != 0 {
		t.Fatalf("lost silently: %v", c)
	}
}

// A pub/sub listener skips messages that are not events (with a logged reason) and keeps delivering.
func TestPubSubBadMessagesSkipped(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 20*time.Second)
	var refused []error
	var mu sync.Mutex
	recv, err := redisbridge.New(srv.URL()+"/0/bad", &redisbridge.Options{Logger: quiet(), OnError: func(err error) {
		mu.Lock()
		refused = append(refused, err)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	got := newCollector()
	recv.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		got.Add(seqOf(t, e))
		return nil, nil
	})
	bad := []string{`not json`, `{"event_type":"X","event_created_at":"2026-01-01T00:00:00+00:00"}`,
		`{"event_type":"X","event_bogus":1}`, `[1,2]`, `"str"`, ``}
	for _, b := range bad {
		recv.Client().Publish(ctx, "bad", b)
	}
	recv.Emit(ctx, abxbus.NewEvent(Ping{Seq: 7}).Base())
	if s := got.WaitCount(1, 10*time.Second); len(s) != 1 || s[0] != 7 {
		t.Fatalf("got %v", s)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refused) != len(bad) {
		t.Fatalf("refused %d of %d: %v", len(refused), len(bad), refused)
	}
	var me *redisbridge.MessageError
	if !errors.As(refused[0], &me) || me.Source != "bad" {
		t.Fatalf("%v", refused[0])
	}
}

// A pub/sub emitter with RequireSubscriber learns of every event emitted while no listener runs.
func TestPubSubNoListenerReported(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 20*time.Second)
	send, err := redisbridge.New(srv.URL()+"/0/nolistener", &redisbridge.Options{RequireSubscriber: true})
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	refused := 0
	for i := range 50 {
		if err := send.Emit(ctx, abxbus.NewEvent(Ping{Seq: i}).Base()); errors.Is(err, redisbridge.ErrNoSubscriber) {
			refused++
		}
	}
	t.Logf("pub/sub, no listener: emitted=50 reported lost (ErrNoSubscriber)=%d", refused)
	if refused != 50 {
		t.Fatalf("reported %d of 50", refused)
	}
}

// A server restarted without persistence loses the stream and the group (what was in it is gone with
// the server's memory); the listener notices (NOGROUP), creates the group again and receives the
// events emitted after the restart.
func TestStreamsServerRestartWithoutPersistence(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 30*time.Second)
	url := srv.URL() + "/0/volatile"
	recv := streamsBridge(t, url, "g", "w1", nil)
	got := newCollector()
	recv.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		got.Add(seqOf(t, e))
		return nil, nil
	})
	send := streamsBridge(t, url, "g", "producer", nil)
	emitN(t, ctx, send, 0, 10)
	if s := got.WaitCount(10, 10*time.Second); len(s) != 10 {
		t.Fatalf("before the restart: %v", s)
	}
	srv.Restart(t)
	deadline := time.Now().Add(15 * time.Second)
	for i := 10; ; i++ {
		if err := send.Emit(ctx, abxbus.NewEvent(Ping{Seq: i}).Base()); err != nil {
			t.Logf("emit %d: %v", i, err)
		}
		if len(distinct(got.Snapshot())) > 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the listener did not recover after the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Emit reports a publish that cannot reach the server (both modes), bounded by its context.
func TestEmitReportsServerDown(t *testing.T) {
	srv := startRedis(t, false)
	for _, mode := range []redisbridge.Mode{redisbridge.ModePubSub, redisbridge.ModeStreams} {
		br, err := redisbridge.New(srv.URL()+"/0/down", &redisbridge.Options{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		defer br.Close()
		if err := br.Emit(ctxT(t, 5*time.Second), abxbus.NewEvent(Ping{}).Base()); err != nil {
			t.Fatal(err)
		}
	}
	srv.Stop(t)
	for _, mode := range []redisbridge.Mode{redisbridge.ModePubSub, redisbridge.ModeStreams} {
		br, _ := redisbridge.New(srv.URL()+"/0/down", &redisbridge.Options{Mode: mode})
		defer br.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := br.Emit(ctx, abxbus.NewEvent(Ping{Seq: 1}).Base())
		cancel()
		if err == nil {
			t.Fatalf("%v: Emit with the server down: no error", mode)
		}
		t.Logf("%v, server down: %v", mode, err)
	}
}

// A pub/sub listener process killed with SIGKILL mid-stream and started again: the emitter (with
// RequireSubscriber) is told of every event published while no listener ran; events the killed
// process had received but not handled are lost without a word (Redis had delivered them).
func TestPubSubListenerKilledAndRestarted(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 60*time.Second)
	url := srv.URL() + "/0/pskill"
	dir := t.TempDir()
	spec := workerSpec{url: url, out: filepath.Join(dir, "l.out"), delay: time.Millisecond, pubsub: true}
	w := startWorker(t, spec)
	send, err := redisbridge.New(url, &redisbridge.Options{RequireSubscriber: true})
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	var emitted, reported []int
	restarted := false
	for i := range 400 {
		if i == 150 {
			w.kill()
		}
		if i == 250 && !restarted {
			w = startWorker(t, spec)
			restarted = true
		}
		err := send.Emit(ctx, abxbus.NewEvent(Ping{Seq: i}).Base())
		switch {
		case errors.Is(err, redisbridge.ErrNoSubscriber):
			reported = append(reported, i)
		case err != nil:
			t.Fatal(err)
		default:
			emitted = append(emitted, i)
		}
		time.Sleep(500 * time.Microsecond)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(readSeqs(t, spec.out)) < len(emitted)-50 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	w.stop(t)
	c := countOf(emitted, readSeqs(t, spec.out))
	t.Logf("pub/sub listener killed -9 and restarted: published to a subscriber %d, reported lost (no subscriber) %d; of the published: %v",
		len(emitted), len(reported), c)
	if len(reported) == 0 || c.duplicated != 0 {
		t.Fatalf("reported %d; %v", len(reported), c)
	}
}
