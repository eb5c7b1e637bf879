package redis_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/typedbus/abxbus-go/abxbus"
	redisbridge "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
)

func streamsBridge(t testing.TB, url, group, consumer string, o *redisbridge.Options) *redisbridge.Bridge {
	t.Helper()
	var opts redisbridge.Options
	if o != nil {
		opts = *o
	}
	opts.Mode, opts.Group, opts.Consumer = redisbridge.ModeStreams, group, consumer
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	br, err := redisbridge.New(url, &opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}

func emitN(t testing.TB, ctx context.Context, br *redisbridge.Bridge, from, n int) []int {
	t.Helper()
	var out []int
	for i := from; i < from+n; i++ {
		if err := br.Emit(ctx, abxbus.NewEvent(Ping{Seq: i}).Base()); err != nil {
			t.Fatalf("emit %d: %v", i, err)
		}
		out = append(out, i)
	}
	return out
}

// Events emitted before any worker ran are delivered, in order, once, with the original event id in
// the Delivery; the entries are acknowledged.
func TestStreamsDurableAndOrdered(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 30*time.Second)
	url := srv.URL() + "/0/durable"
	send := streamsBridge(t, url, "g", "producer", nil)
	var ids []string
	for i := range 50 {
		e := abxbus.NewEvent(Ping{Seq: i}).Base()
		ids = append(ids, e.EventID())
		if err := send.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	recv := streamsBridge(t, url, "g", "w1", nil)
	got := newCollector()
	var badDelivery atomic.Value
	recv.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		seq := seqOf(t, e)
		d, ok := redisbridge.DeliveryFrom(ctx)
		if !ok || d.EventID != ids[seq] || d.Deliveries != 1 || d.ID == "" || d.Stream != "durable" {
			badDelivery.Store(d)
		}
		got.Add(seq)
		return nil, nil
	})
	seqs := got.WaitCount(50, 10*time.Second)
	if c := countOf(emitN(t, ctx, send, 50, 0), seqs); len(seqs) != 50 {
		t.Fatalf("%v %v", c, seqs)
	}
	for i, s := range seqs {
		if s != i {
			t.Fatalf("out of order: %v", seqs)
		}
	}
	if d := badDelivery.Load(); d != nil {
		t.Fatalf("delivery info: %+v", d)
	}
	waitPending(t, send.Client(), "durable", "g", 0)
}

func waitPending(t testing.TB, c *goredis.Client, stream, group string, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := c.XPending(context.Background(), stream, group).Result()
		if err == nil && p.Count == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pending entries: %+v %v, want %d", p, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two workers of one group split the events (each once); a second group gets all of them.
func TestStreamsGroupsSplitAndFanOut(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 30*time.Second)
	url := srv.URL() + "/0/split"
	all := newCollector()
	var per [2]atomic.Int64
	for i, name := range []string{"w1", "w2"} {
		br := streamsBridge(t, url, "workers", name, &redisbridge.Options{BatchSize: 4})
		br.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			time.Sleep(time.Millisecond)
			per[i].Add(1)
			all.Add(seqOf(t, e))
			return nil, nil
		})
	}
	audit := newCollector()
	ab := streamsBridge(t, url, "audit", "a1", nil)
	ab.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		audit.Add(seqOf(t, e))
		return nil, nil
	})
	send := streamsBridge(t, url, "workers", "producer", nil)
	emitted := emitN(t, ctx, send, 0, 400)
	seqs := all.WaitCount(400, 20*time.Second)
	c := countOf(emitted, seqs)
	t.Logf("group of 2: %v; w1 %d, w2 %d", c, per[0].Load(), per[1].Load())
	if c.lost != 0 || c.duplicated != 0 {
		t.Fatalf("group: %v", c)
	}
	if per[0].Load() == 0 || per[1].Load() == 0 {
		t.Errorf("one worker got nothing: %d %d", per[0].Load(), per[1].Load())
	}
	if c := countOf(emitted, audit.WaitCount(400, 20*time.Second)); c.lost != 0 || c.duplicated != 0 {
		t.Fatalf("second group: %v", c)
	}
}

