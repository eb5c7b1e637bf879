package jsonl

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/bridgetest"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) {
	bridgetest.MaybeRunChild(durableHarness())
	if os.Getenv(cursorReaderEnv) != "" { // the test binary re-executed as a reader process
		os.Exit(cursorReaderMain())
	}
	leakcheck.Main(m)
}

type Ping struct {
	abxbus.Returns[int]
	N int `json:"n"`
}

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newBridge(t *testing.T, path string, o *Options) *Bridge {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Millisecond
	}
	br, err := New(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}

// collector records received payload numbers and signals when it has want of them.
type collector struct {
	mu   sync.Mutex
	got  []int
	want int
	done chan struct{}
}

func newCollector(want int) *collector { return &collector{want: want, done: make(chan struct{})} }

func (c *collector) handler(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
	raw, err := e.PayloadJSON()
	if err != nil {
		return nil, err
	}
	var p struct {
		N int `json:"n"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.got = append(c.got, p.N)
	if len(c.got) == c.want {
		close(c.done)
	}
	c.mu.Unlock()
	return nil, nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func (c *collector) wait(t *testing.T) []int {
	t.Helper()
	return c.waitFor(t, 20*time.Second)
}

func (c *collector) waitFor(t *testing.T, d time.Duration) []int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		c.mu.Lock()
		defer c.mu.Unlock()
		t.Fatalf("received %d of %d events: %v", len(c.got), c.want, c.got)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.got...)
}

// F245: 1000+ events written by one bridge arrive at another, in order, exactly once.
func TestTwoBridgesInOrderF245(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dir", "bus.jsonl")
	const n = 1200
	recv := newBridge(t, path, nil)
	c := newCollector(n)
	if _, err := recv.On("Ping", c.handler); err != nil {
		t.Fatal(err)
	}
	send := newBridge(t, path, nil)
	ctx := context.Background()
	for i := range n {
		if err := send.Emit(ctx, abxbus.NewEvent(Ping{N: i}).Base()); err != nil {
			t.Fatal(err)
		}
	}
	got := c.wait(t)
	for i, v := range got {
		if v != i {
			t.Fatalf("event %d arrived as %d (order or duplicate)", i, v)
		}
	}
	time.Sleep(20 * time.Millisecond) // nothing more may arrive
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got) != n {
		t.Fatalf("%d events arrived, want exactly %d", len(c.got), n)
	}
}

// Received events are reset (D9): new id, pending, no results; path keeps the sender's labels and gets
// the inbound bus label.
func TestReceivedEventsAreResetD9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	recv := newBridge(t, path, &Options{Name: "Inbox"})
	got := make(chan *abxbus.BaseEvent, 1)
	recv.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { got <- e; return nil, nil })
	app, _ := abxbus.New("App", nil)
	defer app.Destroy(true)
	abxbus.On(app, func(ctx context.Context, p Ping) (int, error) { return p.N, nil })
	e, _ := abxbus.Emit(context.Background(), app, Ping{N: 5})
	e.Now(context.Background())
	send := newBridge(t, path, nil)
	if err := send.Emit(context.Background(), e.Base()); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.ID() == e.ID() || r.CreatedAt() != e.Base().CreatedAt() {
			t.Fatalf("not reset: id %s vs %s", r.ID(), e.ID())
		}
		if p := r.Path(); len(p) != 2 || p[0] != app.Label() || p[1] != recv.Bus().Label() {
			t.Fatalf("path %v", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing received")
	}
}

// Truncation restarts from 0, partial lines wait for their newline, bad lines are skipped with a
// logged reason and the bridge keeps going.
func TestTruncationPartialAndBadLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	logs := &logBuf{}
	recv := newBridge(t, path, &Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	c := newCollector(4)
	recv.On("*", c.handler)
	line := func(n int) string {
		raw, err := abxbus.NewEvent(Ping{N: n}).Base().ToJSON()
		if err != nil {
			t.Fatal(err)
		}
		return string(raw) + "\n"
	}
	appendRaw := func(s string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	appendRaw(line(0))
	appendRaw("{not json}\n\n   \n")
	appendRaw(`{"event_type":"Ping","event_surprise":1}` + "\n")
	l1 := line(1)
	appendRaw(l1[:len(l1)/2])
	time.Sleep(30 * time.Millisecond) // the half line is seen and must be held back
	appendRaw(l1[len(l1)/2:])
	for deadline := time.Now().Add(10 * time.Second); c.count() < 2; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("lines before the truncation not received: %d", c.count())
		}
	}
	// truncate: the file shrinks below what was read, so reading restarts at 0
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	appendRaw(line(2) + "\r\n" + line(3))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	got := c.wait(t)
	if fmt.Sprint(got) != "[0 1 2 3]" {
		t.Fatalf("received %v", got)
	}
	if !strings.Contains(logs.String(), "skipping a line") || !strings.Contains(logs.String(), "invalid character") ||
		!strings.Contains(logs.String(), "event_surprise") {
		t.Fatalf("bad lines not logged: %s", logs.String())
	}
}

// Follow delivers raw lines, from the start or from the end.
func TestFollowRawLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	os.WriteFile(path, []byte("{\"a\":1}\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	lines := make(chan string, 4)
	done := make(chan error)
	go func() {
		done <- Follow(ctx, path, &Options{PollInterval: 2 * time.Millisecond, FromStart: true}, func(l []byte, _ int64) error {
			lines <- string(l)
			if len(lines) == 2 {
				cancel()
			}
			return nil
		})
	}()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("{\"b\":2}\n")
	f.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if a, b := <-lines, <-lines; a != `{"a":1}` || b != `{"b":2}` {
		t.Fatalf("lines %q %q", a, b)
	}
}

// F244: two application buses wired through one file, both directions, without echo loops.
func TestBidirectionalWiringF244(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	mk := func(name string) (*abxbus.Bus, *Bridge, chan int) {
		app, err := abxbus.New(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { app.Destroy(true) })
		br := newBridge(t, path, &Options{Name: name + "Bridge"})
		got := make(chan int, 16)
		abxbus.On(app, func(ctx context.Context, p Ping) (int, error) { got <- p.N; return p.N, nil })
		app.OnType("*", br.Forward)
		br.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return app.Emit(ctx, e) })
		return app, br, got
	}
	a, _, gotA := mk("AppA")
	_, _, gotB := mk("AppB")
	if _, err := abxbus.Emit(context.Background(), a, Ping{N: 42}); err != nil {
		t.Fatal(err)
	}
	if v := <-gotA; v != 42 {
		t.Fatal(v)
	}
	select {
	case v := <-gotB:
		if v != 42 {
			t.Fatal(v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("AppB never received the event")
	}
	time.Sleep(50 * time.Millisecond)
	if len(gotA) != 0 || len(gotB) != 0 {
		t.Fatalf("echo: A got %d more, B got %d more", len(gotA), len(gotB))
	}
}

func TestBadUse(t *testing.T) {
	if _, err := New("", nil); err == nil {
		t.Fatal("empty path accepted")
	}
	br := newBridge(t, filepath.Join(t.TempDir(), "x.jsonl"), nil)
	br.Close()
	if err := br.Emit(context.Background(), abxbus.NewEvent(Ping{}).Base()); err == nil {
		t.Fatal("emit after close")
	}
	if err := br.Start(); err == nil {
		t.Fatal("start after close")
	}
}

// The line decoder never panics.
func FuzzDecodeLine(f *testing.F) {
	if data, err := os.ReadFile("../../../../shared/interop/ts-abxbus-2.5.56/jsonl_sample.jsonl"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			f.Add([]byte(l))
		}
	}
	f.Add([]byte(`{"event_type":"Ping","n":1}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		e, err := decodeLine(line, nil)
		if err == nil && e.Status() != abxbus.EventPending {
			t.Fatalf("decoded line not reset: %s", e.Status())
		}
	})
}
