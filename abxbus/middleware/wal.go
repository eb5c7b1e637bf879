package middleware

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// SyncPolicy says when a WAL asks the operating system to put its writes on disk (fsync).
type SyncPolicy int

const (
	// SyncNever never calls fsync before Close: lines reach the kernel with each write, so they survive
	// the writing process being killed, but not a crash of the machine. The default.
	SyncNever SyncPolicy = iota
	// SyncEveryLine calls fsync after every line, before the completion of its event is signalled:
	// each completed event is on disk when its waiters wake. The slowest.
	SyncEveryLine
	// SyncInterval calls fsync at most once per WALOptions.Interval, a timer armed by the first line
	// written after the previous fsync (an idle WAL runs no timer).
	SyncInterval
)

// WALOptions configures a WAL. The zero value (or nil) is SyncNever.
type WALOptions struct {
	Sync SyncPolicy
	// Interval is the fsync period of SyncInterval. 0: one second.
	Interval time.Duration
}

// ErrWALClosed is matched by the error a WAL records for an event that completes after Close.
var ErrWALClosed = errors.New("abxbus middleware: WAL is closed")

// WAL is a write-ahead log of completed events: a middleware that appends one line per event
// completion to a JSONL file, the event's full JSON as BaseEvent.ToJSON writes it (the abxbus wire
// format, results included) followed by "\n", written with a single write call on a file opened for
// appending. Each line is complete or, if the process dies during the write, the torn last line of
// the file; ReadWAL and Replay read every complete line and report a torn last one. The file can also
// be read by abxbus tail, abxbus tree and any abxbus runtime's JSONL tooling.
//
// A bus appends the line in its EventCompleted hook, before the completion is signalled: after Wait
// or Now returns, the line is in the file (and on disk with SyncEveryLine). An event forwarded between
// buses that share the WAL is written once per bus, each line the completed event.
//
// Create one with OpenWAL, give it to any number of buses (Options.Middlewares), and Close it after
// they are done. Safe for concurrent use: lines never interleave. A failed write is logged through the
// bus logger and recorded (Err); the bus goes on. Cost per event: one encoding of its JSON and one
// write system call (plus an fsync with SyncEveryLine). It implements abxbus.EventChangeHook.
type WAL struct {
	path     string
	policy   SyncPolicy
	interval time.Duration

	mu     sync.Mutex
	f      *os.File
	buf    []byte
	dirty  bool        // written since the last fsync
	timer  *time.Timer // SyncInterval: armed while dirty
	err    error       // the first write or fsync error
	closed bool
}

// OpenWAL opens (creating it and its parent directories) the WAL file at path for appending; lines
// already in it stay. Errors: an unknown sync policy, a negative interval, or the directories or the
// file cannot be created or opened (the error names the path).
func OpenWAL(path string, opts *WALOptions) (*WAL, error) {
	var o WALOptions
	if opts != nil {
		o = *opts
	}
	if o.Sync < SyncNever || o.Sync > SyncInterval {
		return nil, fmt.Errorf("%w: WAL %s: unknown sync policy %d", abxbus.ErrInvalidOption, path, o.Sync)
	}
	if o.Interval < 0 {
		return nil, fmt.Errorf("%w: WAL %s: negative sync interval %v", abxbus.ErrInvalidOption, path, o.Interval)
	}
	if o.Interval == 0 {
		o.Interval = time.Second
	}
	if path == "" {
		return nil, fmt.Errorf("%w: WAL: empty path", abxbus.ErrInvalidOption)
	}
	f, err := openAppend(path)
	if err != nil {
		return nil, fmt.Errorf("abxbus middleware: WAL: %w", err)
	}
	return &WAL{path: path, policy: o.Sync, interval: o.Interval, f: f}, nil
}

// Path returns the file path given to OpenWAL.
func (w *WAL) Path() string { return w.path }

// OnEventChange implements abxbus.EventChangeHook: on EventCompleted it appends the event's line.
func (w *WAL) OnEventChange(b *abxbus.Bus, e *abxbus.BaseEvent, phase abxbus.EventStatus) {
	if phase != abxbus.EventCompleted {
		return
	}
	if err := w.Append(e); err != nil {
		b.Logger().Error("[abxbus] WAL: event not written", "bus", b.Label(), "event", e, "wal", w.path, "error", err)
	}
}

// Append writes e's JSON as one line, as the hook does; use it to log events by hand. Errors: the event
// does not encode, the WAL is closed (ErrWALClosed), or the write or fsync failed.
func (w *WAL) Append(e *abxbus.BaseEvent) error {
	data, err := e.ToJSON()
	if err != nil {
		return fmt.Errorf("abxbus middleware: WAL %s: encode %s: %w", w.path, e, err)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.record(fmt.Errorf("%w: %s not written to %s", ErrWALClosed, e, w.path))
	}
	w.buf = append(append(w.buf[:0], data...), '\n')
	if _, err := w.f.Write(w.buf); err != nil {
		return w.record(fmt.Errorf("abxbus middleware: WAL %s: write %s: %w", w.path, e, err))
	}
	if cap(w.buf) > 1<<20 {
		w.buf = nil // do not keep a huge buffer for the next small line
	}
	switch w.policy {
	case SyncEveryLine:
		if err := w.f.Sync(); err != nil {
			return w.record(fmt.Errorf("abxbus middleware: WAL %s: fsync: %w", w.path, err))
		}
	case SyncInterval:
		if !w.dirty {
			w.dirty = true
			if w.timer == nil {
				w.timer = time.AfterFunc(w.interval, w.syncTick)
			} else {
				w.timer.Reset(w.interval)
			}
		}
	}
	return nil
}

// record keeps the first error and returns err; w.mu held.
func (w *WAL) record(err error) error {
	if w.err == nil {
		w.err = err
	}
	return err
}

// syncTick is the SyncInterval timer: one fsync of what was written since the last.
func (w *WAL) syncTick() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || !w.dirty {
		return
	}
	w.dirty = false
	if err := w.f.Sync(); err != nil {
		w.record(fmt.Errorf("abxbus middleware: WAL %s: fsync: %w", w.path, err))
	}
}

// Sync puts every line written so far on disk (fsync), whatever the policy.
func (w *WAL) Sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("%w: %s", ErrWALClosed, w.path)
	}
	w.dirty = false
	if err := w.f.Sync(); err != nil {
		return w.record(fmt.Errorf("abxbus middleware: WAL %s: fsync: %w", w.path, err))
	}
	return nil
}

// Err returns the first error a write or fsync met (also logged when the hook wrote), or nil.
func (w *WAL) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close flushes the WAL to disk (fsync), stops its timer and closes the file. Events that complete
// afterwards are not written (the hook logs ErrWALClosed). Calling it again does nothing and returns
// nil.
func (w *WAL) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
	err := w.f.Sync()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("abxbus middleware: WAL %s: close: %w", w.path, err)
	}
	return nil
}
