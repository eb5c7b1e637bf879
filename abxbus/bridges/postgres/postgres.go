// Package postgres is the PostgreSQL bridge of abxbus: processes exchange events through one table and
// a NOTIFY channel, in the table layout, upsert and notification of the TypeScript
// PostgresEventBridge, so Go and TypeScript processes on the same table and channel see each other's
// events. It uses github.com/jackc/pgx/v5 and lives in its own module.
//
// # Table and channel
//
// The table (default "abxbus_events") has event_id TEXT PRIMARY KEY, event_payload TEXT (the whole
// event JSON) and one TEXT column per event_* key holding the JSON text of its value (strings with
// their quotes, NULL for null). Emit upserts the row (ON CONFLICT ("event_id") DO UPDATE) and sends
// pg_notify(channel, the JSON-quoted event id) in the same transaction, as TypeScript listeners
// expect. The bridge adds one column of its own, abxbus_seq BIGSERIAL, which orders the rows for the
// Go listener's cursor; TypeScript ignores it. Channel names must be lower case: TypeScript LISTENs on
// the unquoted name, which Postgres folds to lower case, so a mixed-case channel would never be heard.
//
// # Reading
//
// A listener LISTENs on the channel and, on each notification (and every PollInterval), reads the
// rows after its cursor in abxbus_seq order. Without a consumer name it starts at the newest row; with
// Options.Consumer the cursor is kept in the table abxbus_consumers and moves past each row once the
// event's handling is over, so a restarted listener receives every row written while it was down
// (at least once: a process killed between the end of a handler and the cursor update receives that
// event again). When the connection breaks (a server restart) the listener reconnects with backoff
// and catches up from its cursor.
//
// Go emitters serialise their inserts with a transaction-level advisory lock, so among themselves rows
// become visible in abxbus_seq order and the cursor never passes a row still being written.
// TypeScript emitters take no lock, so a Go listener can skip a row when a TypeScript emitter writes
// while any other emitter (Go or TypeScript, another process or bridge) writes the same table: if the
// TypeScript insert has taken abxbus_seq n and not yet committed when the other emitter commits n+1,
// a listener that reads n+1 moves its cursor past n, and row n is never delivered to Go listeners
// (TypeScript listeners still receive it on its NOTIFY). With a single emitting TypeScript bridge
// (one connection, its upserts one after another) and no other emitter on the table, or with Go
// emitters only, no row is skipped. An upsert of an existing event_id is not delivered again to Go
// listeners (TypeScript listeners re-read it on its NOTIFY).
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inbound"
	"github.com/typedbus/abxbus-go/internal/flatrow"
)

// DefaultTable and DefaultChannel are the table and channel of a bridge that names none, as in
// TypeScript.
const (
	DefaultTable   = "abxbus_events"
	DefaultChannel = "abxbus_events"
)

// DefaultMaxEventBytes is the largest event JSON a bridge writes unless Options.MaxEventBytes says
// otherwise.
const DefaultMaxEventBytes = 16 << 20

// ConsumersTable holds the cursors of named consumers: (table_name, consumer, last_seq).
const ConsumersTable = "abxbus_consumers"

// SeqColumn is the bridge's own ordering column in the events table.
const SeqColumn = "abxbus_seq"

