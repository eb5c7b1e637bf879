// Package jsonl is the JSONL file bridge of abxbus (F245): processes exchange events by appending one
// event JSON object per line to a shared file and following it. The line format is the abxbus event
// JSON, so a Go process and a TypeScript or Python JSONLEventBridge on the same file see each other's
// events.
//
// Writing appends one line with a single write on a file opened with O_APPEND. Reading follows the file
// from its end at Start (earlier lines are not replayed), handles truncation (the file shrinking: reading
// restarts at 0) and partial lines (kept until their newline arrives), and skips lines that do not
// decode with a logged reason. Every received event is reset (a fresh id and pending state, D9) and
// emitted on the bridge's own inbound bus (history 0, bus-serial), whose handlers therefore see the
// file's events in file order. Loops between buses are stopped by event_path, as upstream.
//
// Following uses a poll with an adaptive interval: MinPoll right after data arrived, doubling to
// PollInterval while the file is quiet, and an immediate read after a local Emit. An idle bridge wakes
// once per PollInterval and does nothing else.
package jsonl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Options configure a Bridge. The zero value (or nil) gives the defaults.
type Options struct {
	// Name is the inbound bus name (default "JSONLEventBridge"); its label joins event_path.
	Name string
	// PollInterval is the longest wait between two looks at a quiet file (default 50 ms).
	PollInterval time.Duration
	// MinPoll is the wait right after data arrived (default 1 ms, at most PollInterval).
	MinPoll time.Duration
	// Registry decodes known event types into their Go payload types (nil: untyped events).
	Registry *abxbus.Registry
	// Logger receives the reasons lines are skipped (default slog.Default()).
	Logger *slog.Logger
	// BusOptions are extra options of the inbound bus (timeouts, lock domain); its history size is 0.
	BusOptions *abxbus.Options
}

// Bridge is one process's end of a JSONL file. Its methods are safe for concurrent use.
type Bridge struct {
	path string
	opts Options
	bus  *abxbus.Bus

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
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Name == "" {
		o.Name = "JSONLEventBridge"
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 50 * time.Millisecond
	}
	if o.MinPoll <= 0 {
		o.MinPoll = time.Millisecond
	}
	o.MinPoll = min(o.MinPoll, o.PollInterval)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var bo abxbus.Options
	if o.BusOptions != nil {
		bo = *o.BusOptions
	}
	bo.MaxHistorySize = abxbus.Ptr(0)
	if bo.Logger == nil {
		bo.Logger = o.Logger
	}
	bus, err := abxbus.New(o.Name, &bo)
	if err != nil {
		return nil, fmt.Errorf("jsonl bridge: %w", err)
	}
	return &Bridge{path: path, opts: o, bus: bus, wake: make(chan struct{}, 1)}, nil
}

// Bus returns the inbound bus: register handlers on it (or use On) to receive the file's events.
func (br *Bridge) Bus() *abxbus.Bus { return br.bus }

// Path returns the bridge file's path.
func (br *Bridge) Path() string { return br.path }

// On registers a handler for received events of eventType ("*" for all) on the inbound bus and starts
// following the file.
func (br *Bridge) On(eventType string, fn abxbus.HandlerFunc, opts ...abxbus.HandlerOption) (*abxbus.Handler, error) {
	h, err := br.bus.OnType(eventType, fn, opts...)
	if err != nil {
		return nil, err
	}
	return h, br.Start()
}

