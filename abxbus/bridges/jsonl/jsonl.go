// Package jsonl is the JSONL file bridge of abxbus: processes exchange events by appending one
// event JSON object per line to a shared file and following it. The line format is the abxbus event
// JSON, so a Go process and a TypeScript or Python JSONLEventBridge on the same file see each other's
// events.
//
// Writing appends one line with a single write on a file opened with O_APPEND. Every received event is
// reset (a fresh id and pending state) and emitted on the bridge's own inbound bus (history 0,
// bus-serial), whose handlers therefore see the file's events in file order. Loops between buses are
// stopped by event_path, as upstream.
//
// # Reading
//
// Reading follows the file from its end at Start (earlier lines are not replayed, as upstream), or
// from a saved position with a cursor file (Options.Cursor), which makes a restarted reader receive
// the events written while it was down. The follower keeps the file open and recognises it by identity
// (device and inode):
//
//   - Rotation (the file renamed away and a new one created at the path, logrotate's default): the
//     old file is read to its end, then the new one from its start. A writer that keeps the old file
//     open and appends to it after the reader switched is not read (abxbus writers, TS and Python open
//     the path for each line), nor is a file that was both created and rotated away between two looks
//     (two rotations within one PollInterval). A file removed from the path stays open (its space is
//     not freed) until a new file appears there.
//   - Truncation: the file shrinking below the read position, or the bytes just before the read
//     position changing (truncated and regrown between two looks), restarts reading at 0. Not
//     detected: a file truncated and rewritten between two looks to at least the old size with the
//     same 4 KiB before the old read position (in practice, the same content).
//   - Copy-and-truncate rotation (logrotate copytruncate) loses what was appended between the copy
//     and the truncation, for every reader; prefer the default rename rotation.
//
// Lines are refused with a reason, logged with their byte offset (and passed to Options.OnError as a
// *LineError), and never stop the reader: lines that are not JSON or not valid events, lines longer
// than Options.MaxLineBytes (skipped without being buffered), and the torn start of a line a writer
// left without its newline; a complete line that follows torn bytes on the same physical line is found
// and delivered. Problems reading the file (it became a directory, permissions) are reported once as a
// *ReadError and retried at every poll.
//
// At most Options.QueueSize received events are queued or running on the inbound bus; beyond that the
// follower waits, so a large backlog costs memory for QueueSize events and one line, not for the file.
//
// Following uses a poll with an adaptive interval: MinPoll right after data arrived, doubling to
// PollInterval while the file is quiet, and an immediate read after a local Emit. An idle bridge wakes
// once per PollInterval and makes two stat calls.
package jsonl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inbound"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inflight"
)

