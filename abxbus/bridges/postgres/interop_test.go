package postgres

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/internal/testservers"
	"github.com/typedbus/abxbus-go/internal/tspeer"
)

// The TS PostgresEventBridge of abxbus@2.5.56 and ours on one table and channel, both ways (F251,
// issue 15 item 7): N events, in order, payloads intact.

const interopN = 100

func peerText(seq int) string { return fmt.Sprintf("héllo \"wörld\" ✓ <&> \\ tab\tnl\n#%d", seq) }

type peerPing struct {
	Run  string `json:"run"`
	Seq  int    `json:"seq"`
	Text string `json:"text"`
}

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
		var mu sync.Mutex
		var got []peerPing
		all := make(chan struct{})
		if _, err := li.On("SqlPeerPing", func(_ context.Context, e *abxbus.BaseEvent) (any, error) {
			raw, err := e.PayloadJSON()
			if err != nil {
				return nil, err
			}
			var p peerPing
			if err := json.Unmarshal(raw, &p); err != nil {
				return nil, err
			}
			mu.Lock()
			defer mu.Unlock()
			if got = append(got, p); len(got) == interopN {
				close(all)
			}
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := tspeer.Command(ctx, t, "sqlpeer.mjs", "emit", "postgres", tableURL(pg, table), table, fmt.Sprint(interopN), "r1")
		if out, err := cmd.Output(); err != nil {
			t.Fatalf("TS emitter: %v\n%s", err, out)
		}
		select {
		case <-all:
		case <-ctx.Done():
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("Go received %d of %d TS events", len(got), interopN)
		}
		mu.Lock()
		defer mu.Unlock()
		for i, p := range got {
			if p.Run != "r1" || p.Seq != i || p.Text != peerText(i) {
				t.Fatalf("event %d: %+v, want seq %d text %q", i, p, i, peerText(i))
			}
		}
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
		runTSListener(ctx, t, cmd, func(ctx context.Context, seq int) error {
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
		var mu sync.Mutex
		var got []int
		all := make(chan struct{})
		if _, err := li.On("SqlPeerPing", func(_ context.Context, e *abxbus.BaseEvent) (any, error) {
			raw, _ := e.PayloadJSON()
			var p peerPing
			if err := json.Unmarshal(raw, &p); err != nil {
				return nil, err
			}
			mu.Lock()
			defer mu.Unlock()
			if got = append(got, p.Seq); len(got) == interopN {
				close(all)
			}
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-all:
		case <-ctx.Done():
		}
		mu.Lock()
		defer mu.Unlock()
		t.Logf("TS emitted %d while the Go consumer was down; delivered after restart: %d", interopN, len(got))
		for i, s := range got {
			if s != i {
				t.Fatalf("event %d has seq %d", i, s)
			}
		}
		if len(got) != interopN {
			t.Fatalf("delivered %d of %d", len(got), interopN)
		}
	})
}

// runTSListener starts the TS listener cmd, waits for its "ready", emits interopN events with emit,
// and checks the listener's lines: every event, in order, payload intact.
func runTSListener(ctx context.Context, t *testing.T, cmd *exec.Cmd, emit func(ctx context.Context, seq int) error) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() || sc.Text() != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("TS listener did not get ready: %q %v", sc.Text(), sc.Err())
	}
	start := time.Now()
	for i := range interopN {
		if err := emit(ctx, i); err != nil {
			t.Fatalf("Go Emit %d: %v", i, err)
		}
	}
	seq := 0
	for sc.Scan() {
		var p struct {
			Seq  int    `json:"seq"`
			Text string `json:"text"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("TS listener line %q: %v", sc.Text(), err)
		}
		if p.Seq != seq || p.Text != peerText(seq) || p.Type != "SqlPeerPing" {
			t.Fatalf("TS received %+v as event %d, want seq %d text %q", p, seq, seq, peerText(seq))
		}
		seq++
	}
	elapsed := time.Since(start)
	if err := cmd.Wait(); err != nil || seq != interopN {
		t.Fatalf("TS listener received %d of %d events; exit: %v", seq, interopN, err)
	}
	t.Logf("Go -> TS: %d events received by the TS listener in %v (%.0f events/s end to end)", interopN,
		elapsed.Round(time.Millisecond), float64(interopN)/elapsed.Seconds())
}
