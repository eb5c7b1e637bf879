package unixsock_test

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/bridgetest"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
)

// confLimit is the frame limit of the conformance runs: the Oversize check sends an event of exactly
// the limit, and a smaller one keeps the suite fast under the race detector (the 10 MB fault test
// covers big frames).
const confLimit = 256 << 10

func conformanceHarness(name string, emitter unixsock.Options) bridgetest.Harness {
	emitter.MaxFrameBytes = confLimit
	return bridgetest.Harness{
		Name:     name,
		Features: bridges.Features{Ordered: true, MaxMessageBytes: confLimit},
		// Each end listens on its own path and sends to the other's (the two-way wiring of the NoEcho
		// check; one path for both would be TS's pitfall).
		NewPair: func(t testing.TB) bridgetest.Pair {
			lpath, epath := sockPath(t), sockPath(t)
			lo := emitter
			lo.Logger, lo.SendTo = bridgetest.Logger(t), epath
			li, err := unixsock.New(lpath, &lo)
			if err != nil {
				t.Fatal(err)
			}
			eo := emitter
			eo.Logger, eo.SendTo = bridgetest.Logger(t), lpath
			em, err := unixsock.New(epath, &eo)
			if err != nil {
				t.Fatal(err)
			}
			return bridgetest.Pair{Emitter: em, Listener: li, Endpoint: lpath}
		},
		InjectRaw: func(t testing.TB, p bridgetest.Pair, raw []byte) { // as a TS emitter sends it
			c, err := net.Dial("unix", p.Endpoint)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(append(raw, '\n'))
			c.(*net.UnixConn).CloseWrite()
			io.Copy(io.Discard, c)
		},
		Timeout: 60 * time.Second,
	}
}

func TestConformance(t *testing.T) {
	bridgetest.Run(t, conformanceHarness("Socket", unixsock.Options{}))
	bridgetest.Run(t, conformanceHarness("SocketPersistent", unixsock.Options{Persistent: true}))
	bridgetest.Run(t, conformanceHarness("SocketPersistentNoAck", unixsock.Options{Persistent: true, NoAck: true}))
}

func BenchmarkConformance(b *testing.B) {
	b.Run("per-event", func(b *testing.B) { bridgetest.Benchmark(b, conformanceHarness("Socket", unixsock.Options{})) })
	b.Run("persistent", func(b *testing.B) {
		bridgetest.Benchmark(b, conformanceHarness("SocketPersistent", unixsock.Options{Persistent: true}))
	})
}
