package jsonl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// DefaultMaxLineBytes is the longest line accepted when Options.MaxLineBytes is 0: 4 MiB.
const DefaultMaxLineBytes = 4 << 20

// DefaultQueueSize is the number of received events that may wait on a Bridge's inbound bus when
// Options.QueueSize is 0.
const DefaultQueueSize = 256

var (
	// ErrLineTooLong is the reason of a LineError for a line longer than Options.MaxLineBytes.
	ErrLineTooLong = errors.New("line longer than the limit")
	// ErrTornLine is the reason of a LineError for the bytes a writer left without their newline
	// (it stopped mid-line) before another complete line, or at the end of a file that was rotated or
	// truncated.
	ErrTornLine = errors.New("torn line")
	// ErrNotRegularFile is the reason of a ReadError when the path names a directory or another
	// non-regular file.
	ErrNotRegularFile = errors.New("not a regular file")
)

// LineError is a line (or part of one) that was refused. Following goes on with the next line.
type LineError struct {
	Path   string // the followed file
	Offset int64  // byte offset in the file of the first refused byte
	Len    int64  // number of bytes refused, the newline not counted
	Err    error  // why: a JSON or event decoding error, ErrLineTooLong, ErrTornLine, or the error of a Follow callback
}

func (e *LineError) Error() string {
	return fmt.Sprintf("jsonl %s: %d bytes at offset %d refused: %v", e.Path, e.Len, e.Offset, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// ReadError is a problem opening, reading or inspecting the followed file, or reading or saving the
// cursor file. Following goes on: the next poll tries again (the same error is reported once until it
// clears).
type ReadError struct {
	Path string // the file concerned
	Err  error
}

func (e *ReadError) Error() string { return fmt.Sprintf("jsonl: cannot follow %s: %v", e.Path, e.Err) }

func (e *ReadError) Unwrap() error { return e.Err }

// tailLen is the size of the window of bytes before the read position that identifies it: compared
// after every change of the file (a different window means the file was truncated and rewritten) and
// stored, hashed, in the cursor. It is large enough to hold a whole ordinary event line, whose id and
// timestamps make it unique; the last bytes of event lines alone are often the same in every line.
const tailLen = 4096

// maxResync bounds the attempts to find a complete line inside a torn one.
const maxResync = 16

// follower reads complete lines from a file that grows by appends, across truncation and rotation.
// Only its own goroutine uses it.
type follower struct {
	path             string
	maxLine          int
	minPoll, maxPoll time.Duration
	wake             <-chan struct{}
	// deliver handles one complete line (trimmed; valid only during the call) that starts at offset. It
	// may block (backpressure); it returns ctx.Err() when ctx ended.
	deliver func(ctx context.Context, line []byte, offset int64) error
	report  func(err error)               // refused lines and read problems
	notice  func(msg string, args ...any) // rotation, truncation
	cursor  *cursorFile                   // nil: no cursor

	src       *source // the file being read; nil until it exists
	failing   string  // the read error last reported, reported again only when it changes
	curFailed string  // the same for cursor saves
	buf       []byte
}

// source is one opened file and the read position in it.
type source struct {
	f         *os.File
	fi        os.FileInfo // at open, for identity
	id        fileID
	offset    int64  // bytes consumed (complete lines, the partial line and skipped bytes)
	lineStart int64  // offset of the first byte of the line being read
	partial   []byte // the bytes of the unfinished last line
	skipping  bool   // inside a line longer than the limit: dropping bytes up to its newline
	tail      []byte // ends with the last ≤ tailLen bytes before offset (see window)
	size      int64  // size and modification time at the last look
	mod       time.Time
}

func openSource(path string) (*source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		if fi.IsDir() {
			return nil, fmt.Errorf("%w: it is a directory", ErrNotRegularFile)
		}
		return nil, fmt.Errorf("%w (mode %s)", ErrNotRegularFile, fi.Mode().Type())
	}
	return &source{f: f, fi: fi, id: idOf(fi), size: -1}, nil
}

// seek places the read position at off, loading the window before it.
func (s *source) seek(off int64) error {
	s.offset, s.lineStart, s.partial, s.skipping = off, off, nil, false
	if s.tail == nil {
		s.tail = make([]byte, 0, 2*tailLen)
	}
	s.tail = s.tail[:min(off, tailLen)]
	if len(s.tail) > 0 {
		if _, err := s.f.ReadAt(s.tail, off-int64(len(s.tail))); err != nil {
			return err
		}
	}
	return nil
}

// advance records that b, the next bytes of the file, were consumed. The window is kept in a buffer
// of twice its size, shifted down only when full, so that keeping it costs O(1) per byte.
func (s *source) advance(b []byte) {
	s.offset += int64(len(b))
	if len(b) >= tailLen {
		s.tail = append(s.tail[:0], b[len(b)-tailLen:]...)
		return
	}
	if len(s.tail)+len(b) > 2*tailLen {
		n := copy(s.tail, s.tail[len(s.tail)-(tailLen-len(b)):])
		s.tail = s.tail[:n]
	}
	s.tail = append(s.tail, b...)
}

// window returns the last ≤ tailLen bytes before the read position.
func (s *source) window() []byte {
	if len(s.tail) > tailLen {
		return s.tail[len(s.tail)-tailLen:]
	}
	return s.tail
}

// rewritten reports whether the bytes before the read position are no longer those that were read:
// the file was truncated and written again.
func (s *source) rewritten(size int64) bool {
	if size < s.offset {
		return true
	}
	want := s.window()
	if len(want) == 0 {
		return false
	}
	w := make([]byte, len(want))
	if _, err := s.f.ReadAt(w, s.offset-int64(len(w))); err != nil {
		return true
	}
	return !bytes.Equal(w, want)
}

func (s *source) position() position {
	return position{id: s.id, offset: s.offset, window: s.window()}
}

func (s *source) close() {
	if s != nil && s.f != nil {
		s.f.Close()
	}
}

// start places the follower at its first position: the saved cursor when there is one, else the start
// (fromStart) or the current end of the file. A missing file is read from its start once it appears.
func (f *follower) start(fromStart bool) error {
	if f.cursor != nil {
		pos, err := f.cursor.load()
		if err != nil {
			f.report(&ReadError{Path: f.cursor.path, Err: fmt.Errorf("%w; reading %s from its start", err, f.path)})
			fromStart = true
		} else if pos != nil {
			return f.resume(*pos)
		}
	}
	s, err := openSource(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		if f.cursor != nil { // nothing to resume from yet: the file will be read from its start
			return f.saveCursor(position{})
		}
		return nil
	}
	if err != nil {
		return &ReadError{Path: f.path, Err: err}
	}
	at := int64(0)
	if !fromStart {
		at = s.fi.Size()
	}
	if err := s.seek(at); err != nil {
		s.close()
		return &ReadError{Path: f.path, Err: err}
	}
	f.src = s
	if f.cursor != nil {
		return f.saveCursor(s.position())
	}
	return nil
}

// resume continues from a saved position: in the file at the path when it is still the same file with
// the same bytes before the position; in the rotated file (found in the same directory by identity)
// when the path now names a newer file; otherwise from the start of the path's file.
func (f *follower) resume(pos position) error {
	s, err := openSource(f.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &ReadError{Path: f.path, Err: err}
	}
	if s != nil && (pos.id == s.id || pos.id.zero()) {
		if pos.matches(s.f, s.fi.Size()) {
			if err := s.seek(pos.offset); err != nil {
				s.close()
				return &ReadError{Path: f.path, Err: err}
			}
			f.src = s
			return nil
		}
		if !pos.id.zero() {
			f.notice("[abxbus] jsonl: the file was truncated or rewritten since the cursor was saved; reading it from its start",
				"path", f.path, "cursor_offset", pos.offset)
			f.src = s
			return s.seek(0)
		}
	}
	if old := findByID(f.path, pos.id); old != nil {
		if err := old.seek(pos.offset); err == nil && pos.matches(old.f, old.fi.Size()) {
			f.notice("[abxbus] jsonl: the file was rotated since the cursor was saved; reading the rest of the old file first",
				"path", f.path, "old", old.f.Name(), "offset", pos.offset)
			s.close()
			f.src = old // the next poll sees that the path names another file and switches after draining this one
			return nil
		}
		old.close()
	}
	if pos.offset > 0 {
		f.notice("[abxbus] jsonl: the cursor's file is gone; reading the file from its start", "path", f.path,
			"cursor_offset", pos.offset)
	}
	if s != nil {
		f.src = s
		return s.seek(0)
	}
	return nil
}

func (f *follower) run(ctx context.Context) {
	defer f.src.close()
	defer f.cursor.close()
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
		if f.poll(ctx) {
			wait = f.minPoll
		} else {
			wait = min(wait*2, f.maxPoll)
		}
		t.Reset(wait)
	}
}

