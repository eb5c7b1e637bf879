package jsonl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

const cursorReaderEnv = "ABXBUS_JSONL_CURSOR_READER"

// cursorReaderMain is the reader process of TestCursorKill9Item11: it follows FILE with the cursor
// CURSOR and appends the payload number of every event it handles to OUT (one write each), until it is
// killed.
func cursorReaderMain() int {
	file, cursor, out := os.Getenv("JSONL_FILE"), os.Getenv("JSONL_CURSOR"), os.Getenv("JSONL_OUT")
	o, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	br, err := New(file, &Options{Cursor: cursor, FromStart: true, PollInterval: 5 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, err = br.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		n, err := payloadN(e)
		if err != nil {
			return nil, err
		}
		_, err = o.WriteString(strconv.Itoa(n) + "\n")
		return nil, err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("ready")
	select {} // until killed
}

func payloadN(e *abxbus.BaseEvent) (int, error) {
	c := newCollector(-1)
	if _, err := c.handler(context.Background(), e); err != nil {
		return 0, err
	}
	return c.got[0], nil
}

// startReader starts a reader process and waits until it follows the file.
func startReader(t *testing.T, file, cursor, out string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), cursorReaderEnv+"=1", "JSONL_FILE="+file, "JSONL_CURSOR="+cursor, "JSONL_OUT="+out)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("reader did not start: %q %v", line, err)
	}
	return cmd
}

func kill9(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("reader did not die of SIGKILL: %v", err)
	}
}

func readCounts(t *testing.T, out string) (order []int, counts map[int]int) {
	t.Helper()
	data, err := os.ReadFile(out)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	counts = map[int]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l == "" {
			continue
		}
		n, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("bad output line %q", l)
		}
		if counts[n] == 0 {
			order = append(order, n)
		}
		counts[n]++
	}
	return order, counts
}

// Issue 11 item 11 (durability, beyond TS): a reader process with a cursor is killed with SIGKILL five
// times while a writer keeps appending (also while no reader runs) and is started again each time.
// Every event is handled, in file order, and at most one event per kill is handled twice (the one whose
// handling was over when the process died, before its cursor save).
func TestCursorKill9Item11(t *testing.T) {
	dir := t.TempDir()
	file, cursor, out := filepath.Join(dir, "bus.jsonl"), filepath.Join(dir, "state", "reader.cursor"), filepath.Join(dir, "out")
	const n, kills = 3000, 5
	const chunk = n / (kills + 1)
	w := newBridge(t, file, nil)
	reader := startReader(t, file, cursor, out)
	// The writer emits up to the bound it is given, so every kill comes before the last chunk is written
	// (mid-stream by construction), while the reader is still handling the chunk being written.
	allow := make(chan int)
	closeAllow := sync.OnceFunc(func() { close(allow) })
	defer closeAllow() // a failed check ends the writer too
	var wg sync.WaitGroup
	wg.Add(1)
	werr := make(chan error, 1)
	go func() {
		defer wg.Done()
		i := 0
		for bound := range allow {
			for ; i < bound; i++ {
				if err := w.Emit(context.Background(), abxbus.NewEvent(Ping{N: i}).Base()); err != nil {
					werr <- err
					for range allow {
					}
					return
				}
				if i%2 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}
	}()
	for k := range kills {
		allow <- (k + 1) * chunk
		want := k*chunk + chunk/2
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			if _, counts := readCounts(t, out); len(counts) >= want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: the reader did not handle %d events in 30 s", k, want)
			}
		}
		kill9(t, reader)
		_, counts := readCounts(t, out)
		if len(counts) == 0 || len(counts) == n {
			t.Fatalf("kill %d was not mid-stream: %d of %d events handled", k, len(counts), n)
		}
		t.Logf("kill %d: %d events handled", k, len(counts))
		time.Sleep(50 * time.Millisecond) // events written while no reader runs
		reader = startReader(t, file, cursor, out)
	}
	allow <- n
	closeAllow()
	wg.Wait()
	select {
	case err := <-werr:
		t.Fatal(err)
	default:
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, counts := readCounts(t, out); len(counts) == n || time.Now().After(deadline) {
			break
		}
	}
	kill9(t, reader)
	order, counts := readCounts(t, out)
	dups := 0
	for i := range n {
		if counts[i] == 0 {
			t.Errorf("event %d never handled", i)
		}
		dups += max(counts[i]-1, 0)
	}
	for i, v := range order {
		if v != i {
			t.Fatalf("handled out of file order at %d: %v", i, order[max(0, i-3):min(len(order), i+3)])
		}
	}
	t.Logf("%d events, %d kills, %d handled twice", n, kills, dups)
	if dups > kills {
		t.Fatalf("%d duplicates after %d kills: more than one per crash", dups, kills)
	}
	if len(counts) != n {
		t.Fatalf("handled %d distinct events, want %d", len(counts), n)
	}
}

