package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	redisbridge "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
)

func TestPubSubRoundTrip(t *testing.T) {
	srv := startRedis(t, false)
	ctx := ctxT(t, 30*time.Second)
	recv, err := redisbridge.New(srv.URL()+"/0/rt", &redisbridge.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	got := newCollector()
	if _, err := recv.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		got.Add(seqOf(t, e))
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	send, err := redisbridge.New(srv.URL()+"/0/rt", &redisbridge.Options{RequireSubscriber: true})
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	const n = 200
	var emitted []int
	for i := range n {
		if err := send.Emit(ctx, abxbus.NewEvent(Ping{Seq: i}).Base()); err != nil {
			t.Fatal(err)
		}
		emitted = append(emitted, i)
	}
	seqs := got.WaitCount(n, 10*time.Second)
	c := countOf(emitted, seqs)
	if c.lost != 0 || c.duplicated != 0 {
		t.Fatalf("%v", c)
	}
	for i, s := range seqs {
		if s != i {
			t.Fatalf("out of order at %d: %v", i, seqs[:i+1])
		}
	}
}
