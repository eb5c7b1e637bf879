// Package sqlite is the SQLite bridge of abxbus: processes exchange events through one table of a
// shared SQLite database file, in the layout and encoding of the TypeScript SQLiteEventBridge, so a Go
// process and a TypeScript one on the same file read each other's rows. It uses modernc.org/sqlite
// (pure Go, no cgo) and lives in its own module.
//
// # Table
//
// The table (default "abxbus_events") has event_id TEXT PRIMARY KEY, event_payload JSON (the whole
// event JSON) and one TEXT column per event_* key, each holding the JSON text of its value (strings
// with their quotes, NULL for null). Emit upserts one row (ON CONFLICT(event_id) DO UPDATE), as the
// TypeScript bridge does; rows are never deleted. The database runs in WAL mode with a busy timeout,
// so several writer processes wait for each other instead of failing with "database is locked", and
// with synchronous=NORMAL: a committed row survives a crash of the process, but the last commits
// before a power loss or an operating-system crash may be lost (about 4x faster than FULL here). At
// start the bridge creates every column a TypeScript bridge uses, tolerating another process having
// added one meanwhile.
//
// # Reading
//
// A listener polls the table in insertion order (rowid), not by event_created_at as the TypeScript
// listener does, so a row inserted late with an older timestamp is still delivered. Without a
// consumer name it starts at the newest row (as TypeScript does). With Options.Consumer it keeps a
// durable cursor in the same database (table abxbus_consumers): after the handling of each event is
// over the cursor moves past its row, and a listener started again with that name resumes there, so
// it receives every row written while it was down. Delivery is then at least once: a process killed
// between the end of an event's handling and the cursor update receives that event again.
//
// An upsert of an existing event_id changes its row in place and is not delivered again. Rows that do
// not decode to a valid event are skipped with a warning naming the rowid and the reason.
//
// Polling wakes every Options.PollInterval, and at once after an Emit of a bridge in the same
// process on the same file.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inbound"
	"github.com/typedbus/abxbus-go/internal/flatrow"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// DefaultTable is the table of a bridge whose Options.Table is empty, as in TypeScript.
const DefaultTable = "abxbus_events"

// DefaultMaxEventBytes is the largest event JSON a bridge writes unless Options.MaxEventBytes says
// otherwise.
const DefaultMaxEventBytes = 16 << 20

// ConsumersTable holds the cursors of named consumers: (table_name, consumer, last_rowid).
const ConsumersTable = "abxbus_consumers"

