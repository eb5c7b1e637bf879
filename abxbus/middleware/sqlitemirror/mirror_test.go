package sqlitemirror_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/middleware/sqlitemirror"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) {
	if os.Getenv(readerEnv) != "" {
		os.Exit(readerProcess())
	}
	leakcheck.Main(m)
}

type Work struct {
	abxbus.Returns[int]
	N int `json:"n"`
}

type Child struct {
	abxbus.Returns[string]
	Of int `json:"of"`
}

var quiet = slog.New(slog.DiscardHandler)

var rank = map[string]int{"pending": 0, "started": 1, "completed": 2, "error": 2}

func openMirror(t *testing.T, opts *sqlitemirror.Options) (*sqlitemirror.Mirror, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "dir", "history.db")
	m, err := sqlitemirror.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, path
}

type evRow struct {
	id                                    int64
	eventID, eventType, status, busID     string
	busName, phase, eventJSON, insertedAt string
}

type resRow struct {
	id                                            int64
	resultID, eventID, handlerID, handlerName     string
	busID, busName, eventType, status, phase      string
	resultRepr, errorRepr, resultJSON, insertedAt sql.NullString
}

func readRows(t *testing.T, path string) ([]evRow, []resRow) {
	t.Helper()
	db, err := sqlitemirror.OpenDB(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var evs []evRow
	rows, err := db.Query(`SELECT id, event_id, event_type, event_status, eventbus_id, eventbus_name, phase,
		event_json, inserted_at FROM events_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r evRow
		if err := rows.Scan(&r.id, &r.eventID, &r.eventType, &r.status, &r.busID, &r.busName, &r.phase, &r.eventJSON, &r.insertedAt); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, r)
	}
	rows.Close()
	var res []resRow
	rows, err = db.Query(`SELECT id, event_result_id, event_id, handler_id, handler_name, eventbus_id,
		eventbus_name, event_type, status, phase, result_repr, error_repr, event_result_json, inserted_at
		FROM event_results_log ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r resRow
		var ins string
		if err := rows.Scan(&r.id, &r.resultID, &r.eventID, &r.handlerID, &r.handlerName, &r.busID, &r.busName,
			&r.eventType, &r.status, &r.phase, &r.resultRepr, &r.errorRepr, &r.resultJSON, &ins); err != nil {
			t.Fatal(err)
		}
		r.insertedAt = sql.NullString{String: ins, Valid: true}
		res = append(res, r)
	}
	rows.Close()
	return evs, res
}

// TestMirrorRowsPerLifecycleStep (F241): every event on every bus gets exactly its pending, started
// and completed rows in events_log, every result its pending, started, completed rows in
// event_results_log (a cancelled one pending, completed), across serial, parallel, erroring,
// queue-jumped and forwarded work; the stored JSON is the abxbus JSON of that moment.
func TestMirrorRowsPerLifecycleStep(t *testing.T) {
	ctx := context.Background()
	m, path := openMirror(t, &sqlitemirror.Options{QueueSize: 4, BatchSize: 3, Logger: quiet})
	mw := []abxbus.Middleware{m}
	serial, _ := abxbus.New("Serial", &abxbus.Options{Middlewares: mw, Logger: quiet})
	parallel, _ := abxbus.New("Parallel", &abxbus.Options{Middlewares: mw, Logger: quiet,
		HandlerConcurrency: abxbus.HandlersParallel, EventConcurrency: abxbus.Parallel})
	defer serial.Destroy(true)
	defer parallel.Destroy(true)

	abxbus.On(serial, func(ctx context.Context, w Work) (int, error) { return w.N * 2, nil }, abxbus.WithName("double"))
	abxbus.On(serial, func(ctx context.Context, w Work) (int, error) {
		if w.N%3 == 0 {
			return 0, fmt.Errorf("no multiples of three: %d", w.N)
		}
		// A queue-jumped child on the same bus.
		v, err := abxbus.Call(ctx, serial, Child{Of: w.N})
		if err != nil {
			return 0, err
		}
		return len(v), nil
	}, abxbus.WithName("picky"))
	abxbus.On(serial, func(ctx context.Context, c Child) (string, error) { return strings.Repeat("x", c.Of), nil }, abxbus.WithName("child"))
	for _, name := range []string{"p1", "p2", "p3"} {
		abxbus.On(parallel, func(ctx context.Context, w Work) (int, error) {
			if name == "p2" && w.N%2 == 0 {
				return 0, errors.New("p2 fails on even")
			}
			return w.N, nil
		}, abxbus.WithName(name))
	}
	// Forward every Work from serial to parallel.
	serial.OnType("Work", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return parallel.Emit(ctx, e)
	}, abxbus.WithName("forward"))

	const n = 30
	var events []*abxbus.Event[Work, int]
	for i := range n {
		e, err := abxbus.Emit(ctx, serial, Work{N: i + 1})
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if err := serial.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := parallel.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	// WaitUntilIdle returns once the buses are done processing; completion (and its hooks) is what
	// Wait waits for.
	for _, e := range events {
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	evs, res := readRows(t, path)

	// Expected: each Work on both buses, each Child (for N not a multiple of 3) on serial.
	type key struct{ event, bus string }
	phases := map[key][]string{}
	for _, r := range evs {
		k := key{r.eventID, r.busName}
		phases[k] = append(phases[k], r.phase)
		var js map[string]any
		if err := json.Unmarshal([]byte(r.eventJSON), &js); err != nil {
			t.Fatalf("row %d: event_json: %v", r.id, err)
		}
		if js["event_id"] != r.eventID || js["event_type"] != r.eventType || js["event_status"] != r.status {
			t.Fatalf("row %d: event_json %v does not match the row's id/type/status %s %s %s", r.id, js, r.eventID, r.eventType, r.status)
		}
		if _, err := time.Parse(time.RFC3339Nano, r.insertedAt); err != nil || len(r.insertedAt) != 30 {
			t.Fatalf("row %d: inserted_at %q", r.id, r.insertedAt)
		}
	}
	children := 0
	for i := range n {
		if (i+1)%3 != 0 {
			children++
		}
	}
	if want := 2*n + children; len(phases) != want {
		t.Fatalf("events_log covers %d (event, bus) pairs, want %d", len(phases), want)
	}
	want := []string{"pending", "started", "completed"}
	for k, got := range phases {
		if !slices.Equal(got, want) {
			t.Errorf("event %s on %s: phases %v, want %v", k.event, k.bus, got, want)
		}
	}
	for _, e := range events {
		for _, bus := range []string{"Serial", "Parallel"} {
			if _, ok := phases[key{e.ID().String(), bus}]; !ok {
				t.Errorf("no rows for %s on %s", e, bus)
			}
		}
	}
	// A row's status is its phase or later; the completed row holds the completed event.
	for _, r := range evs {
		if rank[r.status] < rank[r.phase] || (r.phase == "completed" && r.status != "completed") {
			t.Errorf("row %d: %s phase with event_status %s", r.id, r.phase, r.status)
		}
	}

	// Results.
	resPhases := map[string][]string{}
	byID := map[string][]resRow{}
	for _, r := range res {
		resPhases[r.resultID] = append(resPhases[r.resultID], r.phase)
		byID[r.resultID] = append(byID[r.resultID], r)
	}
	wantResults := n*(3+3) + children // double, picky, forward on serial; p1..p3; child
	if len(resPhases) != wantResults {
		t.Fatalf("event_results_log covers %d results, want %d", len(resPhases), wantResults)
	}
	errorsSeen := 0
	for id, got := range resPhases {
		if !slices.Equal(got, want) {
			t.Errorf("result %s: phases %v, want %v", id, got, want)
			continue
		}
		rows := byID[id]
		last := rows[2]
		// A hook may run after the result moved on: a row's status is its phase or later.
		for _, r := range rows {
			if rank[r.status] < rank[r.phase] {
				t.Errorf("result %s: %s row with status %s", id, r.phase, r.status)
			}
		}
		var js map[string]any
		if err := json.Unmarshal([]byte(last.resultJSON.String), &js); err != nil {
			t.Fatalf("result %s: event_result_json: %v", id, err)
		}
		if js["id"] != id || js["handler_name"] != last.handlerName || js["status"] != last.status {
			t.Errorf("result %s: json %v vs row %+v", id, js, last)
		}
		switch last.status {
		case "error":
			errorsSeen++
			if !last.errorRepr.Valid || last.resultRepr.Valid {
				t.Errorf("result %s (%s): error row with error_repr %v result_repr %v", id, last.handlerName, last.errorRepr, last.resultRepr)
			}
		case "completed":
			if last.errorRepr.Valid {
				t.Errorf("result %s: completed with error_repr %v", id, last.errorRepr)
			}
			if last.handlerName != "forward" && !last.resultRepr.Valid {
				t.Errorf("result %s (%s): completed without result_repr", id, last.handlerName)
			}
			if last.handlerName == "forward" && last.resultRepr.Valid {
				t.Errorf("forward result stored the forwarded event as result_repr %q", last.resultRepr.String)
			}
		default:
			t.Errorf("result %s: completed phase with status %s", id, last.status)
		}
	}
	wantErrors := 0
	for i := range n {
		if (i+1)%3 == 0 {
			wantErrors++ // picky
		}
		if (i+1)%2 == 0 {
			wantErrors++ // p2
		}
	}
	if errorsSeen != wantErrors {
		t.Errorf("%d error results, want %d", errorsSeen, wantErrors)
	}
	// A specific row: picky's error text.
	found := false
	for _, r := range res {
		if r.handlerName == "picky" && r.errorRepr.Valid && r.errorRepr.String == "Error: no multiples of three: 3" {
			found = true
		}
	}
	if !found {
		t.Error(`no picky row with error_repr "Error: no multiples of three: 3"`)
	}
}

// TestMirrorCancelledResultRows: a handler cancelled before it started has pending and completed rows
// only, with its error.
func TestMirrorCancelledResultRows(t *testing.T) {
	ctx := context.Background()
	m, path := openMirror(t, &sqlitemirror.Options{Logger: quiet})
	bus, _ := abxbus.New("Timeouts", &abxbus.Options{Middlewares: []abxbus.Middleware{m}, Logger: quiet})
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, w Work) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}, abxbus.WithName("slow"))
	abxbus.On(bus, func(ctx context.Context, w Work) (int, error) { return 1, nil }, abxbus.WithName("never"))
	e, _ := abxbus.EmitWith(ctx, bus, Work{N: 1}, abxbus.EventOptions{Timeout: 30 * time.Millisecond})
	_ = e.Wait(ctx)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	_, res := readRows(t, path)
	got := map[string][]string{}
	for _, r := range res {
		got[r.handlerName] = append(got[r.handlerName], r.phase+"/"+r.status)
		if r.phase == "completed" && !r.errorRepr.Valid {
			t.Errorf("%s: completed without error_repr", r.handlerName)
		}
	}
	if w := []string{"pending/", "started/", "completed/error"}; !slices.Equal(trimLater(got["slow"]), w) {
		t.Errorf("slow: %v, want %v", got["slow"], w)
	}
	if w := []string{"pending/", "completed/error"}; !slices.Equal(trimLater(got["never"]), w) {
		t.Errorf("never: %v, want %v", got["never"], w)
	}
}

