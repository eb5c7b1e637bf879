package bridgetest_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/bridgetest"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
)

// A bridge package's conformance test: a Harness that opens two ends of a fresh JSONL file with a
// cursor (so the bridge is durable), writes foreign lines for the bad-frame check, and lets a child
// process open the same listener for the kill -9 check. In the test package's TestMain, call
// bridgetest.MaybeRunChild(harness()) first. Run needs a *testing.T, so this example only shows the
// test; the JSONL bridge's own conformance test is this one.
func ExampleRun() {
	open := func(t testing.TB, path, cursor string) bridges.Bridge {
		br, err := jsonl.New(path, &jsonl.Options{Cursor: cursor, FromStart: true,
			PollInterval: 5 * time.Millisecond, Logger: bridgetest.Logger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return br
	}
	harness := bridgetest.Harness{
		Name: "JSONLCursor",
		Features: bridges.Features{Ordered: true, Durable: true, AtLeastOnce: true, FanOut: true,
			MaxMessageBytes: jsonl.DefaultMaxLineBytes},
		NewPair: func(t testing.TB) bridgetest.Pair {
			path := filepath.Join(t.TempDir(), "events.jsonl")
			return bridgetest.Pair{Emitter: open(t, path, ""), Listener: open(t, path, path+".cursor"), Endpoint: path}
		},
		Reopen: func(t testing.TB, p bridgetest.Pair) bridges.Bridge {
			return open(t, p.Endpoint, p.Endpoint+".cursor")
		},
		InjectRaw: func(t testing.TB, p bridgetest.Pair, raw []byte) {
			f, err := os.OpenFile(p.Endpoint, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			f.Write(append(raw, '\n'))
		},
		ListenerArgs: func(p bridgetest.Pair) []string { return []string{p.Endpoint, p.Endpoint + ".cursor"} },
		OpenListener: func(_ context.Context, args []string) (bridges.Bridge, error) {
			return jsonl.New(args[0], &jsonl.Options{Cursor: args[1], FromStart: true, PollInterval: 5 * time.Millisecond})
		},
	}
	testConformance := func(t *testing.T) { bridgetest.Run(t, harness) }
	benchmarkBridge := func(b *testing.B) { bridgetest.Benchmark(b, harness) }
	_, _ = testConformance, benchmarkBridge
}