// Options configure a Bridge. The zero value (or nil) gives the defaults.
type Options struct {
	// Name is the inbound bus name (default "SQLiteEventBridge"); its label joins event_path.
	Name string
	// Table is the events table (default DefaultTable); it must match [A-Za-z_][A-Za-z0-9_]*.
	Table string
	// Consumer names a durable cursor stored in the database; empty: read from the newest row at
	// Start, keep no cursor. A new consumer starts at the newest row (or the first with FromStart).
	Consumer string
	// FromStart makes a listener without a saved cursor read the table from its first row.
	FromStart bool
	// PollInterval is the wait between two looks at the table (default 20 ms).
	PollInterval time.Duration
	// BusyTimeout is how long a statement waits for another process's write lock (default 5 s).
	BusyTimeout time.Duration
	// MaxEventBytes is the largest event JSON Emit writes (default DefaultMaxEventBytes); a larger
	// one is refused with an error matching bridges.ErrTooLarge.
	MaxEventBytes int
	// DrainTimeout bounds how long Close waits for the events already received to finish on the
	// inbound bus before destroying it, which cancels the handlers still running (default 10 s).
	DrainTimeout time.Duration
	// Registry decodes known event types into their Go payload types (nil: untyped events).
	Registry *abxbus.Registry
	// Logger receives skipped rows and read problems (default slog.Default()).
	Logger *slog.Logger
	// BusOptions are extra options of the inbound bus; its history size is 0.
	BusOptions *abxbus.Options
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Name == "" {
		r.Name = "SQLiteEventBridge"
	}
	if r.Table == "" {
		r.Table = DefaultTable
	}
	if r.PollInterval <= 0 {
		r.PollInterval = 20 * time.Millisecond
	}
	if r.BusyTimeout <= 0 {
		r.BusyTimeout = 5 * time.Second
	}
	if r.MaxEventBytes <= 0 {
		r.MaxEventBytes = DefaultMaxEventBytes
	}
	if r.DrainTimeout <= 0 {
		r.DrainTimeout = 10 * time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	return r
}

// Bridge is one process's end of a SQLite events table. Its methods are safe for concurrent use.
type Bridge struct {
	path string
	opts Options
	bus  *abxbus.Bus
	in   *inbound.Inbound // owns bus and the queue window
	db   *sql.DB
	wake chan struct{}

	schemaMu sync.Mutex
	schemaOK bool
	columns  map[string]bool

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
}

// New opens a bridge on the database file at path (created on first use). It does not touch the file:
// Start, On or Emit do. Errors: an empty path, an invalid table name.
func New(path string, opts *Options) (*Bridge, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: sqlite bridge: empty path", abxbus.ErrInvalidOption)
	}
	o := opts.withDefaults()
	if !flatrow.ValidIdentifier(o.Table) {
		return nil, fmt.Errorf("%w: sqlite bridge: table name %q: use only [A-Za-z0-9_], starting with a letter or _",
			abxbus.ErrInvalidOption, o.Table)
	}
	dsn := fmt.Sprintf("file:%s?_pragma=busy_timeout(%d)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_txlock=immediate",
		path, o.BusyTimeout.Milliseconds())
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite bridge %s: %w", path, err)
	}
	db.SetMaxOpenConns(2)
	in, err := inbound.New(inbound.Options{Name: o.Name, BusOptions: o.BusOptions, Logger: o.Logger, Registry: o.Registry, QueueSize: maxInflight})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite bridge: %w", err)
	}
	br := &Bridge{path: path, opts: o, bus: in.Bus(), in: in, db: db, wake: make(chan struct{}, 1)}
	return br, nil
}

// Bus returns the inbound bus.
func (br *Bridge) Bus() *abxbus.Bus { return br.bus }

// Path returns the database file's path.
func (br *Bridge) Path() string { return br.path }

// Table returns the events table's name.
func (br *Bridge) Table() string { return br.opts.Table }

// Features describes the SQLite bridge: ordered (insertion order), fan-out (every listener reads every
// row), durable and at least once with a Consumer, events of at most MaxEventBytes.
func (br *Bridge) Features() bridges.Features {
	durable := br.opts.Consumer != ""
	return bridges.Features{Ordered: true, Durable: durable, AtLeastOnce: durable, FanOut: true, MaxMessageBytes: br.opts.MaxEventBytes}
}

// On registers fn on the inbound bus for received events of eventType ("*" for all) and starts
// listening.
func (br *Bridge) On(eventType string, fn abxbus.HandlerFunc, opts ...abxbus.HandlerOption) (*abxbus.Handler, error) {
	return br.in.On(eventType, fn, opts, br.Start)
}

// Forward is Emit as a HandlerFunc, for app.OnType("*", br.Forward). It returns no value.
func (br *Bridge) Forward(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
	return nil, br.Emit(ctx, e)
}

func q(id string) string { return `"` + id + `"` }

