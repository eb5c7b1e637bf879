package httpbridge_test

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
)

// A listener process is killed (SIGKILL) mid-stream and started again: every Emit that returned nil
// was handled by a listener (AckAfterHandled), every other one returned an error; none is lost
// silently, and the listener's dedupe keeps retried events single within one listener's life.
func TestFaultListenerKilledMidStream(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "seqs")
	url := "http://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/abxbus_events"
	child := startChild(t, url, out)
	em := newEmitter(t, url, &httpbridge.Options{MaxAttempts: 3, RetryBackoff: 5 * time.Millisecond, MaxRetryBackoff: 20 * time.Millisecond})
	bridgetesting.KillMidStream(t, child, out, url, "URL", em, func() *exec.Cmd { return startChild(t, url, out) }, "HTTP listener", true)
}

// A 10 MB event: refused by Emit at the default limit (nothing sent), delivered intact when both ends
// allow it.
func TestFaultTenMegabyteEvent(t *testing.T) {
	blob := strings.Repeat("0123456789", 1<<20) // 10 MiB
	big := abxbus.NewEvent(IPCPingEvent{Seq: 1, Blob: blob}).Base()
	br, c := newListener(t, &httpbridge.Options{MaxBodyBytes: 16 << 20})
	err := newEmitter(t, br.ListenURL(), nil).Emit(context.Background(), big)
	if !errors.Is(err, bridges.ErrTooLarge) || !strings.Contains(err.Error(), "limit is 4194304") {
		t.Fatalf("default limit: %v", err)
	}
	if err := newEmitter(t, br.ListenURL(), &httpbridge.Options{MaxBodyBytes: 16 << 20}).Emit(context.Background(), big); err != nil {
		t.Fatal(err)
	}
	c.Wait(t, 1, 10*time.Second)
	got, _ := c.Event(0)["blob"].(string)
	if got != blob {
		t.Fatalf("blob of %d bytes arrived as %d bytes", len(blob), len(got))
	}
}

// A peer that accepts the connection and never reads or answers: Emit is bounded by ctx, and by
// AttemptTimeout per attempt.
func TestFaultPeerNeverReads(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // held open, never read
		}
	}()
	defer func() {
		ln.Close()
		<-accepted
		for _, c := range conns {
			c.Close()
		}
	}()
	url := "http://" + ln.Addr().String() + "/abxbus_events"
	big := abxbus.NewEvent(IPCPingEvent{Seq: 1, Blob: strings.Repeat("x", 3<<20)}).Base() // more than the socket buffers
	for _, ev := range []*abxbus.BaseEvent{ping(1), big} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		err := newEmitter(t, url, nil).Emit(ctx, ev)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second || !strings.Contains(err.Error(), url) {
			t.Fatalf("Emit to a peer that never reads: %v after %v", err, time.Since(start))
		}
	}
	start := time.Now()
	err = newEmitter(t, url, &httpbridge.Options{AttemptTimeout: 100 * time.Millisecond, MaxAttempts: 2, RetryBackoff: time.Millisecond}).Emit(context.Background(), ping(2))
	var se *httpbridge.SendError
	if !errors.As(err, &se) || se.Attempts != 2 || time.Since(start) > 2*time.Second {
		t.Fatalf("AttemptTimeout: %v after %v", err, time.Since(start))
	}
}
