package bridgetest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

const (
	childEnv     = "ABXBUS_BRIDGETEST_CHILD"      // the harness name, in a child listener process
	childArgsEnv = "ABXBUS_BRIDGETEST_CHILD_ARGS" // ListenerArgs, JSON
	readyLine    = "bridgetest-ready"
	eventPrefix  = "bridgetest-event "
)

// MaybeRunChild must be called first in TestMain of a package that runs the durability check (of
// every harness with Features.Durable, one call per harness). When the environment marks this process
// as the suite's child listener for h, it opens the listener with h.OpenListener, writes one line per
// received event to stdout, and exits when its stdin closes (or it is killed); otherwise it returns at
// once.
func MaybeRunChild(h Harness) {
	h = h.withDefaults()
	if os.Getenv(childEnv) != h.Name {
		return
	}
	os.Exit(runChild(h))
}

func runChild(h Harness) int {
	var args []string
	if err := json.Unmarshal([]byte(os.Getenv(childArgsEnv)), &args); err != nil {
		fmt.Fprintln(os.Stderr, "bridgetest child: bad arguments:", err)
		return 2
	}
	if h.OpenListener == nil {
		fmt.Fprintln(os.Stderr, "bridgetest child: the harness lacks OpenListener")
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	br, err := h.OpenListener(ctx, args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bridgetest child: OpenListener:", err)
		return 2
	}
	var mu sync.Mutex
	out := os.Stdout
	_, err = br.On(PingType, func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		raw, err := e.PayloadJSON()
		if err != nil {
			return nil, err
		}
		var p ping
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		// One unbuffered write per event, before the handler returns: what the parent reads is what
		// the handler saw, even if the process is killed right after.
		_, err = fmt.Fprintf(out, "%s%s %d\n", eventPrefix, p.Run, p.Seq)
		return nil, err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bridgetest child: On:", err)
		br.Close()
		return 2
	}
	mu.Lock()
	fmt.Fprintln(out, readyLine)
	mu.Unlock()
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
	if err := br.Bus().WaitUntilIdle(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bridgetest child: WaitUntilIdle:", err)
	}
	if err := br.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "bridgetest child: Close:", err)
		return 1
	}
	return 0
}

// child is a listener process started by the durability check.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{} // closed when its stdout ended
	got   int           // events it reported (read after done)
}

// startChild re-executes the test binary as a child listener and waits until it listens; the events
// it reports go to c.
func (s *suite) startChild(ctx context.Context, t *testing.T, args []string, c *collector) *child {
	t.Helper()
	enc, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+s.h.Name, childArgsEnv+"="+string(enc))
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-ch.done
		_ = cmd.Wait()
	})
	ready := make(chan struct{})
	go func() {
		defer close(ch.done)
		sc := bufio.NewScanner(stdout)
		isReady := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == readyLine && !isReady:
				isReady = true
				close(ready)
			case strings.HasPrefix(line, eventPrefix):
				var run string
				var seq int
				if _, err := fmt.Sscanf(strings.TrimPrefix(line, eventPrefix), "%s %d", &run, &seq); err == nil && run == c.run {
					ch.got++
					c.add(seq)
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case <-ready:
		return ch
	case <-ch.done:
		t.Fatalf("the child listener process exited without listening: does TestMain call bridgetest.MaybeRunChild for harness %q first? (see its stderr above)", s.h.Name)
	case <-ctx.Done():
		t.Fatal("the child listener process did not start listening in time")
	}
	return nil
}

// kill9 kills the child with SIGKILL and waits until it is gone; it returns how many events it
// reported.
func (ch *child) kill9(t *testing.T) int {
	t.Helper()
	if err := ch.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-ch.done
	_ = ch.cmd.Wait()
	return ch.got
}

// stop closes the child's stdin (it closes its listener and exits) and waits, killing it after d.
func (ch *child) stop(t *testing.T, d time.Duration) int {
	t.Helper()
	_ = ch.stdin.Close()
	select {
	case <-ch.done:
	case <-time.After(d):
		t.Errorf("the child listener did not exit within %v of its stdin closing", d)
		_ = ch.cmd.Process.Kill()
		<-ch.done
	}
	if err := ch.cmd.Wait(); err != nil {
		t.Errorf("the child listener exited with %v", err)
	}
	return ch.got
}

func (s *suite) durableKill9(t *testing.T) {
	if s.h.ListenerArgs == nil || s.h.OpenListener == nil {
		t.Fatal("the bridge claims Features.Durable but the harness lacks ListenerArgs or OpenListener (the kill -9 check needs a child process)")
	}
	ctx := s.ctx(t)
	p := s.pair(t)
	args := s.h.ListenerArgs(p)
	if err := p.Listener.Close(); err != nil { // the child processes are the listener
		t.Fatalf("listener Close: %v", err)
	}
	c := newCollector(newRunID())
	first := s.startChild(ctx, t, args, c)

	// Emit the first half at a steady pace and kill the listener once it received an eighth of the
	// events, while events keep coming.
	half := s.h.N / 2
	emitDone := make(chan error, 1)
	go func() {
		for i := range half {
			e, err := newPing(c.run, i, "")
			if err != nil {
				emitDone <- err
				return
			}
			if err := p.Emitter.Emit(ctx, e); err != nil {
				emitDone <- fmt.Errorf("emit of seq %d: %w", i, err)
				return
			}
			if i%8 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		emitDone <- nil
	}()
	if err := c.waitCount(ctx, max(1, s.h.N/8)); err != nil {
		t.Fatalf("first child: %v", err)
	}
	got1 := first.kill9(t)
	if err := <-emitDone; err != nil {
		t.Fatal(err)
	}
	// Emitted while no listener runs.
	for i := half; i < s.h.N; i++ {
		if err := p.Emitter.Emit(ctx, mustPing(t, c.run, i)); err != nil {
			t.Fatalf("Emit of seq %d while the listener is down: %v", i, err)
		}
	}
	second := s.startChild(ctx, t, args, c)
	if err := c.waitFor(ctx, seqRange(0, s.h.N)); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	sleepCtx(ctx, s.h.Settle)
	got2 := second.stop(t, s.h.Timeout/2)
	seqs, extra := c.dups()
	t.Logf("first listener process received %d events before SIGKILL, the restarted one %d; %d duplicate deliveries %v",
		got1, got2, extra, head(seqs))
	if extra > 0 && !s.h.Features.AtLeastOnce {
		t.Errorf("%d events were received twice across the kill, but the bridge does not claim Features.AtLeastOnce: %v", extra, head(seqs))
	}
	if s.h.Features.Ordered && extra == 0 {
		checkOrder(t, c, seqRange(0, s.h.N))
	}
}
