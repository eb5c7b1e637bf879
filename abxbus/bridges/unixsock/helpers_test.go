package unixsock_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

// IPCPingEvent is the event the TS peer script sends and expects (same type name and fields).
type IPCPingEvent struct {
	abxbus.Returns[abxbus.Void]
	Seq   int    `json:"seq"`
	Label string `json:"label"`
	Note  string `json:"note,omitempty"`
	Blob  string `json:"blob,omitempty"`
}

func ping(seq int) *abxbus.BaseEvent {
	return abxbus.NewEvent(IPCPingEvent{Seq: seq, Label: fmt.Sprintf("ping_%d", seq), Note: "from Go → TS ✓"}).Base()
}

// childEnv runs this test binary as a listener process: TestMain serves CHILD_URL and appends the seq
// of every handled event to CHILD_OUT, one per line, until killed.
const childEnv = "UNIXSOCK_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChild()
		return
	}
	leakcheck.Main(m)
}

func runChild() {
	out, err := os.OpenFile(os.Getenv("CHILD_OUT"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	br, err := unixsock.New(os.Getenv("CHILD_URL"), &unixsock.Options{AckAfterHandled: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var mu sync.Mutex
	if _, err := br.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		var p struct {
			Seq int `json:"seq"`
		}
		raw, _ := e.PayloadJSON()
		json.Unmarshal(raw, &p)
		mu.Lock()
		defer mu.Unlock()
		_, err := fmt.Fprintf(out, "%d\n", p.Seq)
		return nil, err
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("ready", br.Path())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	br.Close()
}

// startChild starts a listener process on url and waits for it to be ready.
func startChild(t *testing.T, url, out string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "CHILD_URL="+url, "CHILD_OUT="+out)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready") {
		t.Fatalf("child listener did not start: %q %v", line, err)
	}
	return cmd
}

// collector records the payloads of received events in arrival order.
type collector struct {
	mu   sync.Mutex
	seqs []int
	evs  []map[string]any
	ch   chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1<<16)} }

func (c *collector) handle(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
	var m map[string]any
	if p, err := e.PayloadJSON(); err == nil && len(p) > 1<<20 {
		// a big event: decode only what the tests read (the full ToJSON and map cost seconds under -race)
		var big struct {
			Seq  int    `json:"seq"`
			Blob string `json:"blob"`
		}
		if err := json.Unmarshal(p, &big); err != nil {
			return nil, err
		}
		m = map[string]any{"seq": float64(big.Seq), "blob": big.Blob}
	} else {
		raw, err := e.ToJSON()
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	seq, _ := m["seq"].(float64)
	c.seqs = append(c.seqs, int(seq))
	c.evs = append(c.evs, m)
	c.mu.Unlock()
	c.ch <- struct{}{}
	return nil, nil
}

func (c *collector) wait(t testing.TB, n int, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		c.mu.Lock()
		got := len(c.seqs)
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-c.ch:
		case <-deadline:
			t.Fatalf("received %d events, want %d", got, n)
		}
	}
}

func (c *collector) snapshot() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.seqs...)
}

func sockPath(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ub") // t.TempDir() paths are long; socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d + "/s.sock"
}

func newListener(t testing.TB, path string, opts *unixsock.Options) (*unixsock.Bridge, *collector) {
	t.Helper()
	br, err := unixsock.New(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	c := newCollector()
	if _, err := br.On("*", c.handle); err != nil {
		t.Fatal(err)
	}
	return br, c
}

func newEmitter(t testing.TB, path string, opts *unixsock.Options) *unixsock.Bridge {
	t.Helper()
	br, err := unixsock.New(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}
