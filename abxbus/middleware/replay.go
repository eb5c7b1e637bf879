package middleware

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// ErrTornLine is matched (errors.Is) by the *TornLineError ReadWAL and Replay return when the last line
// of the input is incomplete.
var ErrTornLine = errors.New("torn last line")

// TornLineError reports an incomplete last line (no trailing newline, and not a whole event): what a
// writer killed in the middle of a write leaves. Every complete line before it was read. It is the
// expected outcome of reading a WAL after a crash, not a corruption of the lines before it.
type TornLineError struct {
	Offset int64 // byte offset of the line's start
	Line   int   // 1-based line number
	Len    int   // bytes of the torn line
	Err    error // why it is not an event
}

func (e *TornLineError) Error() string {
	return fmt.Sprintf("abxbus WAL: torn last line %d at offset %d (%d bytes) skipped: %v", e.Line, e.Offset, e.Len, e.Err)
}

// Is makes errors.Is(err, ErrTornLine) true.
func (e *TornLineError) Is(target error) bool { return target == ErrTornLine }

// Unwrap returns the decoding error.
func (e *TornLineError) Unwrap() error { return e.Err }

// LineError reports a complete line that is not an event: a corrupt WAL (or not a WAL).
type LineError struct {
	Offset int64 // byte offset of the line's start
	Line   int   // 1-based line number
	Err    error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("abxbus WAL: line %d at offset %d: %v", e.Line, e.Offset, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// WALEntry is one event read from a WAL.
type WALEntry struct {
	Event  *abxbus.BaseEvent
	Offset int64 // byte offset of its line
	Line   int   // 1-based line number
}

// ReadWAL reads a WAL (or any JSONL file of abxbus event JSON, such as a JSONL bridge file) and calls fn
// for each event, in file order. Events are decoded with reg (typed when their type is registered; reg
// may be nil: abxbus.FromJSON). Blank lines are skipped. A last line without its newline is an event if
// it decodes as one; otherwise ReadWAL returns a *TornLineError (matching ErrTornLine) naming its offset,
// after every complete line was delivered. A complete line that does not decode stops the read with a
// *LineError naming its line and offset. An error from fn stops the read and is returned as is; so is
// a read error of r. Lines of any length are read (a line is held in memory whole).
func ReadWAL(r io.Reader, reg *abxbus.Registry, fn func(WALEntry) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var off int64
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err == io.EOF {
			return nil
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("abxbus WAL: read at offset %d: %w", off+int64(len(line)), err)
		}
		complete := err == nil
		start := off
		off += int64(len(line))
		body := bytes.TrimSpace(line)
		if len(body) == 0 {
			if !complete {
				return nil
			}
			continue
		}
		e, derr := reg.Decode(body)
		if derr != nil {
			if !complete {
				return &TornLineError{Offset: start, Line: n, Len: len(line), Err: derr}
			}
			return &LineError{Offset: start, Line: n, Err: derr}
		}
		if ferr := fn(WALEntry{Event: e, Offset: start, Line: n}); ferr != nil {
			return ferr
		}
		if !complete {
			return nil
		}
	}
}

// ReplayOptions selects what Replay re-emits. The zero value (or nil) replays every event.
type ReplayOptions struct {
	// Registry decodes the events (typed when their type is registered). nil: untyped.
	Registry *abxbus.Registry
	// Types are event type patterns (path.Match syntax: "*", "User*", "Order?Created"); an event is
	// replayed when its type matches one. Empty: every type.
	Types []string
	// Since and Until bound event_created_at: Since <= created < Until. Zero: no bound.
	Since, Until time.Time
}

// ReplayStats counts what Replay did.
type ReplayStats struct {
	Read     int // events read
	Emitted  int // events emitted on the bus
	Filtered int // events left out by Types, Since or Until
}

// Replay re-emits the events of a WAL into bus, in WAL order: each one selected by opts is reset
// (BaseEvent.Reset: a fresh pending copy with a new id and no results, keeping its type, payload,
// options, creation time, lineage ids and event_path) and emitted with ctx. It returns once every
// selected event was emitted, not processed: wait with bus.WaitUntilIdle. When the bus's history is full
// of unfinished events, Replay waits for the bus to be idle and emits again. An event whose event_path
// already holds the bus's label is not processed again (the bus ignores it, as for any loop).
//
// Errors: a pattern that is not valid path.Match syntax (ErrInvalidOption), what ReadWAL returns (a torn
// last line is a *TornLineError after everything before it was replayed), an emit error, ctx.Err().
func Replay(ctx context.Context, bus *abxbus.Bus, r io.Reader, opts *ReplayOptions) (ReplayStats, error) {
	var o ReplayOptions
	if opts != nil {
		o = *opts
	}
	var st ReplayStats
	for _, p := range o.Types {
		if _, err := path.Match(p, ""); err != nil {
			return st, fmt.Errorf("%w: replay type pattern %q: %v", abxbus.ErrInvalidOption, p, err)
		}
	}
	err := ReadWAL(r, o.Registry, func(en WALEntry) error {
		st.Read++
		e := en.Event
		if !o.selects(e) {
			st.Filtered++
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := e.Reset()
		if err != nil {
			return err
		}
		_, err = bus.Emit(ctx, c)
		if errors.Is(err, abxbus.ErrHistoryFull) {
			if err := bus.WaitUntilIdle(ctx); err != nil {
				return err
			}
			if c, err = e.Reset(); err != nil {
				return err
			}
			_, err = bus.Emit(ctx, c)
		}
		if err != nil {
			return fmt.Errorf("abxbus WAL: replay line %d (%s): %w", en.Line, e, err)
		}
		st.Emitted++
		return nil
	})
	return st, err
}

func (o *ReplayOptions) selects(e *abxbus.BaseEvent) bool {
	if len(o.Types) > 0 && !slices.ContainsFunc(o.Types, func(p string) bool {
		ok, _ := path.Match(p, e.Type())
		return ok
	}) {
		return false
	}
	created := e.CreatedAt()
	if !o.Since.IsZero() && created.Before(o.Since) {
		return false
	}
	if !o.Until.IsZero() && !created.Before(o.Until) {
		return false
	}
	return true
}
