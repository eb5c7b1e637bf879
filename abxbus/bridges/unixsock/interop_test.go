package unixsock_test

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
	"github.com/typedbus/abxbus-go/internal/tspeer"
)

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
	c.Wait(t, n, 10*time.Second)
	evs := c.Events()
	checkPings(t, evs, n, "from TS → Go ✓", 0)
	if p, _ := evs[0]["event_path"].([]any); len(p) != 1 || !strings.HasPrefix(p[0].(string), "SocketEventBridge#") {
		t.Fatalf("event_path %v", evs[0]["event_path"])
	}
	rep = tsEmit(t, ctx, "socket-emit", path, 1, 10<<20)
	if rep.OK != 1 {
		t.Fatalf("10 MB from TS: %+v", rep)
	}
	c.Wait(t, n+1, 20*time.Second)
	b, _ := c.Event(n)["blob"].(string)
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
