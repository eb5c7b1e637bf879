package sqlitemirror

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// Options configures a Mirror. The zero value (or nil) gives the defaults.
type Options struct {
	// QueueSize is how many rows may wait for the writer. When the queue is full a hook blocks until
	// the writer has made room: the handler or dispatcher that made the change waits, no row is
	// dropped. 0: 8192.
	QueueSize int
	// BatchSize is the largest number of rows the writer inserts in one transaction. 0: 512.
	BatchSize int
	// BusyTimeout is how long a write waits for a lock held by another connection (another process
	// writing, a reader checkpointing) before it fails. 0: 5 seconds.
	BusyTimeout time.Duration
	// Logger receives write failures and rows refused after Close. nil: slog.Default().
	Logger *slog.Logger
}

// ErrClosed is matched by the error a Mirror records for a lifecycle change it saw after Close.
var ErrClosed = errors.New("abxbus sqlitemirror: mirror is closed")

// Mirror is an append-only mirror of bus history in a SQLite database: a middleware that inserts one
// row per event lifecycle change into events_log and one row per handler result lifecycle change into
// event_results_log (the tables and columns of the Python runtime's SQLite history mirror).
//
// events_log(id, event_id, event_type, event_status, eventbus_id, eventbus_name, phase, event_json,
// inserted_at) gets a row for pending, started and completed of every event on every bus the Mirror is
// given to, in that order; event_json is the event's abxbus JSON (BaseEvent.ToJSON) when the hook ran,
// event_status the status in that JSON. A hook may run after the event moved on (the bus delivers an
// event's hooks one at a time, in order, possibly after the change), so a row's status is its phase or
// a later one; the completed row always holds the completed event. event_results_log(id, event_result_id, event_id, handler_id,
// handler_name, eventbus_id, eventbus_name, event_type, status, phase, result_repr, error_repr,
// event_result_json, inserted_at) gets a row for pending, started (skipped by a handler that never
// started) and completed of every result; status is the result status (the completed row of a failed
// handler has status "error" and error_repr set; like event_status it may be later than the phase),
// result_repr the JSON of the returned value,
// error_repr "Type: message", event_result_json the result as it appears in an event's
// event_results. inserted_at is the time of the change (UTC, nine fractional digits), id increases in
// the order rows were queued.
//
// The hook only snapshots the event or result and queues the row; a single writer goroutine inserts
// queued rows in transactions of up to Options.BatchSize rows, so a handler never waits for the disk
// unless the queue is full (then it waits for room: rows are never dropped). The database is in WAL
// journal mode, so other connections and processes read it while it is written. Flush waits for the
// rows queued so far, Close for all of them.
//
// Create one with Open, give it to any number of buses (abxbus.Options.Middlewares), and Close it after
// they are done. Safe for concurrent use. A failed insert is logged and recorded (Err); the rows of
// that transaction are lost, the mirror goes on. Cost: one JSON encoding of the event (or result) and
// one queued row per lifecycle change; the inserts are on the writer goroutine. It implements
// abxbus.EventChangeHook and abxbus.ResultChangeHook.
type Mirror struct {
	path   string
	db     *sql.DB
	logger *slog.Logger
	batch  int

	mu     sync.RWMutex // held for reading while queuing, for writing by Close
	closed bool
	q      chan *row
	done   chan struct{} // closed when the writer has written everything and stopped

	errMu sync.Mutex
	err   error

	// the writer goroutine's own: prepared statements by table and row count, reused buffers
	stmts         map[stmtKey]*sql.Stmt
	evBuf, resBuf []*row
	args          []any
}

// row is one queued insert: into event_results_log when result is set, else into events_log; a row
// with flush set is a marker the writer closes once the rows before it are committed.
type row struct {
	result                                 bool
	eventID, eventType, eventStatus        string
	busID, busName, phase, insertedAt      string
	resultID, handlerID, handlerName, stat string
	json, resultRepr, errorRepr            sql.NullString
	flush                                  chan struct{}
}

