package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/bridgetest"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
	"github.com/typedbus/abxbus-go/internal/testservers"
)

func TestMain(m *testing.M) {
	bridgetest.MaybeRunChild(durableHarness(nil))
	leakcheck.Main(m)
}

// testMaxBytes keeps the suite's oversize check (which builds events of that size) quick.
const testMaxBytes = 256 << 10

var tableSeq atomic.Int64

// freshTable names a table (and channel) of its own per pair.
func freshTable() string { return fmt.Sprintf("t%d_%d", os.Getpid(), tableSeq.Add(1)) }

func testOptions(t testing.TB, table string, o Options) *Options {
	o.Table, o.Channel = table, table
	o.PollInterval = 200 * time.Millisecond
	o.MaxEventBytes = testMaxBytes
	if t != nil {
		o.Logger = bridgetest.Logger(t)
	}
	return &o
}

func openForTest(t testing.TB, dsn, table string, o Options) *Bridge {
	t.Helper()
	br, err := New(dsn, testOptions(t, table, o))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}

// endpoint is "dsn table" in Pair.Endpoint.
func splitEndpoint(ep string) (dsn, table string) {
	var n int
	fmt.Sscanf(ep, "%d", &n)
	return ep[len(fmt.Sprint(n))+1 : len(fmt.Sprint(n))+1+n], ep[len(fmt.Sprint(n))+1+n+1:]
}

func joinEndpoint(dsn, table string) string { return fmt.Sprintf("%d %s %s", len(dsn), dsn, table) }

// injectRow writes a foreign row: raw as event_payload, the event_id column JSON-quoted as TS writes
// it (or a made-up one), and a NOTIFY, as another writer could.
func injectRow(t testing.TB, p bridgetest.Pair, raw []byte) {
	t.Helper()
	dsn, table := splitEndpoint(p.Endpoint)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	id := fmt.Sprintf(`"injected-%d"`, time.Now().UnixNano())
	var obj struct {
		ID *string `json:"event_id"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.ID != nil {
		b, _ := json.Marshal(*obj.ID)
		id = string(b)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO "`+table+`" ("event_id", "event_payload") VALUES ($1, $2)`, id, string(raw)); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_notify($1, $2)`, table, id); err != nil {
		t.Fatal(err)
	}
}

// fixed returns a server getter for the harness: the server t started, for all its subtests.
func fixed(t testing.TB) func(testing.TB) *testservers.Postgres {
	pg := testservers.StartPostgres(t)
	return func(testing.TB) *testservers.Postgres { return pg }
}

func plainHarness(pg func(testing.TB) *testservers.Postgres) bridgetest.Harness {
	return bridgetest.Harness{
		Name:     "Postgres",
		Features: bridges.Features{Ordered: true, FanOut: true, MaxMessageBytes: testMaxBytes},
		NewPair: func(t testing.TB) bridgetest.Pair {
			dsn, table := pg(t).DSN, freshTable()
			return bridgetest.Pair{Emitter: openForTest(t, dsn, table, Options{}), Listener: openForTest(t, dsn, table, Options{}),
				Endpoint: joinEndpoint(dsn, table)}
		},
		InjectRaw: injectRow,
	}
}

func durableHarness(pg func(testing.TB) *testservers.Postgres) bridgetest.Harness {
	h := plainHarness(pg)
	h.Name = "PostgresConsumer"
	h.Features.Durable, h.Features.AtLeastOnce = true, true
	h.NewPair = func(t testing.TB) bridgetest.Pair {
		dsn, table := pg(t).DSN, freshTable()
		return bridgetest.Pair{Emitter: openForTest(t, dsn, table, Options{}),
			Listener: openForTest(t, dsn, table, Options{Consumer: "worker"}), Endpoint: joinEndpoint(dsn, table)}
	}
	h.Reopen = func(t testing.TB, p bridgetest.Pair) bridges.Bridge {
		dsn, table := splitEndpoint(p.Endpoint)
		return openForTest(t, dsn, table, Options{Consumer: "worker"})
	}
	h.ListenerArgs = func(p bridgetest.Pair) []string {
		dsn, table := splitEndpoint(p.Endpoint)
		return []string{dsn, table, "worker"}
	}
	h.OpenListener = func(_ context.Context, args []string) (bridges.Bridge, error) {
		return New(args[0], testOptions(nil, args[1], Options{Consumer: args[2]}))
	}
	h.IgnoreGoroutines = []string{"testservers."}
	return h
}

func TestConformance(t *testing.T) {
	pg := fixed(t)
	bridgetest.Run(t, plainHarness(pg))
	bridgetest.Run(t, durableHarness(pg))
}

func BenchmarkBridge(b *testing.B) {
	pg := fixed(b)
	b.Run("plain", func(b *testing.B) { bridgetest.Benchmark(b, plainHarness(pg)) })
	b.Run("consumer", func(b *testing.B) { bridgetest.Benchmark(b, durableHarness(pg)) })
}
