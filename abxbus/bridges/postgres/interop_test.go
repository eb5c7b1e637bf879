package postgres

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	"github.com/typedbus/abxbus-go/internal/testservers"
	"github.com/typedbus/abxbus-go/internal/tspeer"
)

// The TS PostgresEventBridge of abxbus@2.5.56 and ours on one table and channel, both ways (F251,
// issue 15 item 7): N events, in order, payloads intact.

const interopN = 100

// The shared SQL peer pieces (bridgetesting), by the names these tests use.
type peerPing = bridgetesting.PeerPing

var peerText = bridgetesting.PeerText

// tableURL is the TS bridge's address of table on pg: postgresql://.../db/table.
func tableURL(pg *testservers.Postgres, table string) string {
	u, _ := url.Parse(pg.DSN)
	u.Scheme = "postgresql"
	u.Path += "/" + table
	u.RawQuery = ""
	return u.String()
}

func TestInterop(t *testing.T) {
	tspeer.Require(t)
	pg := testservers.StartPostgres(t)
	t.Run("TSEmitsGoReceives", func(t *testing.T) {
		table := freshTable()
		li := openForTest(t, pg.DSN, table, Options{})
		got := bridgetesting.NewPeerPings(interopN)
		if _, err := li.On("SqlPeerPing", got.Handle); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := tspeer.Command(ctx, t, "sqlpeer.mjs", "emit", "postgres", tableURL(pg, table), table, fmt.Sprint(interopN), "r1")
		if out, err := cmd.Output(); err != nil {
			t.Fatalf("TS emitter: %v\n%s", err, out)
		}
		got.ExpectAll(ctx, t, "r1")
	})
	t.Run("GoEmitsTSReceives", func(t *testing.T) {
		table := freshTable()
		em := openForTest(t, pg.DSN, table, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := em.ensureSchema(ctx); err != nil {
			t.Fatal(err)
		}
		cmd := tspeer.Command(ctx, t, "sqlpeer.mjs", "listen", "postgres", tableURL(pg, table), table, fmt.Sprint(interopN), "r2")
		bridgetesting.RunTSListener(ctx, t, cmd, interopN, func(ctx context.Context, seq int) error {
			e, err := abxbus.NewBaseEvent("SqlPeerPing", peerPing{Run: "r2", Seq: seq, Text: peerText(seq)})
			if err != nil {
				return err
			}
			return em.Emit(ctx, e)
		})
	})
	t.Run("TSEmitsWhileGoConsumerDown", func(t *testing.T) {
		table := freshTable()
		first := openForTest(t, pg.DSN, table, Options{Consumer: "go"})
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if out, err := tspeer.Command(ctx, t, "sqlpeer.mjs", "emit", "postgres", tableURL(pg, table), table, fmt.Sprint(interopN), "r3").Output(); err != nil {
			t.Fatalf("TS emitter: %v\n%s", err, out)
		}
		li := openForTest(t, pg.DSN, table, Options{Consumer: "go"})
		got := bridgetesting.NewPeerPings(interopN)
		if _, err := li.On("SqlPeerPing", got.Handle); err != nil {
			t.Fatal(err)
		}
		got.ExpectAfterRestart(ctx, t)
	})
}