const schema = `
CREATE TABLE IF NOT EXISTS events_log (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id TEXT NOT NULL,
	event_type TEXT NOT NULL,
	event_status TEXT NOT NULL,
	eventbus_id TEXT NOT NULL,
	eventbus_name TEXT NOT NULL,
	phase TEXT,
	event_json TEXT,
	inserted_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS event_results_log (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	event_result_id TEXT NOT NULL,
	event_id TEXT NOT NULL,
	handler_id TEXT NOT NULL,
	handler_name TEXT NOT NULL,
	eventbus_id TEXT NOT NULL,
	eventbus_name TEXT NOT NULL,
	event_type TEXT NOT NULL,
	status TEXT NOT NULL,
	phase TEXT,
	result_repr TEXT,
	error_repr TEXT,
	event_result_json TEXT,
	inserted_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_log_event_id ON events_log(event_id);
CREATE INDEX IF NOT EXISTS event_results_log_event_id ON event_results_log(event_id);
`

const (
	insertEvent = `INSERT INTO events_log (event_id, event_type, event_status, eventbus_id, eventbus_name,
	phase, event_json, inserted_at)`
	insertResult = `INSERT INTO event_results_log (event_result_id, event_id, handler_id, handler_name,
	eventbus_id, eventbus_name, event_type, status, phase, result_repr, error_repr, event_result_json,
	inserted_at)`
)

// Open opens (creating it and its parent directories) the SQLite database at path, switches it to WAL
// journal mode, creates the two tables when missing (rows already in them stay) and starts the writer.
// Errors: a negative option, a path with a '?' (the driver reads it as options), or a database that
// cannot be created, opened, put in WAL mode or given the tables (the error names the path).
func Open(path string, opts *Options) (*Mirror, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	switch {
	case o.QueueSize < 0:
		return nil, fmt.Errorf("%w: sqlitemirror %s: negative QueueSize %d", abxbus.ErrInvalidOption, path, o.QueueSize)
	case o.BatchSize < 0:
		return nil, fmt.Errorf("%w: sqlitemirror %s: negative BatchSize %d", abxbus.ErrInvalidOption, path, o.BatchSize)
	case o.BusyTimeout < 0:
		return nil, fmt.Errorf("%w: sqlitemirror %s: negative BusyTimeout %v", abxbus.ErrInvalidOption, path, o.BusyTimeout)
	case path == "" || strings.Contains(path, "?"):
		return nil, fmt.Errorf("%w: sqlitemirror: database path %q is empty or holds a '?'", abxbus.ErrInvalidOption, path)
	}
	if o.QueueSize == 0 {
		o.QueueSize = 8192
	}
	if o.BatchSize == 0 {
		o.BatchSize = 512
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("sqlitemirror %s: create directory: %w", path, err)
	}
	db, err := OpenDB(path, o.BusyTimeout)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1) // one writer connection: the writer goroutine is its only user
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode=WAL").Scan(&mode); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitemirror %s: set WAL journal mode: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		db.Close()
		return nil, fmt.Errorf("sqlitemirror %s: journal mode is %q, not wal", path, mode)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitemirror %s: create tables: %w", path, err)
	}
	m := &Mirror{path: path, db: db, logger: o.Logger, batch: o.BatchSize,
		q: make(chan *row, o.QueueSize), done: make(chan struct{})}
	go m.writer()
	return m, nil
}

// OpenDB opens the SQLite database at path through database/sql with the driver and settings a Mirror
// uses (busy timeout, synchronous=NORMAL, writes take the write lock at BEGIN): for readers of a mirror,
// in this process or another. It does not change the journal mode or create tables. The caller closes
// the returned DB.
func OpenDB(path string, busyTimeout time.Duration) (*sql.DB, error) {
	if path == "" || strings.Contains(path, "?") {
		return nil, fmt.Errorf("%w: sqlitemirror: database path %q is empty or holds a '?'", abxbus.ErrInvalidOption, path)
	}
	dsn := fmt.Sprintf("%s?_pragma=busy_timeout(%d)&_pragma=synchronous(NORMAL)&_txlock=immediate", path, busyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlitemirror %s: open: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlitemirror %s: open: %w", path, err)
	}
	return db, nil
}

