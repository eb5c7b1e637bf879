package jsonl

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/bridgetest"
)

// The JSONL bridge runs the bridge conformance suite twice: plain (reading from the end of the file at
// Start) and durable (with a cursor file, reading a new file from its start).

// testMaxLine is the line limit of the conformance pairs: 1 MiB keeps the oversize check quick under
// -race (the default, 4 MiB, is the same code path).
const testMaxLine = 1 << 20

func openForTest(t testing.TB, path string, o Options) *Bridge {
	t.Helper()
	o.PollInterval = 5 * time.Millisecond
	o.MaxLineBytes = testMaxLine
	if t != nil {
		o.Logger = bridgetest.Logger(t)
	}
	br, err := New(path, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}

func injectLine(t testing.TB, p bridgetest.Pair, raw []byte) {
	t.Helper()
	f, err := os.OpenFile(p.Endpoint, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(append(raw, '\n')); err != nil {
		t.Fatal(err)
	}
}

func plainHarness() bridgetest.Harness {
	return bridgetest.Harness{
		Name:     "JSONL",
		Features: bridges.Features{Ordered: true, FanOut: true, MaxMessageBytes: testMaxLine},
		NewPair: func(t testing.TB) bridgetest.Pair {
			path := filepath.Join(t.TempDir(), "events.jsonl")
			return bridgetest.Pair{Emitter: openForTest(t, path, Options{}), Listener: openForTest(t, path, Options{}), Endpoint: path}
		},
		InjectRaw: injectLine,
	}
}

func cursorOf(path string) string { return path + ".cursor" }

func durableHarness() bridgetest.Harness {
	h := plainHarness()
	h.Name = "JSONLCursor"
	h.Features.Durable, h.Features.AtLeastOnce = true, true
	h.NewPair = func(t testing.TB) bridgetest.Pair {
		path := filepath.Join(t.TempDir(), "events.jsonl")
		return bridgetest.Pair{Emitter: openForTest(t, path, Options{}),
			Listener: openForTest(t, path, Options{Cursor: cursorOf(path), FromStart: true}), Endpoint: path}
	}
	h.Reopen = func(t testing.TB, p bridgetest.Pair) bridges.Bridge {
		return openForTest(t, p.Endpoint, Options{Cursor: cursorOf(p.Endpoint), FromStart: true})
	}
	h.ListenerArgs = func(p bridgetest.Pair) []string { return []string{p.Endpoint, cursorOf(p.Endpoint)} }
	h.OpenListener = func(_ context.Context, args []string) (bridges.Bridge, error) {
		return New(args[0], &Options{Cursor: args[1], FromStart: true, PollInterval: 5 * time.Millisecond, MaxLineBytes: testMaxLine})
	}
	return h
}

func TestConformance(t *testing.T) {
	bridgetest.Run(t, plainHarness())
	bridgetest.Run(t, durableHarness())
}

func BenchmarkBridge(b *testing.B) {
	b.Run("throughput", func(b *testing.B) { bridgetest.Benchmark(b, plainHarness()) })
	b.Run("latency-2ms-gap", func(b *testing.B) { bridgetest.BenchmarkLatency(b, plainHarness(), 2*time.Millisecond) })
	b.Run("cursor-throughput", func(b *testing.B) { bridgetest.Benchmark(b, durableHarness()) })
}