// Options configure a Bridge (and Follow, which uses the reading options). The zero value (or nil)
// gives the defaults.
type Options struct {
	// Name is the inbound bus name (default "JSONLEventBridge"); its label joins event_path.
	Name string
	// PollInterval is the longest wait between two looks at a quiet file (default 50 ms).
	PollInterval time.Duration
	// MinPoll is the wait right after data arrived (default 1 ms, at most PollInterval).
	MinPoll time.Duration
	// Registry decodes known event types into their Go payload types (nil: untyped events).
	Registry *abxbus.Registry
	// Logger receives every refused line and every read problem, and notes rotations and truncations
	// (default slog.Default()).
	Logger *slog.Logger
	// OnError, when set, is also called with every refused line (a *LineError) and every read problem
	// (a *ReadError), from the follower's goroutine, one call at a time. Following waits for it to
	// return, so it must not block for long.
	OnError func(err error)
	// BusOptions are extra options of the inbound bus (timeouts, lock domain); its history size is 0.
	BusOptions *abxbus.Options
	// MaxLineBytes is the longest line accepted, newline not counted (default DefaultMaxLineBytes,
	// 4 MiB). A longer line is skipped without being buffered and reported with ErrLineTooLong, so a
	// follower holds at most this much of a line in memory.
	MaxLineBytes int
	// QueueSize is how many received events may be queued or running on the inbound bus at once
	// (default DefaultQueueSize); when that many are, the follower stops reading until the oldest one
	// completes, so a large backlog is read as fast as it is handled rather than into memory. With a
	// Cursor, events are handed over one at a time whatever QueueSize says.
	QueueSize int
	// FromStart starts reading at the beginning of the file instead of its current end, when there is
	// no saved cursor position.
	FromStart bool
	// Cursor is the path of a cursor file, which makes reading durable across restarts. After the
	// local handling of each line is over (for a Bridge: the event completed on every bus it reached,
	// for Follow: the callback returned nil), the position after that line is saved there; a reader
	// started again with the same Cursor resumes at that position, so it receives every event written
	// while it was not running, and no earlier one.
	//
	// Delivery is at least once: a process that dies between the end of an event's handling and the
	// save receives that event again after its restart, so at most one event per crash arrives twice
	// (the next event is emitted only once the previous save is done). Handlers that must not act
	// twice can dedupe on the event's event_created_at and payload (the received event_id is fresh).
	//
	// The cursor holds the file's identity (device and inode), the offset and a hash of the bytes
	// before it. If the file was rotated while the reader was down, the old file is looked for by
	// identity in the same directory and read to its end first; if it is gone, or the file was
	// truncated or rewritten, the file is read from its start. A cursor file that cannot be parsed is
	// reported and the file is read from its start.
	//
	// The cursor file is created atomically (a temporary file, then a rename) and then rewritten in
	// place, one write of a fixed-size record per handled line (a few microseconds), so a process
	// dying at any moment leaves the previous or the new position. Without CursorSync nothing is
	// fsync'ed: after a crash of the machine the cursor may be older (more events received again).
	// Use one cursor file per reader; its directory is created if needed.
	Cursor string
	// CursorSync makes every cursor save wait for the disk (fsync), for the at-least-once guarantee
	// across machine crashes and power loss too, at the cost of one disk flush per event.
	CursorSync bool
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.PollInterval <= 0 {
		r.PollInterval = 50 * time.Millisecond
	}
	if r.MinPoll <= 0 {
		r.MinPoll = time.Millisecond
	}
	r.MinPoll = min(r.MinPoll, r.PollInterval)
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.MaxLineBytes <= 0 {
		r.MaxLineBytes = DefaultMaxLineBytes
	}
	if r.QueueSize <= 0 {
		r.QueueSize = DefaultQueueSize
	}
	return r
}

// Bridge is one process's end of a JSONL file. Its methods are safe for concurrent use.
type Bridge struct {
	path string
	opts Options
	bus  *abxbus.Bus
	in   *inbound.Inbound // owns bus and the queue window

	wmu sync.Mutex // serialises local appends (each is one write; this keeps them in call order)

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
	wake    chan struct{}
}

// New creates a bridge on path (its directory is created on the first write). It does not touch the
// file or start following it: Start, On or Emit do.
func New(path string, opts *Options) (*Bridge, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: jsonl bridge: empty path", abxbus.ErrInvalidOption)
	}
	o := opts.withDefaults()
	if o.Name == "" {
		o.Name = "JSONLEventBridge"
	}
	in, err := inbound.New(inbound.Options{Name: o.Name, BusOptions: o.BusOptions, Logger: o.Logger, Registry: o.Registry, QueueSize: o.QueueSize})
	if err != nil {
		return nil, fmt.Errorf("jsonl bridge: %w", err)
	}
	return &Bridge{path: path, opts: o, bus: in.Bus(), in: in, wake: make(chan struct{}, 1)}, nil
}

// Bus returns the inbound bus: register handlers on it (or use On) to receive the file's events.
func (br *Bridge) Bus() *abxbus.Bus { return br.bus }

// Path returns the bridge file's path.
func (br *Bridge) Path() string { return br.path }

// On registers a handler for received events of eventType ("*" for all) on the inbound bus and starts
// following the file.
func (br *Bridge) On(eventType string, fn abxbus.HandlerFunc, opts ...abxbus.HandlerOption) (*abxbus.Handler, error) {
	return br.in.On(eventType, fn, opts, br.Start)
}

