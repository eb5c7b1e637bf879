// Package bridgetesting holds the test harness pieces the bridge packages share: the ping event of
// the TS peer scripts, a collector of received events, a child listener process for fault tests, the
// runners of the TS peers of netbridges.mjs and the latency recorders of the benchmarks. It is for
// tests only (it calls t.Fatal); the conformance checks themselves are in package bridgetest.
package bridgetesting

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/internal/tspeer"
)

// IPCPingEvent is the event the TS peer script sends and expects (same type name and fields).
type IPCPingEvent struct {
	abxbus.Returns[abxbus.Void]
	Seq   int    `json:"seq"`
	Label string `json:"label"`
	Note  string `json:"note,omitempty"`
	Blob  string `json:"blob,omitempty"`
}

// Ping is IPCPingEvent seq with its label ping_<seq> and the note the TS peer checks.
func Ping(seq int) *abxbus.BaseEvent {
	return abxbus.NewEvent(IPCPingEvent{Seq: seq, Label: fmt.Sprintf("ping_%d", seq), Note: "from Go → TS ✓"}).Base()
}

// Listener is what a child listener process needs of a bridge.
type Listener interface {
	On(eventType string, fn abxbus.HandlerFunc, opts ...abxbus.HandlerOption) (*abxbus.Handler, error)
	Close() error
}

// RunChild is the body of a child listener process (see StartChild): open makes the listener on the
// address in CHILD_URL, and its ready says (once the listener started) what to print after "ready "; the seq of every handled event is
// appended to CHILD_OUT, one per line, until SIGTERM or an interrupt (or SIGKILL). Errors go to stderr
// with exit status 1.
func RunChild(open func(addr string) (br Listener, ready func() string, err error)) {
	out, err := os.OpenFile(os.Getenv("CHILD_OUT"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	br, ready, err := open(os.Getenv("CHILD_URL"))
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
	fmt.Println("ready", ready())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	br.Close()
}

// StartChild re-runs this test binary with env=1 (TestMain then calls RunChild) as a listener on url
// that appends to out, and waits for it to be ready. Cleanup kills it.
func StartChild(t *testing.T, env, url, out string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), env+"=1", "CHILD_URL="+url, "CHILD_OUT="+out)
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

// ReadSeqs counts the seqs a child listener wrote to path (none when the file does not exist yet).
func ReadSeqs(t *testing.T, path string) map[int]int {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	got := map[int]int{}
	for _, l := range strings.Fields(string(raw)) {
		n, err := strconv.Atoi(l)
		if err != nil {
			t.Fatalf("bad line %q in %s", l, path)
		}
		got[n]++
	}
	return got
}

// Collector records the payloads of received events in arrival order.
type Collector struct {
	mu   sync.Mutex
	seqs []int
	evs  []map[string]any
	ch   chan struct{}
}

// NewCollector returns an empty Collector.
func NewCollector() *Collector { return &Collector{ch: make(chan struct{}, 1<<16)} }

// Handle is the HandlerFunc that records an event.
func (c *Collector) Handle(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
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

// Wait waits until n events were recorded, failing t after d.
func (c *Collector) Wait(t testing.TB, n int, d time.Duration) {
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

// Snapshot returns the seqs recorded so far.
func (c *Collector) Snapshot() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.seqs...)
}

// Events returns the events recorded so far (the event JSON as maps; big events: seq and blob only).
func (c *Collector) Events() []map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evs
}

// Event returns the i-th event recorded.
func (c *Collector) Event(i int) map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evs[i]
}

// TSListener starts `node netbridges.mjs <cmd> <target> <n> <out>` and waits for its "ready"; wait
// waits for it to exit (it exits once it received n events) and returns what it received.
func TSListener(t testing.TB, ctx context.Context, cmd, target string, n int) (wait func() []map[string]any) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "received.json")
	c := tspeer.Command(ctx, t, "netbridges.mjs", cmd, target, strconv.Itoa(n), out)
	var stderr bytes.Buffer // the TS listener logs a stack for every refused event
	c.Stderr = &stderr
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		c.Process.Kill()
		c.Wait()
		t.Fatalf("TS listener did not start: %q %v", line, err)
	}
	return func() []map[string]any {
		t.Helper()
		if err := c.Wait(); err != nil {
			t.Fatalf("TS listener: %v\n%s", err, stderr.Bytes())
		}
		raw, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var evs []map[string]any
		if err := json.Unmarshal(raw, &evs); err != nil {
			t.Fatal(err)
		}
		return evs
	}
}