// Options configure a Bridge. The zero value (or nil) gives the defaults.
type Options struct {
	// Name is the inbound bus name (default "PostgresEventBridge"); its label joins event_path.
	Name string
	// Table is the events table (default DefaultTable); [A-Za-z_][A-Za-z0-9_]*.
	Table string
	// Channel is the NOTIFY channel (default DefaultChannel); [a-z_][a-z0-9_]*, at most 63 bytes.
	Channel string
	// Consumer names a durable cursor stored in the database; empty: read from the newest row at
	// Start, keep no cursor. A new consumer starts at the newest row (the first with FromStart).
	Consumer string
	// FromStart makes a listener without a saved cursor read the table from its first row.
	FromStart bool
	// PollInterval is how often a listener reads the table without a notification (rows written by
	// writers that do not notify; default 1 s).
	PollInterval time.Duration
	// RetryFor is how long Emit retries an insert that failed for a lost connection (a server
	// restart), with backoff, before it returns the error (default 15 s; bounded by ctx too).
	RetryFor time.Duration
	// MaxEventBytes is the largest event JSON Emit writes (default DefaultMaxEventBytes).
	MaxEventBytes int
	// DrainTimeout bounds how long Close waits for the events already received to finish on the
	// inbound bus before destroying it, which cancels the handlers still running (default 10 s).
	DrainTimeout time.Duration
	// Registry decodes known event types into their Go payload types (nil: untyped events).
	Registry *abxbus.Registry
	// Logger receives skipped rows, connection losses and reconnects (default slog.Default()).
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
		r.Name = "PostgresEventBridge"
	}
	if r.Table == "" {
		r.Table = DefaultTable
	}
	if r.Channel == "" {
		r.Channel = DefaultChannel
	}
	if r.PollInterval <= 0 {
		r.PollInterval = time.Second
	}
	if r.RetryFor <= 0 {
		r.RetryFor = 15 * time.Second
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

// CheckChannel returns an error when channel is not a name that both Go and TypeScript peers can use:
// lower case letters, digits and _, not starting with a digit, at most 63 bytes.
func CheckChannel(channel string) error {
	if !flatrow.ValidIdentifier(channel) || len(channel) > 63 {
		return fmt.Errorf("%w: postgres bridge: channel %q: use only [a-z0-9_], starting with a letter or _, at most 63 bytes",
			abxbus.ErrInvalidOption, channel)
	}
	if strings.ToLower(channel) != channel {
		return fmt.Errorf("%w: postgres bridge: channel %q has upper-case letters: Postgres folds an unquoted LISTEN name to lower case, so TypeScript listeners would never hear it; use %q",
			abxbus.ErrInvalidOption, channel, strings.ToLower(channel))
	}
	return nil
}

// Bridge is one process's end of a Postgres events table and channel. Its methods are safe for
// concurrent use.
type Bridge struct {
	dsn  string
	opts Options
	bus  *abxbus.Bus
	in   *inbound.Inbound // owns bus and the queue window
	pool *pgxpool.Pool

	schemaMu sync.Mutex
	schemaOK bool
	columns  map[string]bool

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc // ends the listener and in-flight emits
	ctx     context.Context
	done    chan struct{}
}

// New creates a bridge on the database that dsn names (a postgres:// URL or a key=value string that
// pgx accepts). It does not connect: Start, On or Emit do. Errors: the dsn does not parse, the table
// or channel name is invalid.
func New(dsn string, opts *Options) (*Bridge, error) {
	o := opts.withDefaults()
	if !flatrow.ValidIdentifier(o.Table) || len(o.Table) > 63 {
		return nil, fmt.Errorf("%w: postgres bridge: table name %q: use only [A-Za-z0-9_], starting with a letter or _",
			abxbus.ErrInvalidOption, o.Table)
	}
	if err := CheckChannel(o.Channel); err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: postgres bridge: %v", abxbus.ErrInvalidOption, err)
	}
	cfg.MaxConns = 4
	ctx, cancel := context.WithCancel(context.Background())
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("postgres bridge: %w", err)
	}
	in, err := inbound.New(inbound.Options{Name: o.Name, BusOptions: o.BusOptions, Logger: o.Logger, Registry: o.Registry, QueueSize: maxInflight})
	if err != nil {
		cancel()
		pool.Close()
		return nil, fmt.Errorf("postgres bridge: %w", err)
	}
	return &Bridge{dsn: dsn, opts: o, bus: in.Bus(), in: in, pool: pool, ctx: ctx, cancel: cancel}, nil
}

// Bus returns the inbound bus.
func (br *Bridge) Bus() *abxbus.Bus { return br.bus }

// Table returns the events table's name; Channel the NOTIFY channel's.
func (br *Bridge) Table() string { return br.opts.Table }

// Channel returns the NOTIFY channel's name.
func (br *Bridge) Channel() string { return br.opts.Channel }

