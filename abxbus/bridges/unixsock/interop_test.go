package unixsock_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
	"github.com/typedbus/abxbus-go/internal/tspeer"
)

// tsListener starts `node netbridges.mjs <cmd> <target> <n> <out>` and waits for its "ready".
func tsListener(t testing.TB, ctx context.Context, cmd, target string, n int) (wait func() []map[string]any) {
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

type emitReport struct {
	OK     int `json:"ok"`
	Errors []struct {
		Seq   int    `json:"seq"`
		Error string `json:"error"`
	} `json:"errors"`
	Ms int `json:"ms"`
}

// tsEmit runs `node netbridges.mjs <cmd> <target> <n> [blob]` and returns its report.
func tsEmit(t testing.TB, ctx context.Context, cmd, target string, n, blob int) emitReport {
	t.Helper()
	c := tspeer.Command(ctx, t, "netbridges.mjs", cmd, target, strconv.Itoa(n), strconv.Itoa(blob))
	out, err := c.Output()
	if err != nil {
		t.Fatalf("TS emitter: %v", err)
	}
	var rep emitReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("TS emitter output %q: %v", out, err)
	}
	return rep
}

// checkPings checks that evs are IPCPingEvents 0..n-1 in order with intact payloads.
func checkPings(t testing.TB, evs []map[string]any, n int, note string, blob int) {
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

// F247, issue 15 item 7: TS emits N, Go receives N in order; Go emits N, TS receives N; payloads intact.
func TestInteropTSToGo(t *testing.T) {
	tspeer.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := sockPath(t)
	_, c := newListener(t, path, &unixsock.Options{MaxFrameBytes: 16 << 20})
	const n = 200
	rep := tsEmit(t, ctx, "socket-emit", path, n, 0)
	if rep.OK != n || len(rep.Errors) != 0 {
		t.Fatalf("TS emitter: %+v", rep)
	}
	c.wait(t, n, 10*time.Second)
	c.mu.Lock()
	evs := c.evs
	c.mu.Unlock()
	checkPings(t, evs, n, "from TS → Go ✓", 0)
	if p, _ := evs[0]["event_path"].([]any); len(p) != 1 || !strings.HasPrefix(p[0].(string), "SocketEventBridge#") {
		t.Fatalf("event_path %v", evs[0]["event_path"])
	}
	rep = tsEmit(t, ctx, "socket-emit", path, 1, 10<<20)
	if rep.OK != 1 {
		t.Fatalf("10 MB from TS: %+v", rep)
	}
	c.wait(t, n+1, 20*time.Second)
	c.mu.Lock()
	b, _ := c.evs[n]["blob"].(string)
	c.mu.Unlock()
	if len(b) != 10<<20 {
		t.Fatalf("10 MB from TS arrived with %d bytes", len(b))
	}
}

func TestInteropGoToTS(t *testing.T) {
	tspeer.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := sockPath(t)
	const n = 200
	wait := tsListener(t, ctx, "socket-listen", path, n+1)
	// A persistent emitter is refused by the TS listener (no handshake answer) without hurting it.
	err := newEmitter(t, path, &unixsock.Options{Persistent: true, Timeout: 300 * time.Millisecond}).Emit(ctx, ping(-1))
	if err == nil || !strings.Contains(err.Error(), "handshake") {
		t.Fatalf("persistent Emit to a TS listener: %v", err)
	}
	em := newEmitter(t, path, &unixsock.Options{MaxFrameBytes: 16 << 20})
	start := time.Now()
	defer func() { t.Logf("Go → TS: %d events, then 2 MB, in %v", n, time.Since(start)) }()
	for i := range n {
		if i == n-1 {
			t.Logf("%d events in %v", n, time.Since(start))
		}
		if err := em.Emit(ctx, ping(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A big event to TS: 2 MB. (10 MB also arrives intact but takes the TS listener about 20 s on
	// this machine: it appends each chunk to a string and searches it for the newline again, which is
	// quadratic in the frame size.)
	blob := strings.Repeat("b", 2<<20)
	big := abxbus.NewEvent(IPCPingEvent{Seq: n, Label: fmt.Sprintf("ping_%d", n), Note: "from Go → TS ✓", Blob: blob}).Base()
	if err := em.Emit(ctx, big); err != nil {
		t.Fatal(err)
	}
	evs := wait()
	checkPings(t, evs[:n], n, "from Go → TS ✓", 0)
	if b, _ := evs[n]["blob"].(string); b != blob {
		t.Fatalf("2 MB to TS arrived with %d bytes", len(b))
	}
}

// startTS starts a TS listener command and returns a channel closed at its "ready" line.
func startTS(t testing.TB, c *exec.Cmd) <-chan struct{} {
	t.Helper()
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	ready := make(chan struct{})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("TS listener did not start: %q %v", line, err)
	}
	close(ready)
	return ready
}