// Emit appends e to the file as one line (its JSON as it is now, like the TS bridge) with a single
// write. It does not start following the file. Errors: the event does not encode, the file cannot be
// opened or written, the bridge is closed.
func (br *Bridge) Emit(ctx context.Context, e *abxbus.BaseEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	br.mu.Lock()
	closed := br.closed
	br.mu.Unlock()
	if closed {
		return fmt.Errorf("jsonl bridge %s: %w", br.path, errClosed)
	}
	line, err := e.ToJSON()
	if err != nil {
		return fmt.Errorf("jsonl bridge %s: %w", br.path, err)
	}
	line = append(line, '\n')
	br.wmu.Lock()
	defer br.wmu.Unlock()
	if err := os.MkdirAll(filepath.Dir(br.path), 0o755); err != nil {
		return fmt.Errorf("jsonl bridge: %w", err)
	}
	f, err := os.OpenFile(br.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("jsonl bridge: %w", err)
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

var errClosed = errors.New("bridge closed")

// Start creates the file if needed and starts following it from its current end. Calling it again does
// nothing; after Close it returns an error.
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
		return fmt.Errorf("jsonl bridge: %w", err)
	}
	f, err := os.OpenFile(br.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("jsonl bridge: %w", err)
	}
	st, err := f.Stat()
	f.Close()
	if err != nil {
		return fmt.Errorf("jsonl bridge: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	br.started, br.cancel, br.done = true, cancel, make(chan struct{})
	fl := &follower{path: br.path, offset: st.Size(), minPoll: br.opts.MinPoll, maxPoll: br.opts.PollInterval,
		wake: br.wake, onLine: br.receive}
	go func() {
		defer close(br.done)
		fl.run(ctx)
	}()
	return nil
}

// receive decodes one line, resets the event (D9) and emits it on the inbound bus; bad lines are logged.
func (br *Bridge) receive(line []byte, offset int64) {
	e, err := decodeLine(line, br.opts.Registry)
	if err == nil {
		_, err = br.bus.Emit(context.Background(), e)
	}
	if err != nil {
		br.opts.Logger.Warn("[abxbus] jsonl bridge: skipping a line", "path", br.path, "offset", offset, "error", err)
	}
}

// decodeLine turns one JSONL line into a fresh pending event (D9).
func decodeLine(line []byte, reg *abxbus.Registry) (*abxbus.BaseEvent, error) {
	e, err := reg.Decode(line)
	if err != nil {
		return nil, err
	}
	return e.Reset()
}

// Close stops following the file, waits for the follower to end, and destroys the inbound bus
// (in-flight handlers are cancelled). It is safe to call more than once.
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
	br.bus.Destroy(true)
	return nil
}

// Follow follows the file at path from its current end (or from offset 0 when fromStart) and calls fn
// with each complete, non-blank line (without its newline, trimmed; valid only during the call) until ctx
// ends. It is the reading
// half of a Bridge, for tools that want raw lines (abxbus tail). A missing file is waited for.
func Follow(ctx context.Context, path string, fromStart bool, opts *Options, fn func(line []byte)) error {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 50 * time.Millisecond
	}
	if o.MinPoll <= 0 {
		o.MinPoll = time.Millisecond
	}
	var offset int64
	if !fromStart {
		if st, err := os.Stat(path); err == nil {
			offset = st.Size()
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	fl := &follower{path: path, offset: offset, minPoll: min(o.MinPoll, o.PollInterval), maxPoll: o.PollInterval,
		onLine: func(line []byte, _ int64) {
			if ctx.Err() == nil { // nothing is delivered once ctx ended, even from a batch already read
				fn(line)
			}
		}}
	fl.run(ctx)
	return nil
}

// follower reads new complete lines from a growing file.
type follower struct {
	path             string
	offset           int64
	partial          []byte
	minPoll, maxPoll time.Duration
	wake             <-chan struct{}
	onLine           func(line []byte, offset int64)
	buf              []byte
}

func (f *follower) run(ctx context.Context) {
	wait := f.minPoll
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.wake:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
		if f.poll() {
			wait = f.minPoll
		} else {
			wait = min(wait*2, f.maxPoll)
		}
		t.Reset(wait)
	}
}

// poll reads whatever was appended since the last look; it reports whether anything was read.
func (f *follower) poll() bool {
	file, err := os.Open(f.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			f.offset, f.partial = 0, f.partial[:0]
		}
		return false
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return false
	}
	size := st.Size()
	if size < f.offset { // truncated: start over
		f.offset, f.partial = 0, f.partial[:0]
	}
	if size == f.offset {
		return false
	}
	if _, err := file.Seek(f.offset, io.SeekStart); err != nil {
		return false
	}
	read := false
	if cap(f.buf) == 0 {
		f.buf = make([]byte, 64<<10)
	}
	for f.offset < size {
		n, err := file.Read(f.buf[:min(int64(len(f.buf)), size-f.offset)])
		if n > 0 {
			read = true
			f.consume(f.buf[:n])
			f.offset += int64(n)
		}
		if err != nil {
			break
		}
	}
	return read
}

// consume splits data into lines, keeping an unfinished last line for later.
func (f *follower) consume(data []byte) {
	start := f.offset - int64(len(f.partial))
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			f.partial = append(f.partial, data...)
			return
		}
		var line []byte
		if len(f.partial) > 0 {
			line = append(f.partial, data[:i]...)
		} else {
			line = data[:i]
		}
		lineStart := start
		start += int64(len(line)) + 1
		if t := bytes.TrimSpace(line); len(t) > 0 {
			f.onLine(t, lineStart)
		}
		f.partial = f.partial[:0]
		data = data[i+1:]
	}
}