// poll reads whatever was appended since the last look, following a truncation or a rotation; it
// reports whether anything was read.
func (f *follower) poll(ctx context.Context) bool {
	read, err := f.pollOnce(ctx)
	switch {
	case err == nil:
		f.failing = ""
	case ctx.Err() != nil:
	case err.Error() != f.failing:
		f.failing = err.Error()
		f.report(err)
	}
	return read
}

func (f *follower) pollOnce(ctx context.Context) (bool, error) {
	if f.src == nil {
		s, err := openSource(f.path)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, &ReadError{Path: f.path, Err: err}
		}
		f.src = s
		if f.cursor != nil {
			f.commit(s) // the new file's identity, so that a restart reads it from its start
		}
	}
	s := f.src
	fi, err := s.f.Stat()
	if err != nil {
		return false, &ReadError{Path: f.path, Err: err}
	}
	if size := fi.Size(); size != s.size || !fi.ModTime().Equal(s.mod) {
		if s.rewritten(size) {
			f.notice("[abxbus] jsonl: the file was truncated; reading it again from its start", "path", f.path,
				"offset", s.offset, "size", size)
			f.dropPartial(s, "the file was truncated")
			if err := s.seek(0); err != nil {
				return false, &ReadError{Path: f.path, Err: err}
			}
		}
		s.size, s.mod = size, fi.ModTime()
	}
	read, err := f.drain(ctx, s)
	if err != nil {
		return read, err
	}
	pfi, err := os.Stat(f.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return read, nil // renamed away and not recreated yet: keep reading the old file
	case err != nil:
		return read, &ReadError{Path: f.path, Err: err}
	case os.SameFile(s.fi, pfi):
		return read, nil
	}
	// Rotated: another file has the path now. Read the old one to its end, then the new one from its start.
	n, err := f.drain(ctx, s)
	read = read || n
	if err != nil || ctx.Err() != nil {
		return read, err
	}
	ns, err := openSource(f.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return read, nil
		}
		return read, &ReadError{Path: f.path, Err: err}
	}
	f.dropPartial(s, "the file was rotated")
	s.close()
	f.notice("[abxbus] jsonl: the file was rotated; following the new file from its start", "path", f.path,
		"old_file_end", s.offset)
	f.src = ns
	if f.cursor != nil {
		f.commit(ns)
	}
	n, err = f.drain(ctx, ns)
	return read || n, err
}

