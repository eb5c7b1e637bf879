package nats_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	natsbridge "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
)

// The fault tests run listeners as worker processes: the test binary started again with workerEnv
// set. A worker opens a bridge from its environment, prints "ready" once started, then one line per
// handled Ping ("<seq>"), written by the handler before the event is acknowledged, and exits on
// SIGTERM (closing the bridge) or when killed.
const workerEnv = "ABXBUS_NATS_TEST_WORKER"

func workerMain() int {
	env := func(k string) string { return os.Getenv("ABXBUS_NATS_TEST_" + k) }
	o := &natsbridge.Options{Name: "Worker", Consumer: env("CONSUMER")}
	if env("MODE") == "jetstream" {
		o.Mode = natsbridge.JetStream
	}
	if d, err := time.ParseDuration(env("ACK_WAIT")); err == nil {
		o.AckWait = d
	}
	if n, err := strconv.Atoi(env("REPLICAS")); err == nil {
		o.Replicas = n
	}
	if n, err := strconv.Atoi(env("MAX_DELIVER")); err == nil {
		o.MaxDeliver = n
	}
	delay, _ := time.ParseDuration(env("DELAY"))
	crashOn := env("CRASH_ON") // the worker dies (exit 3) when it handles this seq
	br, err := natsbridge.New(env("URL"), env("SUBJECT"), o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 2
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	_, err = br.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		if delay > 0 {
			time.Sleep(delay)
		}
		p, _ := e.Payload().(abxbus.JSONPayload)
		if crashOn != "" && string(p["seq"]) == crashOn {
			os.Exit(3)
		}
		mu.Lock()
		fmt.Fprintf(out, "%s\n", p["seq"])
		out.Flush()
		mu.Unlock()
		return nil, nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 2
	}
	mu.Lock()
	fmt.Fprintln(out, "ready")
	out.Flush()
	mu.Unlock()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	br.Close()
	return 0
}

// worker is a running worker process.
type worker struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startWorker starts a worker with env (keys without the ABXBUS_NATS_TEST_ prefix) whose handled
// seqs go to c; it returns once the worker is ready.
func startWorker(t testing.TB, c *collector, env map[string]string) *worker {
	t.Helper()
	return startWorkerMayExit(t, c, env, false)
}

// startWorkerMayExit is startWorker for a worker that may die (mayExit) before it reported ready.
func startWorkerMayExit(t testing.TB, c *collector, env map[string]string, mayExit bool) *worker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, "ABXBUS_NATS_TEST_"+k+"="+v)
	}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	w := &worker{cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		defer close(w.done)
		defer cancel()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "ready" {
				close(ready)
				continue
			}
			if n, err := strconv.Atoi(line); err == nil {
				c.Add(n)
			}
		}
		cmd.Wait()
	}()
	t.Cleanup(func() { w.kill(); <-w.done })
	select {
	case <-ready:
	case <-w.done:
		if !mayExit {
			t.Fatalf("worker exited before it was ready: %v", cmd.ProcessState)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker not ready after 30 s")
	}
	return w
}

// kill sends SIGKILL (kill -9) and waits for the worker to be gone.
func (w *worker) kill() {
	if w.cmd.Process != nil {
		w.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-w.done
}
