package redis_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	redisbridge "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
)

// The test binary runs as a streams worker process when workerEnv is set: it consumes the stream as
// one consumer of a group, appends the seq of every handled event to its output file (one write per
// event, before the handler returns, so an event handled but not acknowledged when the process is
// killed shows up as a duplicate after its redelivery), and runs until killed or until stdin closes.
const workerEnv = "ABXBUS_REDIS_TEST_WORKER"

func workerMain() int {
	get := os.Getenv
	claim, _ := time.ParseDuration(get("W_CLAIM"))
	delay, _ := time.ParseDuration(get("W_DELAY"))
	out, err := os.OpenFile(get("W_OUT"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	mode := redisbridge.ModeStreams
	if get("W_MODE") == "pubsub" {
		mode = redisbridge.ModePubSub
	}
	br, err := redisbridge.New(get("W_URL"), &redisbridge.Options{Mode: mode,
		Group: get("W_GROUP"), Consumer: get("W_CONSUMER"), ClaimIdle: claim, Logger: quiet()})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, err = br.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		p, _ := e.PayloadJSON()
		var seq int
		if _, err := fmt.Sscanf(string(p), `{"seq":%d`, &seq); err != nil {
			return nil, err
		}
		if delay > 0 {
			time.Sleep(delay)
		}
		_, err := fmt.Fprintf(out, "%d\n", seq)
		return nil, err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() { bufio.NewReader(os.Stdin).ReadString('\n'); sig <- syscall.SIGTERM }()
	<-sig
	br.Bus().WaitUntilIdle(context.Background())
	br.Close()
	return 0
}

// worker is a worker process started by a test.
type worker struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
	out   string
}

type workerSpec struct {
	url, group, consumer, out string
	claim, delay              time.Duration
	pubsub                    bool
}

func startWorker(t *testing.T, s workerSpec) *worker {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"=1", "W_URL="+s.url, "W_GROUP="+s.group, "W_CONSUMER="+s.consumer,
		"W_OUT="+s.out, "W_CLAIM="+s.claim.String(), "W_DELAY="+s.delay.String())
	if s.pubsub {
		cmd.Env = append(cmd.Env, "W_MODE=pubsub")
	}
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
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("worker did not start: %q %v", line, err)
	}
	w := &worker{cmd: cmd, stdin: stdin, out: s.out}
	t.Cleanup(func() { w.kill() })
	return w
}

// kill ends the worker with SIGKILL (no cleanup, no acknowledgements).
func (w *worker) kill() {
	if w.cmd.ProcessState == nil {
		w.cmd.Process.Kill()
		w.cmd.Wait()
	}
}

// stop ends the worker gracefully (it finishes what it received).
func (w *worker) stop(t *testing.T) {
	if w.cmd.ProcessState != nil {
		return
	}
	w.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("worker exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		w.cmd.Process.Kill()
		<-done
		t.Errorf("worker did not stop")
	}
}

// readSeqs reads the seqs the workers' output files hold.
func readSeqs(t *testing.T, files ...string) []int {
	var out []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l == "" {
				continue
			}
			n, err := strconv.Atoi(l)
			if err != nil {
				continue // a torn last line of a killed worker
			}
			out = append(out, n)
		}
	}
	return out
}