// idleThenClose closes br once its last event completed, so the cursor holds every event handled (an
// event still in its handlers at Close is delivered again by the next reader, by design).
func idleThenClose(t *testing.T, br *Bridge) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := br.Bus().WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	br.Close()
}

// readerWithCursor starts an in-process bridge with a cursor that records payload numbers.
func readerWithCursor(t *testing.T, file, cursor string, want int, o *Options) (*Bridge, *collector) {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	o.Cursor = cursor
	br := newBridge(t, file, o)
	c := newCollector(want)
	if _, err := br.On("*", c.handler); err != nil {
		t.Fatal(err)
	}
	return br, c
}

// Issue 11 item 11: a reader with a cursor, stopped and started again, receives exactly the events
// written while it was stopped (TS and a reader without a cursor start at the end and miss them), also
// when the file was rotated meanwhile (the old file is found by identity and read to its end first),
// or truncated (the file is read from its start).
func TestCursorResumesExactlyItem11(t *testing.T) {
	dir := t.TempDir()
	file, cursor := filepath.Join(dir, "bus.jsonl"), filepath.Join(dir, "c")
	_, lg := logged(t)
	restart := func(want int) []int {
		br, c := readerWithCursor(t, file, cursor, want, &Options{Logger: lg})
		got := c.wait(t)
		time.Sleep(30 * time.Millisecond) // nothing more may arrive
		if c.count() != want {
			t.Fatalf("received %d events, want %d", c.count(), want)
		}
		idleThenClose(t, br)
		return got
	}
	br, c := readerWithCursor(t, file, cursor, 3, &Options{Logger: lg, CursorSync: true})
	appendTo(t, file, pingLines(t, 0, 3))
	c.wait(t)
	idleThenClose(t, br)
	appendTo(t, file, pingLines(t, 3, 8)) // while down
	if got := fmt.Sprint(restart(5)); got != seq(3, 8) {
		t.Fatalf("after restart: %s", got)
	}
	// rotated while down: the rest of the old file, then the new one
	appendTo(t, file, pingLines(t, 8, 10))
	if err := os.Rename(file, file+".1"); err != nil {
		t.Fatal(err)
	}
	appendTo(t, file, pingLines(t, 10, 12))
	if got := fmt.Sprint(restart(4)); got != seq(8, 12) {
		t.Fatalf("after rotation while down: %s", got)
	}
	// truncated and rewritten while down: all of the new content
	if err := os.WriteFile(file, []byte(pingLines(t, 12, 20)), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(restart(8)); got != seq(12, 20) {
		t.Fatalf("after truncation while down: %s", got)
	}
	// a damaged cursor is reported and the file is read from its start
	os.WriteFile(cursor, []byte("{garbage"), 0o644)
	var reported []error
	var mu sync.Mutex
	br, c = readerWithCursor(t, file, cursor, 8, &Options{Logger: lg, OnError: func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}})
	if got := fmt.Sprint(c.wait(t)); got != seq(12, 20) {
		t.Fatalf("after a damaged cursor: %s", got)
	}
	br.Close()
	mu.Lock()
	defer mu.Unlock()
	var re *ReadError
	if len(reported) == 0 || !errors.As(reported[0], &re) || re.Path != cursor || !strings.Contains(re.Error(), "cursor file") {
		t.Fatalf("damaged cursor reported as %v", reported)
	}
}
