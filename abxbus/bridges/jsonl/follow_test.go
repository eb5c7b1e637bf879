package jsonl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// pingLine is the JSONL line of a Ping with payload n, newline included.
func pingLine(t testing.TB, n int) string {
	t.Helper()
	raw, err := abxbus.NewEvent(Ping{N: n}).Base().ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(raw) + "\n"
}

// appendTo appends s to path with one write, as a foreign writer would.
func appendTo(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func pingLines(t testing.TB, from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(pingLine(t, i))
	}
	return b.String()
}

func seq(from, to int) string {
	s := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		s = append(s, i)
	}
	return fmt.Sprint(s)
}

func waitCount(t *testing.T, c *collector, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); c.count() < n; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d", c.count(), n)
		}
	}
}

func logged(t *testing.T) (*logBuf, *slog.Logger) {
	logs := &logBuf{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	return logs, slog.New(slog.NewTextHandler(logs, nil))
}

// Issue 11 item 7 (F245 rotation): logrotate's default renames the file away and creates a new one. The
// lines written just before the rename (not yet read) and the lines of the new file all arrive, once,
// in order. The poll interval is long so that the rename and the new writes happen between two polls.
func TestRotationRenameAndRecreateItem7(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	_, lg := logged(t)
	recv := newBridge(t, path, &Options{PollInterval: 150 * time.Millisecond, MinPoll: 150 * time.Millisecond, Logger: lg})
	c := newCollector(30)
	recv.On("*", c.handler)
	appendTo(t, path, pingLines(t, 0, 5))
	waitCount(t, c, 5)
	for round := range 5 {
		base := 5 + round*5
		appendTo(t, path, pingLines(t, base, base+3)) // written just before the rename, not yet read
		if err := os.Rename(path, fmt.Sprintf("%s.%d", path, round)); err != nil {
			t.Fatal(err)
		}
		appendTo(t, path, pingLines(t, base+3, base+5)) // the recreated file
		waitCount(t, c, base+5)
	}
	if got := fmt.Sprint(c.wait(t)); got != seq(0, 30) {
		t.Fatalf("received %s", got)
	}
}

// Issue 11 item 7: the file is truncated and regrown past the old read position between two polls; the
// new content is read from its start, nothing of it is lost or read from the middle of a line.
func TestTruncateAndRegrowWithinOnePollItem7(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	_, lg := logged(t)
	recv := newBridge(t, path, &Options{PollInterval: 200 * time.Millisecond, MinPoll: 200 * time.Millisecond, Logger: lg})
	c := newCollector(25)
	recv.On("*", c.handler)
	appendTo(t, path, pingLines(t, 0, 5))
	waitCount(t, c, 5)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendTo(t, path, pingLines(t, 5, 25)) // four times what was there: size grows past the old offset
	if got := fmt.Sprint(c.wait(t)); got != seq(0, 25) {
		t.Fatalf("received %s", got)
	}
}

// Issue 11 item 8: a writer killed mid-write leaves half a line without its newline; the next writer's
// complete line follows on the same physical line. The good line is delivered and the torn bytes are
// reported with their offset.
func TestTornLineResyncItem8(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	logs, lg := logged(t)
	recv := newBridge(t, path, &Options{Logger: lg})
	c := newCollector(4)
	recv.On("*", c.handler)
	appendTo(t, path, pingLine(t, 0))
	waitCount(t, c, 1)
	first := int64(len(pingLine(t, 0)))
	l := pingLine(t, 99)
	for _, cut := range []int{len(l) / 2, len(l) - 1} { // mid-line, and just before its newline
		appendTo(t, path, l[:cut])
	}
	appendTo(t, path, pingLine(t, 1)+pingLine(t, 2))
	appendTo(t, path, "garbage"+pingLine(t, 3))
	if got := fmt.Sprint(c.wait(t)); got != "[0 1 2 3]" {
		t.Fatalf("received %s", got)
	}
	if !strings.Contains(logs.String(), fmt.Sprintf("offset=%d", first)) || !strings.Contains(logs.String(), "torn") {
		t.Fatalf("torn bytes not reported at offset %d: %s", first, logs.String())
	}
}

// Issue 11 item 9: a line longer than the limit is skipped with a logged reason, without buffering it:
// following a 64 MiB line allocates far less than the line, and the next line is delivered.
func TestOverlongLineSkippedItem9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	logs, lg := logged(t)
	recv := newBridge(t, path, &Options{Logger: lg})
	c := newCollector(2)
	recv.On("*", c.handler)
	appendTo(t, path, pingLine(t, 0))
	waitCount(t, c, 1)
	big := []byte(`{"event_type":"Ping","n":7,"junk":"` + strings.Repeat("x", 64<<20) + `"}` + "\n" + pingLine(t, 1))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := f.Write(big); err != nil {
		t.Fatal(err)
	}
	f.Close()
	got := c.wait(t)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if fmt.Sprint(got) != "[0 1]" {
		t.Fatalf("received %v", got)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("following a 64 MiB line allocated %d KiB", alloc>>10)
	if alloc > 24<<20 {
		t.Fatalf("following a 64 MiB line allocated %d MiB", alloc>>20)
	}
	if !strings.Contains(logs.String(), "longer than") {
		t.Fatalf("overlong line not reported: %s", logs.String())
	}
}

// Issue 11 item 9: the inbound queue applies backpressure. With the handler blocked and a backlog of
// 20000 lines appended, the follower stops reading ahead instead of holding every event in memory.
func TestBackpressureBoundsMemoryItem9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	_, lg := logged(t)
	recv := newBridge(t, path, &Options{Logger: lg})
	gate := make(chan struct{})
	started := make(chan struct{}, 1)
	c := newCollector(20000)
	recv.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-gate
		return c.handler(ctx, e)
	})
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	appendTo(t, path, pingLines(t, 0, 20000))
	<-started
	time.Sleep(500 * time.Millisecond) // time to read the whole backlog, if it were going to
	runtime.GC()
	var during runtime.MemStats
	runtime.ReadMemStats(&during)
	close(gate)
	if got := c.waitFor(t, 90*time.Second); fmt.Sprint(got) != seq(0, 20000) {
		t.Fatalf("received %d events, out of order or duplicated", len(got))
	}
	grew := int64(during.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d KiB while the handler was blocked", grew>>10)
	if grew > 8<<20 {
		t.Fatalf("heap grew by %d MiB while the handler was blocked: the backlog was read ahead", grew>>20)
	}
}