// drain reads s from the read position to its current end.
func (f *follower) drain(ctx context.Context, s *source) (bool, error) {
	if f.buf == nil {
		f.buf = make([]byte, 64<<10)
	}
	read := false
	for ctx.Err() == nil {
		n, err := s.f.ReadAt(f.buf, s.offset)
		if n > 0 {
			read = true
			f.consume(ctx, s, f.buf[:n])
		}
		if err == io.EOF || n == 0 {
			return read, nil
		}
		if err != nil {
			return read, &ReadError{Path: f.path, Err: err}
		}
	}
	return read, nil
}

// dropPartial reports the unfinished last line of a file that is being left.
func (f *follower) dropPartial(s *source, why string) {
	if len(s.partial) == 0 && !s.skipping {
		return
	}
	f.report(&LineError{Path: f.path, Offset: s.lineStart, Len: s.offset - s.lineStart,
		Err: fmt.Errorf("%w: no newline before %s", ErrTornLine, why)})
	s.partial, s.skipping = nil, false
	s.lineStart = s.offset
}

// consume splits data (the next bytes of s) into lines, keeping an unfinished last line for later and
// dropping the bytes of a line longer than the limit.
func (f *follower) consume(ctx context.Context, s *source, data []byte) {
	for len(data) > 0 && ctx.Err() == nil {
		i := bytes.IndexByte(data, '\n')
		if s.skipping {
			if i < 0 {
				s.advance(data)
				return
			}
			s.advance(data[:i+1])
			f.tooLong(s.lineStart, s.offset-1-s.lineStart)
			s.skipping, s.lineStart = false, s.offset
			data = data[i+1:]
			continue
		}
		if i < 0 {
			if need := len(s.partial) + len(data); need > f.maxLine {
				s.skipping, s.partial = true, nil
			} else {
				if need > cap(s.partial) { // double (append grows large slices by 1.25x: more garbage)
					grown := make([]byte, len(s.partial), min(max(2*cap(s.partial), need), f.maxLine))
					copy(grown, s.partial)
					s.partial = grown
				}
				s.partial = append(s.partial, data...)
			}
			s.advance(data)
			return
		}
		raw := data[:i]
		if len(s.partial) > 0 {
			raw = append(s.partial, raw...)
		}
		s.advance(data[:i+1])
		start := s.lineStart
		s.lineStart = s.offset
		if len(raw) > f.maxLine {
			f.tooLong(start, int64(len(raw)))
		} else {
			f.line(ctx, s, raw, start)
		}
		if s.partial = s.partial[:0]; cap(s.partial) > 64<<10 {
			s.partial = nil // do not keep a large buffer after a long line
		}
		data = data[i+1:]
	}
}