// trimLater drops the status of non-final rows, which may be later than their phase.
func trimLater(rows []string) []string {
	out := slices.Clone(rows)
	for i := range out[:max(len(out)-1, 0)] {
		out[i] = strings.SplitAfter(out[i], "/")[0]
	}
	return out
}

// TestMirrorCloseLosesNothing: with a queue of one row, many concurrent emitters block on the queue
// instead of dropping, and Close writes everything queued.
func TestMirrorCloseLosesNothing(t *testing.T) {
	ctx := context.Background()
	m, path := openMirror(t, &sqlitemirror.Options{QueueSize: 1, BatchSize: 7, Logger: quiet})
	const buses, per = 4, 50
	var wg sync.WaitGroup
	for b := range buses {
		bus, _ := abxbus.New(fmt.Sprintf("B%d", b), &abxbus.Options{Middlewares: []abxbus.Middleware{m}, Logger: quiet,
			EventConcurrency: abxbus.Parallel, MaxHistorySize: abxbus.Ptr(0)})
		defer bus.Destroy(true)
		abxbus.On(bus, func(ctx context.Context, w Work) (int, error) { return w.N, nil })
		wg.Go(func() {
			var evs []*abxbus.Event[Work, int]
			for i := range per {
				e, _ := abxbus.Emit(ctx, bus, Work{N: i})
				evs = append(evs, e)
			}
			for _, e := range evs {
				e.Wait(ctx)
			}
		})
	}
	wg.Wait()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	evs, res := readRows(t, path)
	if len(evs) != 3*buses*per || len(res) != 3*buses*per {
		t.Fatalf("%d event rows and %d result rows, want %d each", len(evs), len(res), 3*buses*per)
	}
	// After Close: recorded, not silent.
	bus, _ := abxbus.New("Late", &abxbus.Options{Middlewares: []abxbus.Middleware{m}, Logger: quiet})
	defer bus.Destroy(true)
	late, _ := abxbus.Emit(ctx, bus, Work{N: 1})
	late.Wait(ctx)
	if err := m.Err(); !errors.Is(err, sqlitemirror.ErrClosed) {
		t.Fatalf("Err after a change past Close = %v, want ErrClosed", err)
	}
	if err := m.Flush(ctx); !errors.Is(err, sqlitemirror.ErrClosed) {
		t.Fatalf("Flush after Close = %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		path string
		opts *sqlitemirror.Options
	}{
		{"", nil},
		{filepath.Join(dir, "a?b.db"), nil},
		{filepath.Join(dir, "x.db"), &sqlitemirror.Options{QueueSize: -1}},
		{filepath.Join(dir, "x.db"), &sqlitemirror.Options{BatchSize: -1}},
		{filepath.Join(dir, "x.db"), &sqlitemirror.Options{BusyTimeout: -time.Second}},
	} {
		if _, err := sqlitemirror.Open(c.path, c.opts); !errors.Is(err, abxbus.ErrInvalidOption) {
			t.Errorf("Open(%q, %+v) = %v, want ErrInvalidOption", c.path, c.opts, err)
		}
	}
	// A file that is not a database.
	bad := filepath.Join(dir, "notadb")
	os.WriteFile(bad, []byte(strings.Repeat("not sqlite ", 200)), 0o644)
	if m, err := sqlitemirror.Open(bad, nil); err == nil {
		m.Close()
		t.Fatal("Open of a non-database file succeeded")
	} else if !strings.Contains(err.Error(), bad) {
		t.Fatalf("error %q does not name the path", err)
	}
}

const readerEnv = "SQLITEMIRROR_TEST_READER_DB"

// readerProcess is the second process of TestMirrorReadByAnotherProcess: for each line on stdin it
// counts the rows of both tables and prints them.
func readerProcess() int {
	db, err := sqlitemirror.OpenDB(os.Getenv(readerEnv), 5*time.Second)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer db.Close()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var evs, res int
		var mode string
		err := db.QueryRow(`SELECT (SELECT count(*) FROM events_log), (SELECT count(*) FROM event_results_log)`).Scan(&evs, &res)
		if err == nil {
			err = db.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
		}
		if err != nil {
			fmt.Println("error", err)
			continue
		}
		fmt.Println(evs, res, mode)
	}
	return 0
}