// A poison event (its handler always fails) is delivered MaxDeliveries times and then moved to the
// dead-letter stream with the error; the events after it are not held up.
func TestStreamsPoisonToDeadLetter(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 30*time.Second)
	url := srv.URL() + "/0/poison"
	br := streamsBridge(t, url, "g", "w1", &redisbridge.Options{ClaimIdle: 100 * time.Millisecond, MaxDeliveries: 3})
	got := newCollector()
	var poisonTries atomic.Int64
	br.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		seq := seqOf(t, e)
		if seq == 5 {
			poisonTries.Add(1)
			return nil, errors.New("poison")
		}
		got.Add(seq)
		return nil, nil
	})
	emitted := emitN(t, ctx, br, 0, 20)
	seqs := got.WaitCount(19, 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	var dl []goredis.XMessage
	for time.Now().Before(deadline) {
		dl, _ = br.Client().XRange(ctx, br.DeadLetter(), "-", "+").Result()
		if len(dl) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := countOf(emitted, seqs)
	t.Logf("poison: %v (seq 5 dead-lettered), poison deliveries %d", c, poisonTries.Load())
	if c.lost != 1 || c.duplicated != 0 {
		t.Fatalf("%v", c)
	}
	if len(dl) != 1 || dl[0].Values["deliveries"] != "3" || dl[0].Values["error"] == "" {
		t.Fatalf("dead letter: %+v", dl)
	}
	if poisonTries.Load() != 3 {
		t.Fatalf("poison delivered %d times, want 3", poisonTries.Load())
	}
	waitPending(t, br.Client(), "poison", "g", 0)
}

// A worker process killed with SIGKILL mid-stream and started again under the same name loses
// nothing: what it had not acknowledged is delivered again (duplicates counted, not lost).
func TestStreamsWorkerKilledAndRestarted(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 60*time.Second)
	url := srv.URL() + "/0/kill"
	dir := t.TempDir()
	spec := workerSpec{url: url, group: "g", consumer: "w1", out: filepath.Join(dir, "w1.out"),
		claim: 500 * time.Millisecond, delay: 2 * time.Millisecond}
	w := startWorker(t, spec)
	send := streamsBridge(t, url, "g", "producer", nil)
	emitted := emitN(t, ctx, send, 0, 300)
	for len(readSeqs(t, spec.out)) < 100 {
		time.Sleep(5 * time.Millisecond)
	}
	w.kill()
	emitted = append(emitted, emitN(t, ctx, send, 300, 200)...) // while no worker runs
	w = startWorker(t, spec)
	deadline := time.Now().Add(30 * time.Second)
	for len(distinct(readSeqs(t, spec.out))) < len(emitted) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	w.stop(t)
	c := countOf(emitted, readSeqs(t, spec.out))
	t.Logf("worker killed -9 and restarted: %v", c)
	if c.lost != 0 {
		t.Fatalf("lost events: %v", c)
	}
}

// Two worker processes split one group; one is killed with SIGKILL mid-stream and not restarted: the
// other claims what the dead one had not acknowledged (after ClaimIdle) and handles the rest, so
// nothing is lost.
func TestStreamsTwoWorkersOneKilled(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 60*time.Second)
	url := srv.URL() + "/0/two"
	dir := t.TempDir()
	specs := []workerSpec{
		{url: url, group: "g", consumer: "w1", out: filepath.Join(dir, "w1.out"), claim: 300 * time.Millisecond, delay: 2 * time.Millisecond},
		{url: url, group: "g", consumer: "w2", out: filepath.Join(dir, "w2.out"), claim: 300 * time.Millisecond, delay: 2 * time.Millisecond},
	}
	w1, w2 := startWorker(t, specs[0]), startWorker(t, specs[1])
	send := streamsBridge(t, url, "g", "producer", nil)
	emitted := emitN(t, ctx, send, 0, 400)
	for len(readSeqs(t, specs[0].out)) < 50 {
		time.Sleep(5 * time.Millisecond)
	}
	w1.kill()
	emitted = append(emitted, emitN(t, ctx, send, 400, 200)...)
	deadline := time.Now().Add(30 * time.Second)
	for len(distinct(readSeqs(t, specs[0].out, specs[1].out))) < len(emitted) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	w2.stop(t)
	a, b := readSeqs(t, specs[0].out), readSeqs(t, specs[1].out)
	c := countOf(emitted, append(a, b...))
	t.Logf("2 workers in one group, w1 killed -9: %v; w1 handled %d, w2 %d", c, len(a), len(b))
	if c.lost != 0 {
		t.Fatalf("lost: %v", c)
	}
}