// Emit appends e to the file as one line (its JSON as it is now, like the TS bridge) with a single
// write. It does not start following the file. Errors: the event does not encode, its JSON is longer
// than Options.MaxLineBytes (matching bridges.ErrTooLarge: a reader with that limit would skip it), the
// file cannot be opened or written, the bridge is closed (matching bridges.ErrClosed), ctx ended before
// the write (matching ctx.Err()). Every error names the file.
func (br *Bridge) Emit(ctx context.Context, e *abxbus.BaseEvent) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("jsonl bridge %s: emit: %w", br.path, err)
	}
	br.mu.Lock()
	closed := br.closed
	br.mu.Unlock()
	if closed {
		return fmt.Errorf("jsonl bridge %s: %w", br.path, errClosed)
	}
	// A reader (this package's, with the same limit) would skip a longer line: refuse it here instead.
	line, err := inbound.Encode(e, "jsonl bridge "+br.path, br.opts.MaxLineBytes)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	br.wmu.Lock()
	defer br.wmu.Unlock()
	if err := os.MkdirAll(filepath.Dir(br.path), 0o755); err != nil {
		return fmt.Errorf("jsonl bridge %s: %w", br.path, err)
	}
	f, err := os.OpenFile(br.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("jsonl bridge %s: %w", br.path, err)
	}
	_, werr := f.Write(line)
	cerr := f.Close()
	if werr != nil {
		return fmt.Errorf("jsonl bridge: write %s: %w", br.path, werr)
	}
	if cerr != nil {
		return fmt.Errorf("jsonl bridge: close %s: %w", br.path, cerr)
	}
	select {
	case br.wake <- struct{}{}:
	default:
	}
	return nil
}

// Forward is a HandlerFunc that writes every event it is given to the file: wire an application bus to
// the bridge with bus.OnType("*", br.Forward). It returns no value, so it never counts as a result.
func (br *Bridge) Forward(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
	return nil, br.Emit(ctx, e)
}

var errClosed = bridges.ErrClosed

