package unixsock_test

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
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
	bridgetesting.TSToGo(t, ctx, "socket-emit", path, c, n, "SocketEventBridge")
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
	bridgetesting.EmitBigToTS(t, ctx, em, n, 2<<20, "2 MB", wait)
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