// ensureSchema creates the table, its columns, indexes and the consumers table once per bridge.
func (br *Bridge) ensureSchema(ctx context.Context) error {
	br.schemaMu.Lock()
	defer br.schemaMu.Unlock()
	if br.schemaOK {
		return nil
	}
	t := q(br.opts.Table)
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS ` + t + ` ("event_id" TEXT PRIMARY KEY, "event_created_at" TEXT, "event_type" TEXT, "event_payload" JSON)`,
	}
	for _, s := range stmts {
		if _, err := br.db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("sqlite bridge %s: %s: %w", br.path, s, err)
		}
	}
	if err := br.refreshColumns(ctx); err != nil {
		return err
	}
	if err := br.addColumns(ctx, flatrow.BaseColumns); err != nil {
		return err
	}
	for _, s := range []string{
		`CREATE INDEX IF NOT EXISTS ` + q(br.opts.Table+"_event_created_at_idx") + ` ON ` + t + ` ("event_created_at")`,
		`CREATE INDEX IF NOT EXISTS ` + q(br.opts.Table+"_event_type_idx") + ` ON ` + t + ` ("event_type")`,
		`CREATE TABLE IF NOT EXISTS ` + q(ConsumersTable) + ` ("table_name" TEXT NOT NULL, "consumer" TEXT NOT NULL, "last_rowid" INTEGER NOT NULL, PRIMARY KEY ("table_name", "consumer"))`,
	} {
		if _, err := br.db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("sqlite bridge %s: %s: %w", br.path, s, err)
		}
	}
	br.schemaOK = true
	return nil
}

func (br *Bridge) refreshColumns(ctx context.Context) error {
	rows, err := br.db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, br.opts.Table)
	if err != nil {
		return fmt.Errorf("sqlite bridge %s: table_info: %w", br.path, err)
	}
	defer rows.Close()
	cols := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return fmt.Errorf("sqlite bridge %s: table_info: %w", br.path, err)
		}
		cols[n] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite bridge %s: table_info: %w", br.path, err)
	}
	br.columns = cols
	return nil
}

// addColumns adds the missing columns of names; a column that another process added since the cache
// was read ("duplicate column name") counts as added. Called with schemaMu held.
func (br *Bridge) addColumns(ctx context.Context, names []string) error {
	for _, n := range names {
		if br.columns[n] {
			continue
		}
		typ := "TEXT"
		if n == flatrow.PayloadColumn {
			typ = "JSON"
		}
		_, err := br.db.ExecContext(ctx, `ALTER TABLE `+q(br.opts.Table)+` ADD COLUMN `+q(n)+` `+typ)
		if err != nil && !strings.Contains(err.Error(), "duplicate column name") {
			return fmt.Errorf("sqlite bridge %s: add column %s: %w", br.path, n, err)
		}
		br.columns[n] = true
	}
	return nil
}

// Emit upserts e, as it is now, into the table as one row (the TypeScript layout), and wakes the
// listeners of this process on the same file. It does not start listening. Errors: the bridge is
// closed (bridges.ErrClosed), the event does not encode, its JSON exceeds MaxEventBytes
// (bridges.ErrTooLarge), an event_* key is not a valid column name, the database fails (also after
// waiting BusyTimeout for another writer).
func (br *Bridge) Emit(ctx context.Context, e *abxbus.BaseEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	br.mu.Lock()
	closed := br.closed
	br.mu.Unlock()
	if closed {
		return fmt.Errorf("sqlite bridge %s: %w", br.path, bridges.ErrClosed)
	}
	data, err := inbound.Encode(e, "sqlite bridge "+br.path, br.opts.MaxEventBytes)
	if err != nil {
		return err
	}
	cols, err := flatrow.Encode(data)
	if err != nil {
		return fmt.Errorf("sqlite bridge %s: %s: %w", br.path, e, err)
	}
	if err := br.ensureSchema(ctx); err != nil {
		return err
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	br.schemaMu.Lock()
	err = br.addColumns(ctx, names)
	br.schemaMu.Unlock()
	if err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString(`INSERT INTO ` + q(br.opts.Table) + ` (`)
	args := make([]any, len(cols))
	for i, c := range cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(q(c.Name))
		if !c.Null {
			args[i] = c.Value
		}
	}
	sb.WriteString(`) VALUES (`)
	for i, c := range cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		if c.Name == flatrow.PayloadColumn {
			sb.WriteString("json(?)")
		} else {
			sb.WriteString("?")
		}
	}
	sb.WriteString(`) ON CONFLICT("event_id") DO UPDATE SET `)
	first := true
	for _, c := range cols {
		if c.Name == "event_id" {
			continue
		}
		if !first {
			sb.WriteString(", ")
		}
		first = false
		sb.WriteString(q(c.Name) + " = excluded." + q(c.Name))
	}
	if _, err := br.db.ExecContext(ctx, sb.String(), args...); err != nil {
		return fmt.Errorf("sqlite bridge %s: insert %s: %w", br.path, e, err)
	}
	wakeLocal(br.path)
	return nil
}

// Start creates the schema if needed and starts polling the table: from the consumer's saved cursor,
// or from the newest row (the first with FromStart). A new consumer's cursor is saved at once, so a
// listener that dies before its first event still resumes there. Rows inserted after Start returns are
// delivered. Calling it again does nothing; after Close it returns an error matching
// bridges.ErrClosed. Errors: the database cannot be opened or its schema created.
func (br *Bridge) Start() error {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.closed {
		return fmt.Errorf("sqlite bridge %s: %w", br.path, bridges.ErrClosed)
	}
	if br.started {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := br.ensureSchema(ctx); err != nil {
		cancel()
		return err
	}
	from, err := br.initialCursor(ctx)
	if err != nil {
		cancel()
		return err
	}
	unreg := registerLocal(br.path, br.wake)
	br.started, br.cancel, br.done = true, cancel, make(chan struct{})
	go func() {
		defer close(br.done)
		defer unreg()
		br.poll(ctx, from)
	}()
	return nil
}

func (br *Bridge) initialCursor(ctx context.Context) (int64, error) {
	if br.opts.Consumer != "" {
		var last int64
		err := br.db.QueryRowContext(ctx, `SELECT last_rowid FROM `+q(ConsumersTable)+` WHERE table_name = ? AND consumer = ?`,
			br.opts.Table, br.opts.Consumer).Scan(&last)
		if err == nil {
			return last, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("sqlite bridge %s: read cursor of %q: %w", br.path, br.opts.Consumer, err)
		}
	}
	var last int64
	if !br.opts.FromStart {
		if err := br.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(rowid), 0) FROM `+q(br.opts.Table)).Scan(&last); err != nil {
			return 0, fmt.Errorf("sqlite bridge %s: newest row: %w", br.path, err)
		}
	}
	if br.opts.Consumer != "" {
		if err := br.saveCursor(ctx, last); err != nil {
			return 0, err
		}
	}
	return last, nil
}

