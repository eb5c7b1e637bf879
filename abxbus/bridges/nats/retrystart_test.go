package nats_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	natsbridge "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
)

// A Start that fails (the server is down: the subscriptions are made, the flush fails) and is retried
// once the server is back leaves nothing of the failed attempt: every event and every call is handled
// once, by the handlers of the retried Start, and no goroutine outlives the test (leakcheck).
func TestStartRetriedAfterFailure(t *testing.T) {
	srv := startNATS(t, false)
	ctx := ctxT(t, time.Minute)
	o := &natsbridge.Options{Mode: natsbridge.Core}
	br := newBridge(t, srv.URL, "retry", o)
	em := newBridge(t, srv.URL, "retry", o)
	c := newCollector()
	var calls atomic.Int32
	handler := func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		if e.Type() == "Sum" {
			calls.Add(1)
			return 3, nil
		}
		c.Add(seqOf(t, e))
		return nil, nil
	}
	if _, err := br.Bus().OnType("*", handler); err != nil {
		t.Fatal(err)
	}
	srv.Stop(t)
	if err := br.Start(); err == nil {
		t.Fatal("Start with the server down succeeded")
	} else {
		t.Logf("Start with the server down: %v", err)
	}
	srv.Start(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := br.Start()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Start after the server came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// the emitter reconnects too
	for i := 0; ; i++ {
		if err := em.Conn().FlushTimeout(time.Second); err == nil {
			break
		} else if i == 30 {
			t.Fatal(err)
		}
	}
	emitPings(t, ctx, em, 0, 20)
	got := c.WaitCount(20, 10*time.Second)
	if ct := tally(20, got); ct.Lost != 0 || ct.Duplicated != 0 {
		t.Fatalf("events after a retried Start: %+v (%v)", ct, got)
	}
	for i := range 5 {
		v, err := natsbridge.Call(ctx, em, Sum{A: 1, B: 2})
		if err != nil || v != 3 {
			t.Fatalf("call %d after a retried Start: %v, %v", i, v, err)
		}
	}
	time.Sleep(200 * time.Millisecond) // a duplicate would come by now
	if got := c.Snapshot(); len(got) != 20 {
		t.Fatalf("%d events handled, want 20", len(got))
	}
	if n := calls.Load(); n != 5 {
		t.Fatalf("%d calls served, want 5", n)
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
}
