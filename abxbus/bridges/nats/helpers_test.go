package nats_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	natsbridge "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
	"github.com/typedbus/abxbus-go/internal/testservers"
)

// Ping is the test event; Seq numbers the events of one run.
type Ping struct {
	abxbus.Returns[abxbus.Void]
	Seq   int    `json:"seq"`
	Label string `json:"label,omitempty"`
}

// Sum is a call with a result.
type Sum struct {
	abxbus.Returns[int]
	A int `json:"a"`
	B int `json:"b"`
}

func startNATS(t testing.TB, js bool) *testservers.NATS {
	t.Helper()
	return testservers.StartNATS(t, testservers.NATSOptions{JetStream: js})
}

func newBridge(t testing.TB, url, subject string, o *natsbridge.Options) *natsbridge.Bridge {
	t.Helper()
	br, err := natsbridge.New(url, subject, o)
	if err != nil {
		t.Fatalf("New(%s, %s): %v", url, subject, err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}

// seqOf returns the seq field of a received (untyped) event.
func seqOf(t testing.TB, e *abxbus.BaseEvent) int {
	t.Helper()
	p, ok := e.Payload().(abxbus.JSONPayload)
	if !ok {
		if pp, ok := e.Payload().(Ping); ok {
			return pp.Seq
		}
		t.Fatalf("payload %T", e.Payload())
	}
	var n int
	if err := json.Unmarshal(p["seq"], &n); err != nil {
		t.Fatalf("seq of %s: %v", e, err)
	}
	return n
}

// The shared seq collector (bridgetesting), by the names these tests use.
type collector = bridgetesting.SeqCollector

var (
	newCollector = bridgetesting.NewSeqCollector
	distinct     = bridgetesting.Distinct
)

// counts summarises a run: emitted 0..n-1, the seqs delivered (possibly repeated).
type counts struct{ Emitted, Delivered, Distinct, Duplicated, Lost int }

func tally(n int, delivered []int) counts {
	d := distinct(delivered)
	c := counts{Emitted: n, Delivered: len(delivered), Distinct: len(d)}
	for i := 0; i < n; i++ {
		if d[i] == 0 {
			c.Lost++
		} else {
			c.Duplicated += d[i] - 1
		}
	}
	return c
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func emitPings(t testing.TB, ctx context.Context, br *natsbridge.Bridge, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := br.Emit(ctx, abxbus.NewEvent(Ping{Seq: i}).Base()); err != nil {
			t.Fatalf("Emit %d: %v", i, err)
		}
	}
}

func onSeq(t testing.TB, br *natsbridge.Bridge, c *collector) {
	t.Helper()
	if _, err := br.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		c.Add(seqOf(t, e))
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
}