// Path returns the database path given to Open.
func (m *Mirror) Path() string { return m.path }

// Err returns the first error the mirror recorded (a failed encoding or insert, a change seen after
// Close), or nil.
func (m *Mirror) Err() error {
	m.errMu.Lock()
	defer m.errMu.Unlock()
	return m.err
}

func (m *Mirror) fail(err error) {
	m.errMu.Lock()
	if m.err == nil {
		m.err = err
	}
	m.errMu.Unlock()
}

// OnEventChange queues an events_log row for the event's phase on b.
func (m *Mirror) OnEventChange(b *abxbus.Bus, e *abxbus.BaseEvent, phase abxbus.EventStatus) {
	r := &row{eventID: e.EventID(), eventType: e.Type(), busID: b.ID().String(), busName: b.Name(),
		phase: string(phase), insertedAt: stamp(time.Now())}
	before := e.Status()
	js, err := e.ToJSON()
	if err != nil {
		m.logger.Error("[abxbus] sqlitemirror: event JSON not stored", "path", m.path, "event", e, "phase", phase, "error", err)
		m.fail(fmt.Errorf("sqlitemirror %s: %s %s: %w", m.path, e, phase, err))
		r.eventStatus = string(before)
		m.enqueue(r)
		return
	}
	r.json = sql.NullString{String: string(js), Valid: true}
	// The status only moves forward: when it is the same before and after the snapshot, it is the
	// snapshot's; otherwise read it from the snapshot.
	r.eventStatus = string(before)
	if after := e.Status(); after != before {
		var st struct {
			Status string `json:"event_status"`
		}
		_ = json.Unmarshal(js, &st) // ToJSON's output is valid JSON
		r.eventStatus = st.Status
	}
	m.enqueue(r)
}

// OnEventResultChange queues an event_results_log row for the result's phase on b.
func (m *Mirror) OnEventResultChange(b *abxbus.Bus, e *abxbus.BaseEvent, res *abxbus.EventResult, phase abxbus.EventStatus) {
	h := res.Handler()
	w := resultJSON{ID: res.ID().String(), EventID: e.EventID(),
		HandlerID: h.ID().String(), HandlerName: h.Name(), FilePath: h.FilePath(),
		RegisteredAt: stamp(h.RegisteredAt()), Pattern: h.Pattern(),
		BusName: b.Name(), BusID: b.ID().String()}
	var val any
	var herr error
	// A consistent snapshot from the accessors: read again when the status moved meanwhile (it only
	// moves forward, at most twice).
	for range 3 {
		st := res.Status()
		w.Status = string(st)
		val, herr = res.Value()
		w.StartedAt, w.CompletedAt = optStamp(res.StartedAt()), optStamp(res.CompletedAt())
		w.Children = w.Children[:0]
		for _, c := range res.Children() {
			w.Children = append(w.Children, c.EventID())
		}
		if res.Status() == st {
			break
		}
	}
	if w.Children == nil {
		w.Children = []string{}
	}
	r := &row{result: true, resultID: w.ID, eventID: w.EventID, handlerID: w.HandlerID, handlerName: w.HandlerName,
		busID: w.BusID, busName: w.BusName, eventType: e.Type(), stat: w.Status, phase: string(phase),
		insertedAt: stamp(time.Now())}
	if herr != nil {
		w.Error = &errorJSON{Type: abxbus.ErrorType(herr), Message: herr.Error()}
		r.errorRepr = sql.NullString{String: w.Error.Type + ": " + w.Error.Message, Valid: true}
	} else if val != nil {
		if !isEvent(val) {
			if raw, err := json.Marshal(val); err == nil {
				w.Result = raw
				r.resultRepr = sql.NullString{String: string(raw), Valid: true}
			} else {
				r.resultRepr = sql.NullString{String: fmt.Sprintf("%v", val), Valid: true}
			}
		}
	}
	if js, err := json.Marshal(w); err != nil {
		m.logger.Error("[abxbus] sqlitemirror: result JSON not stored", "path", m.path, "result", res, "phase", phase, "error", err)
		m.fail(fmt.Errorf("sqlitemirror %s: result %s %s: %w", m.path, w.ID, phase, err))
	} else {
		r.json = sql.NullString{String: string(js), Valid: true}
	}
	m.enqueue(r)
}