func (br *Bridge) saveCursor(ctx context.Context, rowid int64) error {
	_, err := br.db.ExecContext(ctx, `INSERT INTO `+q(ConsumersTable)+` (table_name, consumer, last_rowid) VALUES (?, ?, ?)
		ON CONFLICT (table_name, consumer) DO UPDATE SET last_rowid = excluded.last_rowid`, br.opts.Table, br.opts.Consumer, rowid)
	if err != nil {
		return fmt.Errorf("sqlite bridge %s: save cursor of %q: %w", br.path, br.opts.Consumer, err)
	}
	return nil
}

const batchRows = 256

// poll reads the rows after the cursor in rowid order until ctx ends.
func (br *Bridge) poll(ctx context.Context, cursor int64) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-br.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		}
		for ctx.Err() == nil {
			n, next, err := br.readBatch(ctx, cursor)
			cursor = next // past the rows delivered before an error too: they are not delivered again
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				if !failing {
					br.opts.Logger.Error("[abxbus] sqlite bridge: read problem (retrying)", "path", br.path, "table", br.opts.Table, "error", err)
				}
				failing = true
				break
			}
			failing = false
			if n < batchRows {
				break
			}
		}
		timer.Reset(br.opts.PollInterval)
	}
}

// readBatch reads up to batchRows rows after cursor and delivers them; it returns how many rows it
// read and the new cursor (the rowid of the last row handled).
func (br *Bridge) readBatch(ctx context.Context, cursor int64) (int, int64, error) {
	rows, err := br.db.QueryContext(ctx, `SELECT rowid, * FROM `+q(br.opts.Table)+` WHERE rowid > ? ORDER BY rowid LIMIT ?`, cursor, batchRows)
	if err != nil {
		return 0, cursor, err
	}
	type row struct {
		id   int64
		cols []flatrow.Column
	}
	var batch []row
	names, err := rows.Columns()
	if err != nil {
		rows.Close()
		return 0, cursor, err
	}
	for rows.Next() {
		vals := make([]sql.NullString, len(names))
		ptrs := make([]any, len(names))
		var id int64
		ptrs[0] = &id
		for i := 1; i < len(names); i++ {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return 0, cursor, err
		}
		cols := make([]flatrow.Column, 0, len(names)-1)
		for i := 1; i < len(names); i++ {
			cols = append(cols, flatrow.Column{Name: names[i], Value: vals[i].String, Null: !vals[i].Valid})
		}
		batch = append(batch, row{id, cols})
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, cursor, err
	}
	for _, r := range batch {
		if err := br.deliver(ctx, r.id, r.cols); err != nil {
			return 0, cursor, err
		}
		cursor = r.id
	}
	return len(batch), cursor, nil
}