// EmitReport is what a TS emitter of netbridges.mjs prints.
type EmitReport struct {
	OK     int `json:"ok"`
	Errors []struct {
		Seq   int    `json:"seq"`
		Error string `json:"error"`
	} `json:"errors"`
	Ms int `json:"ms"`
}

// TSEmit runs `node netbridges.mjs <cmd> <target> <n> [blob]` and returns its report.
func TSEmit(t testing.TB, ctx context.Context, cmd, target string, n, blob int) EmitReport {
	t.Helper()
	c := tspeer.Command(ctx, t, "netbridges.mjs", cmd, target, strconv.Itoa(n), strconv.Itoa(blob))
	out, err := c.Output()
	if err != nil {
		t.Fatalf("TS emitter: %v", err)
	}
	var rep EmitReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("TS emitter output %q: %v", out, err)
	}
	return rep
}

// CheckPings checks that evs are IPCPingEvents 0..n-1 in order with intact payloads.
func CheckPings(t testing.TB, evs []map[string]any, n int, note string, blob int) {
	t.Helper()
	if len(evs) != n {
		t.Fatalf("received %d events, want %d", len(evs), n)
	}
	for i, e := range evs {
		seq, _ := e["seq"].(float64)
		b, _ := e["blob"].(string)
		if int(seq) != i || e["label"] != fmt.Sprintf("ping_%d", i) || e["note"] != note || e["event_type"] != "IPCPingEvent" || len(b) != blob {
			t.Fatalf("event %d: seq %v label %v note %q type %v blob %d bytes", i, e["seq"], e["label"], e["note"], e["event_type"], len(b))
		}
	}
}

// TSToGo is the TS-emitter-to-Go-listener interop round of netbridges.mjs: `node netbridges.mjs cmd
// target` emits n pings, which c (the listener's handler) must receive in order with intact
// payloads and an event_path of one label, the listener bus's (busName#...); then one ping with a
// 10 MB blob, which must arrive intact.
func TSToGo(t *testing.T, ctx context.Context, cmd, target string, c *Collector, n int, busName string) {
	t.Helper()
	rep := TSEmit(t, ctx, cmd, target, n, 0)
	if rep.OK != n || len(rep.Errors) != 0 {
		t.Fatalf("TS emitter: %+v", rep)
	}
	c.Wait(t, n, 10*time.Second)
	evs := c.Events()
	CheckPings(t, evs, n, "from TS → Go ✓", 0)
	// The TS emitter's direct emit sends event_path [] (ts-bridges.md); the listener's bus joins it.
	if p, _ := evs[0]["event_path"].([]any); len(p) != 1 || !strings.HasPrefix(p[0].(string), busName+"#") {
		t.Fatalf("event_path %v", evs[0]["event_path"])
	}
	rep = TSEmit(t, ctx, cmd, target, 1, 10<<20)
	if rep.OK != 1 {
		t.Fatalf("10 MB from TS: %+v", rep)
	}
	c.Wait(t, n+1, 20*time.Second)
	b, _ := c.Event(n)["blob"].(string)
	if len(b) != 10<<20 {
		t.Fatalf("10 MB from TS arrived with %d bytes", len(b))
	}
}

// EmitBigToTS ends a Go-to-TS interop round: em emits ping n with a blob of blobBytes (named size in
// the failure message), then wait (the TS listener's) must return pings 0..n-1 in order, intact, and
// the blob intact.
func EmitBigToTS(t *testing.T, ctx context.Context, em Emitter, n, blobBytes int, size string, wait func() []map[string]any) {
	t.Helper()
	blob := strings.Repeat("b", blobBytes)
	big := abxbus.NewEvent(IPCPingEvent{Seq: n, Label: fmt.Sprintf("ping_%d", n), Note: "from Go → TS ✓", Blob: blob}).Base()
	if err := em.Emit(ctx, big); err != nil {
		t.Fatal(err)
	}
	evs := wait()
	CheckPings(t, evs[:n], n, "from Go → TS ✓", 0)
	if b, _ := evs[n]["blob"].(string); b != blob {
		t.Fatalf("%s to TS arrived with %d bytes", size, len(b))
	}
}