type resultJSON struct {
	ID           string          `json:"id"`
	Status       string          `json:"status"`
	EventID      string          `json:"event_id"`
	HandlerID    string          `json:"handler_id"`
	HandlerName  string          `json:"handler_name"`
	FilePath     string          `json:"handler_file_path,omitempty"`
	RegisteredAt string          `json:"handler_registered_at"`
	Pattern      string          `json:"handler_event_pattern"`
	BusName      string          `json:"eventbus_name"`
	BusID        string          `json:"eventbus_id"`
	StartedAt    string          `json:"started_at,omitempty"`
	CompletedAt  string          `json:"completed_at,omitempty"`
	Result       json.RawMessage `json:"result,omitempty"`
	Error        *errorJSON      `json:"error,omitempty"`
	Children     []string        `json:"event_children"`
}

type errorJSON struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// enqueue hands r to the writer, waiting for room when the queue is full; after Close it records
// ErrClosed instead.
func (m *Mirror) enqueue(r *row) {
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		err := fmt.Errorf("%w: %s row of %s (%s) not stored", ErrClosed, r.phase, r.eventID, r.eventType)
		m.logger.Error("[abxbus] sqlitemirror: change after Close", "path", m.path, "error", err)
		m.fail(err)
		return
	}
	m.q <- r
	m.mu.RUnlock()
}