const maxInflight = 1024

// deliver decodes one row, resets the event and emits it on the inbound bus. With a consumer it waits
// until the event completed and saves the cursor past the row; without one, at most maxInflight events
// are queued. A row that does not decode, or that the inbound bus refuses, is logged and skipped (its
// position saved). An error means ctx ended or the cursor could not be saved: the row is read again.
func (br *Bridge) deliver(ctx context.Context, rowid int64, cols []flatrow.Column) error {
	skip := inbound.RowSkipper(br.opts.Logger, "sqlite bridge", "path", br.path, "table", br.opts.Table, "rowid", rowid)
	return br.in.DeliverRow(ctx, cols, br.opts.Consumer != "", skip, func(ctx context.Context) error { return br.handled(ctx, rowid) })
}

func (br *Bridge) handled(ctx context.Context, rowid int64) error {
	if br.opts.Consumer == "" {
		return nil
	}
	return br.saveCursor(ctx, rowid)
}

// Close stops polling, waits for the poller, lets the events already received finish on the inbound
// bus (at most Options.DrainTimeout; then the handlers still running are cancelled), destroys the bus
// and closes the database. With a Consumer, the cursor is past every event that completed before the
// poller stopped; one still being handled then is received again by the next listener with that name.
// It is safe to call more than once.
func (br *Bridge) Close() error {
	br.mu.Lock()
	if br.closed {
		br.mu.Unlock()
		return nil
	}
	br.closed = true
	cancel, done := br.cancel, br.done
	br.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	// Events already received finish (at most DrainTimeout) before Destroy cancels what still runs.
	br.in.Close(br.opts.DrainTimeout, nil)
	return br.db.Close()
}

// The in-process wake-ups: Emit on a file wakes the pollers of the same file in this process.
var (
	localMu sync.Mutex
	local   = map[string]map[chan struct{}]struct{}{}
)

func localKey(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

func registerLocal(path string, ch chan struct{}) func() {
	k := localKey(path)
	localMu.Lock()
	if local[k] == nil {
		local[k] = map[chan struct{}]struct{}{}
	}
	local[k][ch] = struct{}{}
	localMu.Unlock()
	return func() {
		localMu.Lock()
		delete(local[k], ch)
		if len(local[k]) == 0 {
			delete(local, k)
		}
		localMu.Unlock()
	}
}

func wakeLocal(path string) {
	k := localKey(path)
	localMu.Lock()
	for ch := range local[k] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	localMu.Unlock()
}

var _ bridges.Bridge = (*Bridge)(nil)