func (f *follower) tooLong(offset, n int64) {
	f.report(&LineError{Path: f.path, Offset: offset, Len: n, Err: fmt.Errorf("%w of %d bytes", ErrLineTooLong, f.maxLine)})
}

// line handles one complete physical line: blank lines are skipped, the line is delivered, and when it
// is refused and is not JSON, a complete line after torn bytes is looked for in it and delivered.
func (f *follower) line(ctx context.Context, s *source, raw []byte, start int64) {
	t := bytes.TrimLeft(raw, " \t\r\v\f")
	off := start + int64(len(raw)-len(t))
	t = bytes.TrimRight(t, " \t\r\v\f")
	if len(t) == 0 {
		return
	}
	err := f.deliver(ctx, t, off)
	if err != nil && ctx.Err() == nil && !json.Valid(t) {
		// Not JSON: maybe the torn start of a line followed by a whole line.
		if skip, _ := resync(t); skip > 0 {
			f.report(&LineError{Path: f.path, Offset: off, Len: int64(skip), Err: fmt.Errorf(
				"%w: %d bytes without a newline (a writer stopped mid-line) before a complete line at offset %d, which is read",
				ErrTornLine, skip, off+int64(skip))})
			t, off = t[skip:], off+int64(skip)
			err = f.deliver(ctx, t, off)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return // stopped, not refused: the line is read again by the next reader with this cursor
		}
		f.report(&LineError{Path: f.path, Offset: off, Len: int64(len(t)), Err: err})
		return
	}
	if f.cursor != nil {
		f.commit(s)
	}
}

// commit saves the position after the last handled line of s in the cursor file.
func (f *follower) commit(s *source) {
	err := f.saveCursor(s.position())
	switch {
	case err == nil:
		f.curFailed = ""
	case err.Error() != f.curFailed:
		f.curFailed = err.Error()
		f.report(err)
	}
}

func (f *follower) saveCursor(p position) error {
	if err := f.cursor.save(f.path, p); err != nil {
		return &ReadError{Path: f.cursor.path, Err: fmt.Errorf("saving the cursor: %w", err)}
	}
	return nil
}

// resync finds where a complete JSON value starts in a line that is not JSON, for a line made of the
// torn start of one line followed by a whole other line. It returns 0 for a valid JSON line, the
// number of leading bytes to skip when a complete value follows them, or -1 and the syntax error.
//
// A writer's torn bytes are a prefix of valid JSON, so the parser fails at or a few bytes after the
// place where the next line starts; that place is the last '{' before the failure (or, when the
// failure is at the end of the line, the next '{' after the start). The search is repeated a bounded
// number of times, for several torn pieces in a row.
func resync(line []byte) (int, error) {
	if json.Valid(line) {
		return 0, nil
	}
	off, first := syntaxOffset(line)
	pos := 0
	for range maxResync {
		sub := line[pos:]
		off = max(off, 1)
		j := -1
		if off >= len(sub) {
			if k := bytes.IndexByte(sub[1:], '{'); k >= 0 {
				j = k + 1
			}
		} else if k := bytes.LastIndexByte(sub[1:off], '{'); k >= 0 {
			j = k + 1
		} else if k := bytes.IndexByte(sub[off:], '{'); k >= 0 {
			j = off + k
		}
		if j <= 0 {
			break
		}
		pos += j
		if json.Valid(line[pos:]) {
			return pos, nil
		}
		off, _ = syntaxOffset(line[pos:])
	}
	return -1, first
}

func syntaxOffset(b []byte) (int, error) {
	var v struct{}
	err := json.Unmarshal(b, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return int(se.Offset), se
	}
	return len(b), err
}
