package nats_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/typedbus/abxbus-go/abxbus"
	natsbridge "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
)

func jsOpts(consumer string) *natsbridge.Options {
	return &natsbridge.Options{Mode: natsbridge.JetStream, Consumer: consumer, AckWait: 2 * time.Second}
}

// Events emitted while no listener runs are delivered when the durable consumer starts again.
func TestJetStreamDurableReplay(t *testing.T) {
	srv := startNATS(t, true)
	ctx := ctxT(t, 60*time.Second)
	em := newBridge(t, srv.URL, "orders", jsOpts("svc"))
	c := newCollector()
	l1 := newBridge(t, srv.URL, "orders", jsOpts("svc"))
	onSeq(t, l1, c)
	emitPings(t, ctx, em, 0, 50)
	c.WaitDistinct(50, 10*time.Second)
	l1.Close()
	emitPings(t, ctx, em, 50, 100) // nobody listens
	l2 := newBridge(t, srv.URL, "orders", jsOpts("svc"))
	onSeq(t, l2, c)
	got := c.WaitDistinct(100, 10*time.Second)
	if ct := tally(100, got); ct.Lost != 0 || ct.Duplicated != 0 {
		t.Fatalf("%+v", ct)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("order: position %d has %d", i, v)
		}
	}
}

// Separate consumer names fan out; one name splits the events between its listeners.
func TestJetStreamSplitAndFanOut(t *testing.T) {
	srv := startNATS(t, true)
	ctx := ctxT(t, 60*time.Second)
	em := newBridge(t, srv.URL, "jobs", jsOpts("producer-unused"))
	w1, w2, audit := newCollector(), newCollector(), newCollector()
	onSeq(t, newBridge(t, srv.URL, "jobs", jsOpts("workers")), w1)
	onSeq(t, newBridge(t, srv.URL, "jobs", jsOpts("workers")), w2)
	onSeq(t, newBridge(t, srv.URL, "jobs", jsOpts("audit")), audit)
	const n = 400
	emitPings(t, ctx, em, 0, n)
	if ct := tally(n, audit.WaitDistinct(n, 20*time.Second)); ct.Lost != 0 || ct.Duplicated != 0 {
		t.Fatalf("audit consumer: %+v", ct)
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(w1.Snapshot())+len(w2.Snapshot()) < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	a, b := w1.Snapshot(), w2.Snapshot()
	ct := tally(n, append(append([]int{}, a...), b...))
	t.Logf("2 workers on one consumer: %d + %d events; %+v", len(a), len(b), ct)
	if ct.Lost != 0 || ct.Duplicated != 0 {
		t.Fatalf("workers: %+v", ct)
	}
	if len(a) == 0 || len(b) == 0 {
		t.Fatalf("one worker got nothing: %d / %d", len(a), len(b))
	}
}

// A poison event (its handler always fails) is delivered MaxDeliver times, then dead-lettered; the
// events after it are handled.
func TestJetStreamPoisonDeadLetter(t *testing.T) {
	srv := startNATS(t, true)
	ctx := ctxT(t, 60*time.Second)
	o := jsOpts("svc")
	o.MaxDeliver = 3
	em := newBridge(t, srv.URL, "pay", o)
	l := newBridge(t, srv.URL, "pay", o)
	var attempts atomic.Int32
	c := newCollector()
	if _, err := l.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		n := seqOf(t, e)
		if n == 5 {
			attempts.Add(1)
			return nil, errors.New("poison")
		}
		c.Add(n)
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	emitPings(t, ctx, em, 0, 10)
	// A raw message that is not an event goes to the dead letters at once.
	if err := em.Conn().Publish("pay", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	got := c.WaitDistinct(9, 10*time.Second)
	if len(distinct(got)) != 9 {
		t.Fatalf("got %v", got)
	}
	js, _ := jetstream.New(em.Conn())
	dlq, err := js.Stream(ctx, "PAY_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	var msgs []*jetstream.RawStreamMsg
	deadline := time.Now().Add(10 * time.Second)
	for len(msgs) < 2 && time.Now().Before(deadline) {
		msgs = msgs[:0]
		for seq := uint64(1); seq <= 2; seq++ {
			if m, err := dlq.GetMsg(ctx, seq); err == nil {
				msgs = append(msgs, m)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(msgs) != 2 {
		t.Fatalf("%d dead letters, want 2", len(msgs))
	}
	if a := attempts.Load(); a != 3 {
		t.Fatalf("poison handled %d times, want MaxDeliver=3", a)
	}
	for _, m := range msgs {
		t.Logf("dead letter: %s reason=%q deliveries=%s", m.Subject, m.Header.Get(natsbridge.HeaderDeadReason), m.Header.Get(natsbridge.HeaderDeliveries))
	}
	if m := msgs[0]; m.Subject != "pay.dead_letter" {
		t.Fatalf("dead letter subject %q", m.Subject)
	}
	if l.DeadLettered() != 2 {
		t.Fatalf("DeadLettered = %d", l.DeadLettered())
	}
	_ = strconv.Itoa
	_ = nats.ErrTimeout
}

// A stream that would capture the call subject (or the dead letters) is refused: it would answer
// calls with its PubAcks.
func TestJetStreamRefusesCapturedCallSubject(t *testing.T) {
	srv := startNATS(t, true)
	_, err := natsbridge.New(srv.URL, "orders.created", &natsbridge.Options{Mode: natsbridge.JetStream, Subjects: []string{"orders.>"}})
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "call subject") {
		t.Fatalf("New: %v, want ErrInvalidOption naming the call subject", err)
	}
	br, err := natsbridge.New(srv.URL, "orders.created", &natsbridge.Options{Mode: natsbridge.JetStream, Subjects: []string{"orders.*"},
		CallSubject: "rpc.orders", DeadLetter: "dead.orders"})
	if err != nil {
		t.Fatal(err)
	}
	br.Close()
}

// Options.StreamConfig configures the stream the bridge creates (here a message limit); a second
// bridge binds the existing stream as it is.
func TestJetStreamStreamConfig(t *testing.T) {
	srv := startNATS(t, true)
	ctx := ctxT(t, 20*time.Second)
	o := jsOpts("svc")
	o.StreamConfig = &jetstream.StreamConfig{Name: "LIMITED", MaxMsgs: 5}
	em := newBridge(t, srv.URL, "limited", o)
	emitPings(t, ctx, em, 0, 8)
	newBridge(t, srv.URL, "limited", o) // binds
	js, _ := jetstream.New(em.Conn())
	st, err := js.Stream(ctx, "LIMITED")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 5 || info.Config.MaxMsgs != 5 || info.Config.Subjects[0] != "limited" {
		t.Fatalf("stream %+v %+v", info.Config, info.State)
	}
}

// A handler that runs longer than AckWait keeps its event: the bridge reports it in progress, so the
// server does not deliver it a second time.
func TestJetStreamLongHandlerNotRedelivered(t *testing.T) {
	srv := startNATS(t, true)
	ctx := ctxT(t, 30*time.Second)
	o := jsOpts("svc")
	o.AckWait = time.Second
	em := newBridge(t, srv.URL, "long", o)
	l := newBridge(t, srv.URL, "long", o)
	var calls atomic.Int32
	done := make(chan struct{}, 2)
	if _, err := l.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		calls.Add(1)
		time.Sleep(2500 * time.Millisecond)
		done <- struct{}{}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	emitPings(t, ctx, em, 0, 1)
	<-done
	time.Sleep(1500 * time.Millisecond) // a redelivery would have come by now
	if n := calls.Load(); n != 1 {
		t.Fatalf("the long handler ran %d times, want 1", n)
	}
}
