package httpbridge_test

import (
	"bytes"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/bridgetest"
	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
)

// confLimit is the body limit of the conformance runs: the Oversize check sends an event of exactly
// the limit, and a smaller one keeps the suite fast under the race detector (the 10 MB fault test
// covers big bodies).
const confLimit = 256 << 10

func conformanceHarness(name string, o httpbridge.Options) bridgetest.Harness {
	o.MaxBodyBytes = confLimit
	return bridgetest.Harness{
		Name:     name,
		Features: bridges.Features{Ordered: true, MaxMessageBytes: confLimit},
		// Both ends send and listen (the two-way wiring of the NoEcho check): each sends to the
		// other's URL.
		NewPair: func(t testing.TB) bridgetest.Pair {
			lurl := "http://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/abxbus_events"
			eurl := "http://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/abxbus_events"
			lo, eo := o, o
			lo.ListenOn, lo.Logger = lurl, bridgetest.Logger(t)
			eo.ListenOn, eo.Logger = eurl, bridgetest.Logger(t)
			li, err := httpbridge.New(eurl, &lo)
			if err != nil {
				t.Fatal(err)
			}
			em, err := httpbridge.New(lurl, &eo)
			if err != nil {
				t.Fatal(err)
			}
			return bridgetest.Pair{Emitter: em, Listener: li, Endpoint: lurl}
		},
		InjectRaw: func(t testing.TB, p bridgetest.Pair, raw []byte) {
			resp, err := http.Post(p.Endpoint, "application/json", bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		},
		Timeout: 60 * time.Second,
	}
}

func TestConformance(t *testing.T) {
	bridgetest.Run(t, conformanceHarness("HTTP", httpbridge.Options{}))
	bridgetest.Run(t, conformanceHarness("HTTPAckAfterHandled", httpbridge.Options{AckAfterHandled: true}))
}

func BenchmarkConformance(b *testing.B) {
	bridgetest.Benchmark(b, conformanceHarness("HTTP", httpbridge.Options{}))
}