// Start creates the file if needed and starts following it: from the saved position when Options.Cursor
// names an existing cursor file, else from the file's current end (or its start with
// Options.FromStart). Lines appended after Start returns are delivered. Calling it again does nothing;
// after Close it returns an error. Errors: the file or its directory cannot be created or opened, the
// path is not a regular file, the cursor cannot be written.
func (br *Bridge) Start() error {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.closed {
		return fmt.Errorf("jsonl bridge %s: %w", br.path, errClosed)
	}
	if br.started {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(br.path), 0o755); err != nil {
		return fmt.Errorf("jsonl bridge %s: %w", br.path, err)
	}
	f, err := os.OpenFile(br.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("jsonl bridge %s: %w", br.path, err)
	}
	f.Close()
	fl, err := newFollower(br.path, &br.opts, br.wake)
	if err != nil {
		return fmt.Errorf("jsonl bridge: %w", err)
	}
	fl.deliver = br.deliver
	if err := fl.start(br.opts.FromStart); err != nil {
		fl.src.close()
		fl.cursor.close()
		return fmt.Errorf("jsonl bridge: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	br.started, br.cancel, br.done = true, cancel, make(chan struct{})
	go func() {
		defer close(br.done)
		fl.run(ctx)
	}()
	return nil
}

// newFollower makes a follower of path with the reading options of o (defaults applied).
func newFollower(path string, o *Options, wake <-chan struct{}) (*follower, error) {
	fl := &follower{path: path, maxLine: o.MaxLineBytes, minPoll: o.MinPoll, maxPoll: o.PollInterval, wake: wake}
	logger, onError := o.Logger, o.OnError
	fl.report = func(err error) {
		var le *LineError
		if errors.As(err, &le) {
			logger.Warn("[abxbus] jsonl: skipping a line", "path", le.Path, "offset", le.Offset, "bytes", le.Len, "error", le.Err)
		} else {
			logger.Error("[abxbus] jsonl: read problem", "error", err)
		}
		if onError != nil {
			onError(err)
		}
	}
	fl.notice = func(msg string, args ...any) { logger.Info(msg, args...) }
	if o.Cursor != "" {
		if err := os.MkdirAll(filepath.Dir(o.Cursor), 0o755); err != nil {
			return nil, err
		}
		fl.cursor = &cursorFile{path: o.Cursor, sync: o.CursorSync}
	}
	return fl, nil
}

// deliver decodes one line, resets the event (D9) and emits it on the inbound bus. It runs on the
// follower's goroutine and applies the backpressure: at most QueueSize events in flight, or, with a
// cursor, one (it returns when the event completed, so that the follower saves the cursor then).
func (br *Bridge) deliver(ctx context.Context, line []byte, offset int64) error {
	// An echo (this bus's own event written back by a two-way wiring) would never complete on the
	// bus: it is handled, skipped (with a cursor, its position is saved).
	e, err := br.in.Deliver(ctx, line, br.opts.Cursor == "")
	if err != nil {
		return inbound.Cause(err)
	}
	if e == nil || br.opts.Cursor == "" {
		return nil
	}
	return inbound.Await(ctx, e) // completed before Close: its position is saved
}

// decodeLine turns one JSONL line into a fresh pending event (D9).
func decodeLine(line []byte, reg *abxbus.Registry) (*abxbus.BaseEvent, error) {
	_, e, err := inbound.Decode(reg, line)
	return e, err
}

// Close stops following the file, waits for the follower to end and, without a Cursor, up to 10 s for
// the events it already emitted to be handled; then it destroys the inbound bus (handlers still
// running are cancelled, and Close's error says how many). It is safe to call more than once. With a
// Cursor, the position
// after every event that completed before Close is saved; an event still being handled is received
// again by the next reader with that cursor (call Bus().WaitUntilIdle first to let it finish).
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
	if br.opts.Cursor != "" {
		br.in.Destroy()
		return nil
	}
	return br.in.Close(inflight.DefaultDrainTimeout, func(n int) error {
		br.opts.Logger.Warn("[abxbus] jsonl bridge: received events cut short by Close", "unfinished", n, "drain_timeout", inflight.DefaultDrainTimeout, "path", br.path)
		return fmt.Errorf("jsonl %s: Close: %d received event(s) not handled within %v were cancelled", br.path, n, inflight.DefaultDrainTimeout)
	})
}

// Follow follows the file at path and calls fn with each complete, non-blank line (trimmed, without its
// newline; valid only during the call) and the line's byte offset, until ctx ends. It is the reading
// half of a Bridge, for tools that want raw lines (abxbus tail), with the same handling of rotation,
// truncation, torn and overlong lines (see Options; Name, Registry, BusOptions and QueueSize are not
// used). It starts at the file's current end unless opts.FromStart or a saved opts.Cursor says
// otherwise; a missing file is waited for and read from its start.
//
// fn runs on the caller's goroutine, one line at a time; reading waits for it. When fn returns an
// error the line is reported as refused (a *LineError through opts.Logger and opts.OnError) and
// following goes on; when the refused line is not JSON and a complete JSON line follows torn bytes in
// it, the torn bytes are reported and fn is called again with the rest. With a Cursor, the position
// after a line is saved once fn returned nil.
//
// Follow returns nil when ctx ends, or at once an error when the file exists but cannot be followed
// (a directory, no permission) or the cursor cannot be written. Later read problems are reported and
// retried.
func Follow(ctx context.Context, path string, opts *Options, fn func(line []byte, offset int64) error) error {
	o := opts.withDefaults()
	fl, err := newFollower(path, &o, nil)
	if err != nil {
		return err
	}
	fl.deliver = func(ctx context.Context, line []byte, offset int64) error {
		if ctx.Err() != nil { // nothing is delivered once ctx ended, even from a batch already read
			return ctx.Err()
		}
		return fn(line, offset)
	}
	if err := fl.start(o.FromStart); err != nil {
		fl.src.close()
		fl.cursor.close()
		return err
	}
	fl.run(ctx)
	return nil
}

// Features describes the JSONL bridge: ordered (file order), fan-out (every reader of the file reads
// every line), durable and at least once with a Cursor (a restarted reader receives what was written
// while it was down; after a crash at most one event again), and lines of at most MaxLineBytes.
func (br *Bridge) Features() bridges.Features {
	durable := br.opts.Cursor != ""
	return bridges.Features{Ordered: true, Durable: durable, AtLeastOnce: durable, FanOut: true, MaxMessageBytes: br.opts.MaxLineBytes}
}

var _ bridges.Bridge = (*Bridge)(nil)
