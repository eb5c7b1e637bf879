package nats_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/bridgetest"
	natsbridge "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
	"github.com/typedbus/abxbus-go/internal/testservers"
)

var pairSeq atomic.Int64

// harness describes one mode to the conformance suite; srv is started by the test (nil in a child
// process, which gets the server's URL in its arguments). Emitter and listener of a pair use
// different consumer names (each sees every event, as the NoEcho check needs); Reopen and the child
// listeners use the listener's.
func harness(mode natsbridge.Mode, srv **testservers.NATS) bridgetest.Harness {
	name := "NATS-" + mode.String()
	f := bridges.Features{Ordered: true, FanOut: true, MaxMessageBytes: 1 << 20}
	if mode == natsbridge.JetStream {
		f = bridges.Features{Durable: true, AtLeastOnce: true, MaxMessageBytes: 1<<20 - 512}
	}
	open := func(t testing.TB, url, subject, consumer string) *natsbridge.Bridge {
		o := &natsbridge.Options{Mode: mode, Consumer: consumer, AckWait: 2 * time.Second, Logger: bridgetest.Logger(t)}
		br, err := natsbridge.New(url, subject, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { br.Close() })
		return br
	}
	return bridgetest.Harness{
		Name:     name,
		Features: f,
		NewPair: func(t testing.TB) bridgetest.Pair {
			subject := fmt.Sprintf("conf.%s.%d", mode, pairSeq.Add(1))
			return bridgetest.Pair{
				Emitter:  open(t, (*srv).URL, subject, "emitter"),
				Listener: open(t, (*srv).URL, subject, "listener"),
				Endpoint: subject,
			}
		},
		Reopen: func(t testing.TB, p bridgetest.Pair) bridges.Bridge {
			return open(t, (*srv).URL, p.Endpoint, "listener")
		},
		InjectRaw: func(t testing.TB, p bridgetest.Pair, raw []byte) {
			nc := p.Emitter.(*natsbridge.Bridge).Conn()
			if err := nc.Publish(p.Endpoint, raw); err != nil {
				t.Fatal(err)
			}
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
		},
		ListenerArgs: func(p bridgetest.Pair) []string { return []string{(*srv).URL, p.Endpoint} },
		OpenListener: func(ctx context.Context, args []string) (bridges.Bridge, error) {
			return natsbridge.New(args[0], args[1], &natsbridge.Options{Mode: mode, Consumer: "listener", AckWait: 2 * time.Second})
		},
		N: 200,
	}
}

func TestConformance(t *testing.T) {
	for _, mode := range []natsbridge.Mode{natsbridge.Core, natsbridge.JetStream} {
		srv := startNATS(t, mode == natsbridge.JetStream)
		bridgetest.Run(t, harness(mode, &srv))
	}
}

func BenchmarkConformance(b *testing.B) {
	for _, mode := range []natsbridge.Mode{natsbridge.Core, natsbridge.JetStream} {
		b.Run(mode.String(), func(b *testing.B) {
			srv := startNATS(b, true)
			bridgetest.Benchmark(b, harness(mode, &srv))
		})
	}
}