// Features describes the Postgres bridge: ordered (sequence order), fan-out, durable and at least once
// with a Consumer, events of at most MaxEventBytes.
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

func indexName(table, suffix string) string {
	n := table + "_" + suffix
	if len(n) > 63 {
		n = n[:63]
	}
	return n
}

// lockKey is the advisory lock of the table's writers.
func (br *Bridge) lockKey() string { return "abxbus:" + br.opts.Table }

// ensureSchema creates the table, its columns, indexes, the sequence column and the consumers table,
// once per bridge, under the table's advisory lock (concurrent DDL of two processes would conflict).
func (br *Bridge) ensureSchema(ctx context.Context) error {
	br.schemaMu.Lock()
	defer br.schemaMu.Unlock()
	if br.schemaOK {
		return nil
	}
	t := q(br.opts.Table)
	err := pgx.BeginFunc(ctx, br.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, br.lockKey()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+t+` ("event_id" TEXT PRIMARY KEY, "event_created_at" TEXT, "event_type" TEXT, "event_payload" TEXT)`); err != nil {
			return err
		}
		for _, c := range flatrow.BaseColumns {
			if _, err := tx.Exec(ctx, `ALTER TABLE `+t+` ADD COLUMN IF NOT EXISTS `+q(c)+` TEXT`); err != nil {
				return err
			}
		}
		for _, s := range []string{
			`CREATE INDEX IF NOT EXISTS ` + q(indexName(br.opts.Table, "event_created_at_idx")) + ` ON ` + t + ` ("event_created_at")`,
			`CREATE INDEX IF NOT EXISTS ` + q(indexName(br.opts.Table, "event_type_idx")) + ` ON ` + t + ` ("event_type")`,
			`ALTER TABLE ` + t + ` ADD COLUMN IF NOT EXISTS ` + q(SeqColumn) + ` BIGSERIAL`,
			`CREATE INDEX IF NOT EXISTS ` + q(indexName(br.opts.Table, SeqColumn+"_idx")) + ` ON ` + t + ` (` + q(SeqColumn) + `)`,
			`CREATE TABLE IF NOT EXISTS ` + q(ConsumersTable) + ` ("table_name" TEXT NOT NULL, "consumer" TEXT NOT NULL, "last_seq" BIGINT NOT NULL, PRIMARY KEY ("table_name", "consumer"))`,
		} {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres bridge: create the schema of %s: %w", br.opts.Table, err)
	}
	rows, err := br.pool.Query(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1`, br.opts.Table)
	if err != nil {
		return fmt.Errorf("postgres bridge: columns of %s: %w", br.opts.Table, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("postgres bridge: columns of %s: %w", br.opts.Table, err)
	}
	br.columns = map[string]bool{}
	for _, n := range names {
		br.columns[n] = true
	}
	br.schemaOK = true
	return nil
}

// retryable reports whether err is a lost or refused connection (worth retrying once the server is
// back), not a statement the server refused.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57")
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// Emit upserts e, as it is now, as one row (the TypeScript layout) and notifies the channel with the
// JSON-quoted event id, in one transaction. A lost connection (a server restart) is retried with
// backoff for up to Options.RetryFor; the upsert by event_id makes a retry idempotent. It does not
// start listening. Errors: the bridge is closed (bridges.ErrClosed), the event does not encode, its
// JSON exceeds MaxEventBytes (bridges.ErrTooLarge), an event_* key is not a valid column name, the
// database refused the statement or stayed unreachable.
func (br *Bridge) Emit(ctx context.Context, e *abxbus.BaseEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	br.mu.Lock()
	closed := br.closed
	br.mu.Unlock()
	if closed {
		return fmt.Errorf("postgres bridge %s: %w", br.opts.Table, bridges.ErrClosed)
	}
	data, err := e.ToJSON()
	if err != nil {
		return fmt.Errorf("postgres bridge: %w", err)
	}
	if len(data) > br.opts.MaxEventBytes {
		return bridges.TooLarge("postgres bridge "+br.opts.Table, e, len(data), br.opts.MaxEventBytes)
	}
	cols, err := flatrow.Encode(data)
	if err != nil {
		return fmt.Errorf("postgres bridge: %s: %w", e, err)
	}
	var id string
	for _, c := range cols {
		if c.Name == "event_id" && !c.Null {
			id = c.Value
		}
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	unlink := context.AfterFunc(br.ctx, stop) // Close ends a retrying Emit
	defer unlink()
	deadline := time.Now().Add(br.opts.RetryFor)
	backoff := 50 * time.Millisecond
	for {
		err = br.insert(ctx, cols, id)
		if err == nil {
			return nil
		}
		if br.ctx.Err() != nil {
			return fmt.Errorf("postgres bridge %s: %w (while emitting %s: %v)", br.opts.Table, bridges.ErrClosed, e, err)
		}
		if !retryable(err) || time.Now().Add(backoff).After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("postgres bridge: emit %s: %w", e, err)
		}
		br.opts.Logger.Warn("[abxbus] postgres bridge: emit failed, retrying", "table", br.opts.Table, "event", e.String(), "error", err, "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

func (br *Bridge) insert(ctx context.Context, cols []flatrow.Column, id string) error {
	if err := br.ensureSchema(ctx); err != nil {
		return err
	}
	var missing []string
	br.schemaMu.Lock()
	for _, c := range cols {
		if !br.columns[c.Name] {
			missing = append(missing, c.Name)
		}
	}
	br.schemaMu.Unlock()
	t := q(br.opts.Table)
	var sb strings.Builder
	sb.WriteString(`INSERT INTO ` + t + ` (`)
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
	for i := range cols {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "$%d", i+1)
	}
	sb.WriteString(`) ON CONFLICT ("event_id") DO UPDATE SET `)
	first := true
	for _, c := range cols {
		if c.Name == "event_id" {
			continue
		}
		if !first {
			sb.WriteString(", ")
		}
		first = false
		sb.WriteString(q(c.Name) + " = EXCLUDED." + q(c.Name))
	}
	err := pgx.BeginFunc(ctx, br.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, br.lockKey()); err != nil {
			return err
		}
		for _, n := range missing {
			if _, err := tx.Exec(ctx, `ALTER TABLE `+t+` ADD COLUMN IF NOT EXISTS `+q(n)+` TEXT`); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, br.opts.Channel, id)
		return err
	})
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		br.schemaMu.Lock()
		for _, n := range missing {
			br.columns[n] = true
		}
		br.schemaMu.Unlock()
	}
	return nil
}

// Start creates the schema if needed, takes the consumer's cursor (a new consumer's is saved at once
// at the newest row, or the first with FromStart) and starts listening. Rows written after Start
// returns are delivered. Calling it again does nothing; after Close it returns an error matching
// bridges.ErrClosed. Errors: the database is unreachable or refuses the schema.
func (br *Bridge) Start() error {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.closed {
		return fmt.Errorf("postgres bridge %s: %w", br.opts.Table, bridges.ErrClosed)
	}
	if br.started {
		return nil
	}
	if err := br.ensureSchema(br.ctx); err != nil {
		return err
	}
	l := &listener{br: br}
	conn, err := l.connect(br.ctx)
	if err != nil {
		return err
	}
	from, err := br.initialCursor(br.ctx)
	if err != nil {
		conn.Close(context.Background())
		return err
	}
	l.cursor = from
	br.started, br.done = true, make(chan struct{})
	go func() {
		defer close(br.done)
		l.run(br.ctx, conn)
	}()
	return nil
}

func (br *Bridge) initialCursor(ctx context.Context) (int64, error) {
	if br.opts.Consumer != "" {
		var last int64
		err := br.pool.QueryRow(ctx, `SELECT last_seq FROM `+q(ConsumersTable)+` WHERE table_name = $1 AND consumer = $2`,
			br.opts.Table, br.opts.Consumer).Scan(&last)
		if err == nil {
			return last, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("postgres bridge: read the cursor of %q: %w", br.opts.Consumer, err)
		}
	}
	var last int64
	if !br.opts.FromStart {
		if err := br.pool.QueryRow(ctx, `SELECT COALESCE(MAX(`+q(SeqColumn)+`), 0) FROM `+q(br.opts.Table)).Scan(&last); err != nil {
			return 0, fmt.Errorf("postgres bridge: newest row of %s: %w", br.opts.Table, err)
		}
	}
	if br.opts.Consumer != "" {
		if err := br.saveCursor(ctx, last); err != nil {
			return 0, err
		}
	}
	return last, nil
}

func (br *Bridge) saveCursor(ctx context.Context, seq int64) error {
	_, err := br.pool.Exec(ctx, `INSERT INTO `+q(ConsumersTable)+` (table_name, consumer, last_seq) VALUES ($1, $2, $3)
		ON CONFLICT (table_name, consumer) DO UPDATE SET last_seq = EXCLUDED.last_seq`, br.opts.Table, br.opts.Consumer, seq)
	if err != nil {
		return fmt.Errorf("postgres bridge: save the cursor of %q: %w", br.opts.Consumer, err)
	}
	return nil
}

// Close stops listening, waits for the listener, lets the events already received finish on the
// inbound bus (at most Options.DrainTimeout; then the handlers still running are cancelled), destroys
// the bus and closes the connections; an Emit retrying a lost connection returns. With a Consumer, the
// cursor is past every event that completed before the listener stopped; one still being handled then
// is received again by the next listener with that name. Safe to call more than once.
func (br *Bridge) Close() error {
	br.mu.Lock()
	if br.closed {
		br.mu.Unlock()
		return nil
	}
	br.closed = true
	done := br.done
	br.mu.Unlock()
	br.cancel()
	if done != nil {
		<-done
	}
	// Events already received finish (at most DrainTimeout) before Destroy cancels what still runs.
	br.in.Close(br.opts.DrainTimeout, nil)
	br.pool.Close()
	return nil
}

// listener is the reading side: one dedicated connection that LISTENs and reads.
type listener struct {
	br     *Bridge
	cursor int64
}

func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, l.br.dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres bridge: connect: %w", err)
	}
	if _, err := conn.Exec(ctx, `LISTEN `+q(l.br.opts.Channel)); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("postgres bridge: LISTEN %s: %w", l.br.opts.Channel, err)
	}
	return conn, nil
}

// run reads and waits for notifications until ctx ends; on a broken connection it reconnects with
// backoff and catches up from the cursor.
func (l *listener) run(ctx context.Context, conn *pgx.Conn) {
	log := l.br.opts.Logger
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		if conn == nil {
			c, err := l.connect(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				log.Warn("[abxbus] postgres bridge: reconnect failed", "table", l.br.opts.Table, "error", err, "retry_in", backoff)
				sleep(ctx, backoff)
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
			log.Info("[abxbus] postgres bridge: reconnected; catching up", "table", l.br.opts.Table, "cursor", l.cursor)
			conn, backoff = c, 50*time.Millisecond
		}
		err := l.drain(ctx, conn)
		if err == nil {
			wctx, cancel := context.WithTimeout(ctx, l.br.opts.PollInterval)
			_, err = conn.WaitForNotification(wctx)
			cancel()
			if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				err = nil // the periodic read
			}
		}
		if err != nil && ctx.Err() == nil {
			log.Warn("[abxbus] postgres bridge: connection lost; reconnecting", "table", l.br.opts.Table, "error", err)
			conn.Close(context.Background())
			conn = nil
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

const batchRows = 256

// drain reads and delivers the rows after the cursor until none is left.
func (l *listener) drain(ctx context.Context, conn *pgx.Conn) error {
	for {
		n, err := l.readBatch(ctx, conn)
		if err != nil || n < batchRows {
			return err
		}
	}
}

func (l *listener) readBatch(ctx context.Context, conn *pgx.Conn) (int, error) {
	rows, err := conn.Query(ctx, `SELECT `+q(SeqColumn)+`::text AS abxbus_seq_text, * FROM `+q(l.br.opts.Table)+
		` WHERE `+q(SeqColumn)+` > $1 ORDER BY `+q(SeqColumn)+` LIMIT $2`, l.cursor, batchRows)
	if err != nil {
		return 0, err
	}
	type row struct {
		seq  int64
		cols []flatrow.Column
	}
	var batch []row
	fields := rows.FieldDescriptions()
	for rows.Next() {
		raw := rows.RawValues()
		seq, err := strconv.ParseInt(string(raw[0]), 10, 64)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("postgres bridge: %s %q: %w", SeqColumn, raw[0], err)
		}
		r := row{seq: seq, cols: make([]flatrow.Column, 0, len(fields))}
		for i := 1; i < len(fields); i++ {
			name := fields[i].Name
			if name == SeqColumn {
				continue
			}
			if raw[i] == nil {
				r.cols = append(r.cols, flatrow.Column{Name: name, Null: true})
			} else {
				r.cols = append(r.cols, flatrow.Column{Name: name, Value: string(raw[i])})
			}
		}
		batch = append(batch, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, r := range batch {
		if err := l.deliver(ctx, r.seq, r.cols); err != nil {
			return 0, err
		}
		l.cursor = r.seq
	}
	return len(batch), nil
}

const maxInflight = 1024

// deliver decodes one row, resets the event and emits it on the inbound bus; with a consumer it waits
// for the event to complete and saves the cursor past the row. A row that does not decode, or that the
// inbound bus refuses, is logged and skipped.
func (l *listener) deliver(ctx context.Context, seq int64, cols []flatrow.Column) error {
	br := l.br
	// A row the inbound bus refuses for good (a binding conflict, a full history) is skipped too:
	// retrying would refuse it again, and the listener would take the error for a lost connection.
	skip := inbound.RowSkipper(br.opts.Logger, "postgres bridge", "table", br.opts.Table, SeqColumn, seq)
	return br.in.DeliverRow(ctx, cols, br.opts.Consumer != "", skip, func(ctx context.Context) error { return l.handled(ctx, seq) })
}

func (l *listener) handled(ctx context.Context, seq int64) error {
	if l.br.opts.Consumer == "" {
		return nil
	}
	return l.br.saveCursor(ctx, seq)
}

// parseAddress splits a bridge address, postgres://user:pass@host:port/db[/table]?channel=...&...,
// into the DSN (the path cut to /db, the bridge's own options removed) and the options.
func parseAddress(u *url.URL) (string, Options, error) {
	var o Options
	segs := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	if len(segs) > 2 {
		return "", o, fmt.Errorf("%w: postgres address: path %q: want /database[/table]", abxbus.ErrInvalidOption, u.Path)
	}
	if len(segs) == 2 {
		o.Table = segs[1]
	}
	d := *u
	d.Path = ""
	if len(segs) > 0 {
		d.Path = "/" + segs[0]
	}
	d.RawPath = ""
	qv := u.Query()
	for _, k := range []string{"table", "channel", "consumer", "from_start", "poll", "retry_for", "max_event_bytes"} {
		if !qv.Has(k) {
			continue
		}
		v := qv.Get(k)
		var err error
		switch k {
		case "table":
			o.Table = v
		case "channel":
			o.Channel = v
		case "consumer":
			o.Consumer = v
		case "from_start":
			o.FromStart, err = parseBool(v)
		case "poll":
			o.PollInterval, err = time.ParseDuration(v)
		case "retry_for":
			o.RetryFor, err = time.ParseDuration(v)
		case "max_event_bytes":
			err = json.Unmarshal([]byte(v), &o.MaxEventBytes)
		}
		if err != nil {
			return "", o, fmt.Errorf("%w: postgres address: option %s=%q: %v", abxbus.ErrInvalidOption, k, v, err)
		}
		qv.Del(k)
	}
	d.RawQuery = qv.Encode()
	d.Scheme = "postgres"
	return d.String(), o, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "true", "yes":
		return true, nil
	case "0", "false", "no", "":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean")
}

var _ bridges.Bridge = (*Bridge)(nil)
