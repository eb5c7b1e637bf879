package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	"github.com/typedbus/abxbus-go/internal/tspeer"
)

// The TS SQLiteEventBridge of abxbus@2.5.56 (Node 22, node:sqlite) and ours on one database file, both
// ways (F252, issue 15 item 7): N events, in order, payloads intact.

const interopN = 100

// The shared SQL peer pieces (bridgetesting), by the names these tests use.
type peerPing = bridgetesting.PeerPing

var peerText = bridgetesting.PeerText

func TestInteropTSEmitsGoReceives(t *testing.T) {
	tspeer.Require(t)
	path := filepath.Join(t.TempDir(), "events.db")
	li := openForTest(t, path, Options{})
	got := bridgetesting.NewPeerPings(interopN)
	if _, err := li.On("SqlPeerPing", got.Handle); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := tspeer.Command22(ctx, t, "sqlpeer.mjs", "emit", "sqlite", path, DefaultTable, fmt.Sprint(interopN), "r1")
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("TS emitter: %v\n%s", err, out)
	}
	got.ExpectAll(ctx, t, "r1")
}

func TestInteropGoEmitsTSReceives(t *testing.T) {
	tspeer.Require(t)
	path := filepath.Join(t.TempDir(), "events.db")
	em := openForTest(t, path, Options{})
	if err := em.Start(); err != nil { // creates the table and every TS column before TS starts
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := tspeer.Command22(ctx, t, "sqlpeer.mjs", "listen", "sqlite", path, DefaultTable, fmt.Sprint(interopN), "r2")
	bridgetesting.RunTSListener(ctx, t, cmd, interopN, func(ctx context.Context, seq int) error {
		e, err := abxbus.NewBaseEvent("SqlPeerPing", peerPing{Run: "r2", Seq: seq, Text: peerText(seq)})
		if err != nil {
			return err
		}
		return em.Emit(ctx, e)
	})
}

// Rows a TS emitter wrote while a Go consumer was down are delivered when it starts again (the TS
// listener starts at the newest row and would miss them).
func TestInteropTSEmitsWhileGoConsumerDown(t *testing.T) {
	tspeer.Require(t)
	path := filepath.Join(t.TempDir(), "events.db")
	first := openForTest(t, path, Options{Consumer: "go"})
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := tspeer.Command22(ctx, t, "sqlpeer.mjs", "emit", "sqlite", path, DefaultTable, fmt.Sprint(interopN), "r3").Output(); err != nil {
		t.Fatalf("TS emitter: %v\n%s", err, out)
	}
	li := openForTest(t, path, Options{Consumer: "go"})
	got := bridgetesting.NewPeerPings(interopN)
	if _, err := li.On("SqlPeerPing", got.Handle); err != nil {
		t.Fatal(err)
	}
	got.ExpectAfterRestart(ctx, t)
}
