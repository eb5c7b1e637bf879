package unixsock_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
)

// A listener process (AckAfterHandled) is killed with SIGKILL mid-stream and started again: every
// Emit that returned nil was handled, every other one returned an error naming the path.
func TestFaultListenerKilledMidStream(t *testing.T) {
	for _, persistent := range []bool{false, true} {
		t.Run(map[bool]string{false: "per-event", true: "persistent"}[persistent], func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "seqs")
			path := sockPath(t)
			child := startChild(t, path, out)
			em := newEmitter(t, path, &unixsock.Options{Persistent: persistent})
			restart := func() *exec.Cmd {
				os.Remove(path) // the killed listener's socket file stays; a new listener removes it too
				return startChild(t, path, out)
			}
			label := fmt.Sprintf("socket listener (persistent=%v)", persistent)
			bridgetesting.KillMidStream(t, child, out, path, "path", em, restart, label, false)
		})
	}
}

// The stale socket a killed listener leaves is taken over by the next listener.
func TestFaultStaleSocketAfterKill(t *testing.T) {
	path := sockPath(t)
	child := startChild(t, path, filepath.Join(t.TempDir(), "seqs"))
	child.Process.Kill()
	child.Wait()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("expected the killed listener's socket file: %v", err)
	}
	_, c := newListener(t, path, nil)
	if err := newEmitter(t, path, nil).Emit(context.Background(), ping(1)); err != nil {
		t.Fatal(err)
	}
	c.Wait(t, 1, 5*time.Second)
}

// A 10 MB event: refused by Emit at the default limit, delivered intact when both ends allow it; a
// raw 10 MB frame to a listener at the default limit is skipped and the next frame arrives.
func TestFaultTenMegabyteEvent(t *testing.T) {
	blob := strings.Repeat("0123456789", 1<<20)
	big := abxbus.NewEvent(IPCPingEvent{Seq: 1, Blob: blob}).Base()
	// Per event; a persistent connection reads frames with the same code.
	{
		path := sockPath(t)
		_, c := newListener(t, path, &unixsock.Options{MaxFrameBytes: 16 << 20})
		err := newEmitter(t, path, nil).Emit(context.Background(), big)
		if !errors.Is(err, bridges.ErrTooLarge) || !strings.Contains(err.Error(), path) {
			t.Fatalf("default limit: %v", err)
		}
		if err := newEmitter(t, path, &unixsock.Options{MaxFrameBytes: 16 << 20}).Emit(context.Background(), big); err != nil {
			t.Fatal(err)
		}
		c.Wait(t, 1, 10*time.Second)
		got, _ := c.Event(0)["blob"].(string)
		if got != blob {
			t.Fatalf("blob of %d bytes arrived as %d bytes", len(blob), len(got))
		}
	}
	path := sockPath(t)
	var ref refusals
	_, c := newListener(t, path, &unixsock.Options{OnError: ref.add})
	raw, _ := big.ToJSON()
	rawSend(t, path, string(raw)+"\n", frameN(2)+"\n")
	c.Wait(t, 1, 10*time.Second)
	if s := c.Snapshot(); s[0] != 2 {
		t.Fatalf("received %v", s)
	}
	if rs := ref.list(); len(rs) != 1 || !errors.Is(rs[0], bridges.ErrTooLarge) {
		t.Fatalf("refusals %v", rs)
	}
}

// A peer that accepts and never reads (or never closes): every mode's Emit is bounded by ctx and by
// Options.Timeout.
func TestFaultPeerNeverReads(t *testing.T) {
	path := sockPath(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	defer func() {
		ln.Close()
		<-accepted
		for _, c := range conns {
			c.Close()
		}
	}()
	big := abxbus.NewEvent(IPCPingEvent{Seq: 1, Blob: strings.Repeat("x", 3<<20)}).Base()
	for _, persistent := range []bool{false, true} {
		for _, ev := range []*abxbus.BaseEvent{ping(1), big} {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			start := time.Now()
			err := newEmitter(t, path, &unixsock.Options{Persistent: persistent}).Emit(ctx, ev)
			cancel()
			if err == nil || time.Since(start) > 2*time.Second || !strings.Contains(err.Error(), path) {
				t.Fatalf("persistent=%v: Emit to a peer that never reads: %v after %v", persistent, err, time.Since(start))
			}
		}
		start := time.Now()
		err := newEmitter(t, path, &unixsock.Options{Persistent: persistent, Timeout: 200 * time.Millisecond}).Emit(context.Background(), big)
		if err == nil || time.Since(start) > 2*time.Second {
			t.Fatalf("persistent=%v: Timeout: %v after %v", persistent, err, time.Since(start))
		}
	}
}

// A listener that reads but holds the connection open (TS emitters wait for its close): a Go
// listener closes at the end of the frames at once, so Emit is quick; the same wait against a
// holding peer is bounded.
func TestFaultListenerHoldsConnection(t *testing.T) {
	path := sockPath(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c) // reads to the end, never closes until the test ends
		<-time.After(2 * time.Second)
		c.Close()
	}()
	defer func() { ln.Close(); <-done }()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := newEmitter(t, path, nil).Emit(ctx, ping(1)); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("Emit to a holding peer: %v after %v", err, time.Since(start))
	}
}
