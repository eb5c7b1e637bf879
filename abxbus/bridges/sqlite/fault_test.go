package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	"github.com/typedbus/abxbus-go/internal/flatrow"
)

// The shared harness pieces (bridgetesting), by the names these tests use.
var (
	newCounter = bridgetesting.NewCounter
	ping       = bridgetesting.FaultPing
)

// A row written late with an event_created_at older than rows already read is delivered (the TS
// cursor on (event_created_at, event_id) never delivers it; ours follows rowid), and so are the rows
// after it (TS pitfall 8: a row from the future poisons the TS cursor).
func TestFaultLateOlderAndFutureRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	em := openForTest(t, path, Options{})
	li := openForTest(t, path, Options{})
	c := newCounter()
	if _, err := li.On("FaultPing", c.Handler); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := em.Emit(ctx, ping(t, 0, "")); err != nil {
		t.Fatal(err)
	}
	c.Wait(ctx, 1)
	// In this order: each wait below counts the rows delivered so far (a map's order is random).
	for seq, at := range []string{1: "2001-01-01T00:00:00.000000000Z", 2: "2099-01-01T00:00:00.000000000Z"} {
		if at == "" {
			continue
		}
		data, err := ping(t, seq, "").ToJSON()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.Unmarshal(data, &m)
		m["event_created_at"] = at
		data, _ = json.Marshal(m)
		insertRaw(t, path, data)
		c.Wait(ctx, seq+1)
	}
	if err := em.Emit(ctx, ping(t, 3, "")); err != nil {
		t.Fatal(err)
	}
	delivered, dup, lost := c.Wait(ctx, 4)
	t.Logf("late older row and future row: emitted 4, delivered %d, duplicated %d, lost %d", delivered, dup, lost)
	if lost != 0 || dup != 0 {
		t.Fatalf("lost %d, duplicated %d", lost, dup)
	}
}

// insertRaw inserts an event JSON as a row in the TS encoding (another writer).
func insertRaw(t testing.TB, path string, event []byte) {
	t.Helper()
	cols, err := flatrow.Encode(event)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var names, marks []string
	var args []any
	for _, c := range cols {
		names = append(names, q(c.Name))
		marks = append(marks, "?")
		if c.Null {
			args = append(args, nil)
		} else {
			args = append(args, c.Value)
		}
	}
	if _, err := db.Exec(`INSERT INTO "abxbus_events" (`+strings.Join(names, ",")+`) VALUES (`+strings.Join(marks, ",")+`)`, args...); err != nil {
		t.Fatal(err)
	}
}

// A 10 MB event goes through intact with the default limit (issue 15 item 8).
func TestFaultTenMegabyteEvent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	em, err := New(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	li, err := New(path, &Options{PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer li.Close()
	c := newCounter()
	if _, err := li.On("FaultPing", c.Handler); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pad := strings.Repeat("y", 10<<20)
	dup, lost := c.EmitBig(ctx, t, em, pad)
	if lost > 0 || dup > 0 || c.Pad(0) != len(pad) {
		t.Fatalf("lost %d, dup %d, pad %d bytes, want %d", lost, dup, c.Pad(0), len(pad))
	}
}

// Two writer processes' worth of bridges on one file at once: the busy timeout makes them wait for
// each other instead of failing (TS: 570 of 1000 emits failed with "database is locked").
func TestFaultConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	li := openForTest(t, path, Options{})
	c := newCounter()
	if _, err := li.On("FaultPing", c.Handler); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const per = 100
	var wg sync.WaitGroup
	for w := range 2 {
		em := openForTest(t, path, Options{})
		wg.Go(func() {
			for i := range per {
				if err := em.Emit(ctx, ping(t, w*per+i, "")); err != nil {
					t.Errorf("writer %d Emit %d: %v", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	delivered, dup, lost := c.Wait(ctx, 2*per)
	t.Logf("2 writers: emitted %d, delivered %d, duplicated %d, lost %d", 2*per, delivered, dup, lost)
	if lost > 0 || dup > 0 {
		t.Fatalf("lost %d, dup %d", lost, dup)
	}
}

// ADD COLUMN tolerates a column that another process added after this bridge read its column cache
// (TS pitfall 9: the TS emitter then fails every emit with "duplicate column name").
func TestAddColumnAddedElsewhere(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	br := openForTest(t, path, Options{})
	ctx := context.Background()
	if err := br.ensureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ALTER TABLE "abxbus_events" ADD COLUMN "event_extra" TEXT`); err != nil {
		t.Fatal(err)
	}
	br.schemaMu.Lock()
	err = br.addColumns(ctx, []string{"event_extra"})
	br.schemaMu.Unlock()
	if err != nil {
		t.Fatalf("addColumns of a column added by another connection: %v", err)
	}
}

// A row the inbound bus refuses is logged and skipped: the rows around it are each delivered once,
// with and without a Consumer, and the refused row is not retried.
func TestFaultRefusedRowSkipped(t *testing.T) {
	for _, consumer := range []string{"", "durable"} {
		t.Run("consumer="+consumer, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.db")
			reg := bridgetesting.ClashRegistry(t)
			li := openForTest(t, path, Options{Registry: reg, Consumer: consumer})
			bridgetesting.BindClash(li.Bus())
			c := newCounter()
			if _, err := li.On("FaultPing", c.Handler); err != nil {
				t.Fatal(err)
			}
			em := openForTest(t, path, Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c.EmitAroundRefused(ctx, t, em, 200*time.Millisecond) // 40 poll intervals
		})
	}
}

// Close lets the events already received finish (non-durable mode): 5 events with a 50 ms handler,
// all 5 handled when Close returns.
func TestCloseFinishesReceived(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	li := openForTest(t, path, Options{})
	h := &bridgetesting.SlowHandler{}
	if _, err := li.On("FaultPing", h.Handle); err != nil {
		t.Fatal(err)
	}
	em := openForTest(t, path, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 5 {
		if err := em.Emit(ctx, ping(t, i, "")); err != nil {
			t.Fatal(err)
		}
	}
	h.WaitStarted(ctx)
	time.Sleep(20 * time.Millisecond) // the poller has read all 5 rows (PollInterval 5 ms)
	if err := li.Close(); err != nil {
		t.Fatal(err)
	}
	h.ExpectFinished(t, 5)
}
