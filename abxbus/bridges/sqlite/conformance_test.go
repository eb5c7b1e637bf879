package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/bridgetest"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) {
	bridgetest.MaybeRunChild(durableHarness())
	leakcheck.Main(m)
}

func openForTest(t testing.TB, path string, o Options) *Bridge {
	t.Helper()
	o.PollInterval = 5 * time.Millisecond
	o.MaxEventBytes = testMaxBytes
	o.Logger = bridgetest.Logger(t)
	br, err := New(path, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}

// injectRow writes a foreign row: the raw bytes as event_payload text (not through json()), with a
// fresh event_id column, as another writer could.
func injectRow(t testing.TB, p bridgetest.Pair, raw []byte) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+p.Endpoint+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The event_id column as a TS writer fills it (the id JSON-quoted), NULL when raw has none.
	var id any
	var obj struct {
		ID *string `json:"event_id"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.ID != nil {
		q, _ := json.Marshal(*obj.ID)
		id = string(q)
	}
	if _, err := db.Exec(`INSERT INTO "abxbus_events" ("event_id", "event_payload") VALUES (?, ?)`, id, string(raw)); err != nil {
		t.Fatal(err)
	}
}

// testMaxBytes keeps the suite's oversize check (which builds events of that size) quick.
const testMaxBytes = 256 << 10

func plainHarness() bridgetest.Harness {
	return bridgetest.Harness{
		Name:     "SQLite",
		Features: bridges.Features{Ordered: true, FanOut: true, MaxMessageBytes: testMaxBytes},
		NewPair: func(t testing.TB) bridgetest.Pair {
			path := filepath.Join(t.TempDir(), "events.db")
			return bridgetest.Pair{Emitter: openForTest(t, path, Options{}), Listener: openForTest(t, path, Options{}), Endpoint: path}
		},
		InjectRaw: injectRow,
	}
}

func durableHarness() bridgetest.Harness {
	h := plainHarness()
	h.Name = "SQLiteConsumer"
	h.Features.Durable, h.Features.AtLeastOnce = true, true
	h.NewPair = func(t testing.TB) bridgetest.Pair {
		path := filepath.Join(t.TempDir(), "events.db")
		return bridgetest.Pair{Emitter: openForTest(t, path, Options{}),
			Listener: openForTest(t, path, Options{Consumer: "worker"}), Endpoint: path}
	}
	h.Reopen = func(t testing.TB, p bridgetest.Pair) bridges.Bridge {
		return openForTest(t, p.Endpoint, Options{Consumer: "worker"})
	}
	h.ListenerArgs = func(p bridgetest.Pair) []string { return []string{p.Endpoint, "worker"} }
	h.OpenListener = func(_ context.Context, args []string) (bridges.Bridge, error) {
		return New(args[0], &Options{Consumer: args[1], PollInterval: 5 * time.Millisecond, MaxEventBytes: testMaxBytes})
	}
	return h
}

func TestConformance(t *testing.T) {
	bridgetest.Run(t, plainHarness())
	bridgetest.Run(t, durableHarness())
}

func BenchmarkBridge(b *testing.B) {
	b.Run("plain", func(b *testing.B) { bridgetest.Benchmark(b, plainHarness()) })
	b.Run("consumer", func(b *testing.B) { bridgetest.Benchmark(b, durableHarness()) })
}