// Issue 11 item 10: when the path stops being a readable file (here a directory takes its place), the
// bridge reports the read error instead of going silent, and resumes when a file is back.
func TestReadErrorReportedItem10(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	logs, lg := logged(t)
	recv := newBridge(t, path, &Options{Logger: lg})
	c := newCollector(2)
	recv.On("*", c.handler)
	appendTo(t, path, pingLine(t, 0))
	waitCount(t, c, 1)
	os.Remove(path)
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "directory"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("read error not reported: %s", logs.String())
		}
	}
	os.Remove(path)
	appendTo(t, path, pingLine(t, 1))
	if got := fmt.Sprint(c.wait(t)); got != "[0 1]" {
		t.Fatalf("received %s", got)
	}
}

// Issue 11 items 8-10: OnError receives every refused line as a *LineError (with its offset and a
// reason that errors.Is can test) and every read problem as a *ReadError; MaxLineBytes is honoured.
func TestOnErrorReportsTypedErrorsItem10(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	_, lg := logged(t)
	errs := make(chan error, 16)
	recv := newBridge(t, path, &Options{Logger: lg, MaxLineBytes: 1024, OnError: func(err error) { errs <- err }})
	c := newCollector(2)
	recv.On("*", c.handler)
	long := `{"event_type":"Ping","x":"` + strings.Repeat("y", 2000) + `"}` + "\n"
	l := pingLine(t, 9)
	appendTo(t, path, long+l[:40])
	appendTo(t, path, pingLine(t, 0)+"[1,2]\n"+pingLine(t, 1))
	if got := fmt.Sprint(c.wait(t)); got != "[0 1]" {
		t.Fatalf("received %s", got)
	}
	next := func() error {
		t.Helper()
		select {
		case err := <-errs:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("no error reported")
			return nil
		}
	}
	var le *LineError
	if err := next(); !errors.Is(err, ErrLineTooLong) || !errors.As(err, &le) || le.Offset != 0 || le.Len != int64(len(long)-1) {
		t.Fatalf("first report: %v", err)
	}
	if err := next(); !errors.Is(err, ErrTornLine) || !errors.As(err, &le) || le.Offset != int64(len(long)) || le.Len != 40 {
		t.Fatalf("second report: %v", err)
	}
	if err := next(); !errors.As(err, &le) || le.Offset != int64(len(long)+40+len(pingLine(t, 0))) || !strings.Contains(err.Error(), "event JSON") {
		t.Fatalf("third report: %v", err)
	}
	os.Remove(path)
	os.Mkdir(path, 0o755)
	var re *ReadError
	if err := next(); !errors.Is(err, ErrNotRegularFile) || !errors.As(err, &re) || re.Path != path {
		t.Fatalf("fourth report: %v", err)
	}
	select {
	case err := <-errs:
		t.Fatalf("reported again: %v", err)
	case <-time.After(100 * time.Millisecond): // the same read problem is reported once
	}
}