// Flush waits until every row queued before the call is committed, or ctx is done (its error is then
// returned; the rows are still written). After Close it returns ErrClosed at once.
func (m *Mirror) Flush(ctx context.Context) error {
	mark := &row{flush: make(chan struct{})}
	m.mu.RLock()
	if m.closed {
		m.mu.RUnlock()
		return ErrClosed
	}
	select {
	case m.q <- mark:
	case <-ctx.Done():
		m.mu.RUnlock()
		return ctx.Err()
	}
	m.mu.RUnlock()
	select {
	case <-mark.flush:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting rows, waits until the writer has committed every queued row, and closes the
// database. Hooks called after Close record ErrClosed. It returns the first recorded error (see Err)
// or the error closing the database; calling it again returns the same.
func (m *Mirror) Close() error {
	m.mu.Lock()
	if !m.closed {
		m.closed = true
		close(m.q)
		m.mu.Unlock()
		<-m.done
		if err := m.db.Close(); err != nil {
			m.fail(fmt.Errorf("sqlitemirror %s: close: %w", m.path, err))
		}
	} else {
		m.mu.Unlock()
		<-m.done
	}
	return m.Err()
}

// writer inserts queued rows, a transaction per batch, until the queue is closed and empty.
func (m *Mirror) writer() {
	defer close(m.done)
	batch := make([]*row, 0, m.batch)
	for r := range m.q {
		batch = append(batch[:0], r)
	more:
		for len(batch) < m.batch {
			select {
			case r, ok := <-m.q:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		m.write(batch)
		for i, r := range batch {
			if r.flush != nil {
				close(r.flush)
			}
			batch[i] = nil
		}
	}
}

// write inserts the batch in one transaction; a failure is logged and recorded.
func (m *Mirror) write(batch []*row) {
	n := 0
	for _, r := range batch {
		if r.flush == nil {
			n++
		}
	}
	if n == 0 {
		return
	}
	if err := m.insert(batch); err != nil {
		err = fmt.Errorf("sqlitemirror %s: %d rows not stored: %w", m.path, n, err)
		m.logger.Error("[abxbus] sqlitemirror: insert failed", "path", m.path, "rows", n, "error", err)
		m.fail(err)
	}
}

func (m *Mirror) insert(batch []*row) (err error) {
	evs, res := m.evBuf[:0], m.resBuf[:0]
	for _, r := range batch {
		switch {
		case r.flush != nil:
		case r.result:
			res = append(res, r)
		default:
			evs = append(evs, r)
		}
	}
	defer func() {
		clear(evs)
		clear(res)
		m.evBuf, m.resBuf = evs[:0], res[:0]
	}()
	// Prepare outside the transaction: the database has one connection, which the transaction holds.
	for _, p := range []struct {
		results bool
		n       int
	}{{false, len(evs)}, {true, len(res)}} {
		if p.n >= rowsPerInsert {
			if _, err := m.stmt(p.results, rowsPerInsert); err != nil {
				return err
			}
		}
		if p.n%rowsPerInsert != 0 {
			if _, err := m.stmt(p.results, p.n%rowsPerInsert); err != nil {
				return err
			}
		}
	}
	tx, err := m.db.Begin()
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	if err := m.insertRows(tx, false, evs); err != nil {
		return err
	}
	if err := m.insertRows(tx, true, res); err != nil {
		return err
	}
	return tx.Commit()
}

// rowsPerInsert is how many rows one INSERT statement writes (multi-row VALUES): fewer statement
// executions per batch.
const rowsPerInsert = 32

// insertRows inserts rows into one table, rowsPerInsert rows per statement, in order.
func (m *Mirror) insertRows(tx *sql.Tx, results bool, rows []*row) error {
	for len(rows) > 0 {
		n := min(len(rows), rowsPerInsert)
		stmt := m.stmts[stmtKey{results, n}] // prepared by insert
		args := m.args[:0]
		for _, r := range rows[:n] {
			if results {
				args = append(args, r.resultID, r.eventID, r.handlerID, r.handlerName, r.busID, r.busName,
					r.eventType, r.stat, r.phase, r.resultRepr, r.errorRepr, r.json, r.insertedAt)
			} else {
				args = append(args, r.eventID, r.eventType, r.eventStatus, r.busID, r.busName, r.phase, r.json, r.insertedAt)
			}
		}
		_, err := tx.Stmt(stmt).Exec(args...)
		clear(args)
		m.args = args[:0]
		if err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}

// stmt returns the prepared INSERT of n rows into events_log or event_results_log (writer only;
// prepares on the database, so never while a transaction is open).
func (m *Mirror) stmt(results bool, n int) (*sql.Stmt, error) {
	k := stmtKey{results, n}
	if s, ok := m.stmts[k]; ok {
		return s, nil
	}
	head, cols := insertEvent, 8
	if results {
		head, cols = insertResult, 13
	}
	var q strings.Builder
	q.WriteString(head)
	q.WriteString(" VALUES ")
	one := "(" + strings.Repeat("?, ", cols-1) + "?)"
	for i := range n {
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString(one)
	}
	s, err := m.db.Prepare(q.String())
	if err != nil {
		return nil, err
	}
	if m.stmts == nil {
		m.stmts = map[stmtKey]*sql.Stmt{}
	}
	m.stmts[k] = s
	return s, nil
}

type stmtKey struct {
	results bool
	n       int
}

// stamp formats t as abxbus timestamps are written: UTC, nine fractional digits, Z.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

func optStamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return stamp(t)
}

// isEvent reports whether v is an event (a forwarding handler's return), which is stored as no result.
func isEvent(v any) bool {
	switch v.(type) {
	case *abxbus.BaseEvent, interface{ Base() *abxbus.BaseEvent }:
		return true
	}
	return false
}