// TestMirrorReadByAnotherProcess: a second process reads the tables while this one keeps writing
// (WAL journal mode lets readers and the writer work at once); after each Flush it sees every row
// written so far.
func TestMirrorReadByAnotherProcess(t *testing.T) {
	ctx := context.Background()
	m, path := openMirror(t, &sqlitemirror.Options{Logger: quiet})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), readerEnv+"="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	out := bufio.NewScanner(stdout)
	ask := func() string {
		fmt.Fprintln(stdin, "count")
		if !out.Scan() {
			t.Fatalf("reader process ended: %v", out.Err())
		}
		return out.Text()
	}

	bus, _ := abxbus.New("Writer", &abxbus.Options{Middlewares: []abxbus.Middleware{m}, Logger: quiet})
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, w Work) (int, error) { return w.N, nil })

	// A background emitter keeps the writer busy while the reader reads.
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Go(func() {
		for i := 0; i < 300; i++ { // bounded: the test's time stays short under -race on a loaded machine
			select {
			case <-stop:
				return
			default:
			}
			abxbus.Call(ctx, bus, Work{N: -i})
		}
	})
	seen := []string{}
	for round := 1; round <= 5; round++ {
		for i := range 20 {
			abxbus.Call(ctx, bus, Work{N: i})
		}
		if err := m.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got := ask()
		var evs, res int
		var mode string
		if _, err := fmt.Sscan(got, &evs, &res, &mode); err != nil {
			t.Fatalf("reader said %q", got)
		}
		if mode != "wal" {
			t.Fatalf("reader sees journal mode %q", mode)
		}
		// Every Call of this test completed before Flush, so at least its rows are visible.
		if evs < 3*20*round || res < 3*20*round {
			t.Fatalf("round %d: reader sees %d event rows, %d result rows, want at least %d", round, evs, res, 3*20*round)
		}
		seen = append(seen, got)
	}
	close(stop)
	bg.Wait()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	final := ask()
	evs, res := readRows(t, path)
	if want := fmt.Sprintf("%d %d wal", len(evs), len(res)); final != want {
		t.Fatalf("reader after Close sees %q, this process %q", final, want)
	}
	t.Logf("reader counts while writing: %v; final %s", seen, final)
}
