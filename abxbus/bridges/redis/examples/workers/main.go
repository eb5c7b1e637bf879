// Command workers shows the durable Redis Streams mode of the abxbus Redis bridge: one producer and
// three worker processes in one consumer group share a stream; one worker is killed with SIGKILL in the
// middle of the run, and the summary shows that no event was lost (the survivors claim what the dead
// worker had received but not acknowledged; a few events may be handled twice, which is what
// at-least-once means).
//
//	go run ./examples/workers                      # starts its own redis-server (from PATH) on loopback
//	go run ./examples/workers -addr redis://127.0.0.1:6379 -n 5000
//
// Run it from the directory of the module github.com/typedbus/abxbus-go/abxbus/bridges/redis.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	redisbridge "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
)

// Job is the event the producer emits and the workers handle.
type Job struct {
	abxbus.Returns[abxbus.Void]
	Seq int `json:"seq"`
}

// workerEnv, when set, makes the program a worker process with that name.
const workerEnv = "ABXBUS_WORKERS_DEMO_WORKER"

func main() {
	if name := os.Getenv(workerEnv); name != "" {
		if err := worker(name, os.Getenv("DEMO_ADDR"), os.Getenv("DEMO_OUT")); err != nil {
			fmt.Fprintln(os.Stderr, name+":", err)
			os.Exit(1)
		}
		return
	}
	addr := flag.String("addr", "", "Redis address (default: start a redis-server from PATH on a free loopback port)")
	n := flag.Int("n", 3000, "events to emit")
	flag.Parse()
	s, err := run(os.Stdout, *addr, *n, os.Args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "workers:", err)
		os.Exit(1)
	}
	if s.Lost > 0 {
		os.Exit(1)
	}
}

// Summary counts a run.
type Summary struct {
	Emitted, Delivered, Duplicated, Lost int
	PerWorker                            map[string]int
}

// run starts the workers (by executing self with workerEnv set), emits n events, kills one worker a
// third of the way, waits until every event was handled (or 60 s passed) and prints the summary.
func run(w io.Writer, addr string, n int, self string) (Summary, error) {
	dir, err := os.MkdirTemp("", "abxbus-workers")
	if err != nil {
		return Summary{}, err
	}
	defer os.RemoveAll(dir)
	if addr == "" {
		stop, a, err := startServer(dir)
		if err != nil {
			return Summary{}, err
		}
		defer stop()
		addr = a
	}
	url := addr + "/0/jobs"
	names := []string{"worker-1", "worker-2", "worker-3"}
	procs := map[string]*exec.Cmd{}
	for _, name := range names {
		cmd, err := startWorker(self, name, url, filepath.Join(dir, name+".out"))
		if err != nil {
			return Summary{}, err
		}
		procs[name] = cmd
		defer func() {
			if cmd.ProcessState == nil {
				cmd.Process.Signal(syscall.SIGTERM)
				cmd.Wait()
			}
		}()
	}
	producer, err := redisbridge.New(url, &redisbridge.Options{Mode: redisbridge.ModeStreams})
	if err != nil {
		return Summary{}, err
	}
	defer producer.Close()
	ctx := context.Background()
	for i := range n {
		if i == n/3 {
			procs["worker-2"].Process.Kill() // SIGKILL: no cleanup, no acknowledgements
			procs["worker-2"].Wait()
			fmt.Fprintf(w, "killed worker-2 with SIGKILL after %d events were emitted\n", i)
		}
		if err := producer.Emit(ctx, abxbus.NewEvent(Job{Seq: i}).Base()); err != nil {
			return Summary{}, err
		}
		if i%4 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	var s Summary
	deadline := time.Now().Add(60 * time.Second)
	for {
		s = summarize(dir, names, n)
		if s.Lost == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	fmt.Fprintf(w, "emitted %d, delivered %d, duplicated %d, lost %d\n", s.Emitted, s.Delivered, s.Duplicated, s.Lost)
	for _, name := range names {
		fmt.Fprintf(w, "  %s handled %d\n", name, s.PerWorker[name])
	}
	return s, nil
}

func summarize(dir string, names []string, n int) Summary {
	s := Summary{Emitted: n, PerWorker: map[string]int{}}
	seen := map[int]int{}
	for _, name := range names {
		b, _ := os.ReadFile(filepath.Join(dir, name+".out"))
		for _, l := range strings.Split(string(b), "\n") {
			if seq, err := strconv.Atoi(l); err == nil {
				seen[seq]++
				s.PerWorker[name]++
			}
		}
	}
	for i := range n {
		switch k := seen[i]; {
		case k == 0:
			s.Lost++
		default:
			s.Delivered++
			s.Duplicated += k - 1
		}
	}
	return s
}

func startWorker(self, name, url, out string) (*exec.Cmd, error) {
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), workerEnv+"="+name, "DEMO_ADDR="+url, "DEMO_OUT="+out)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%s did not start: %q %v", name, line, err)
	}
	return cmd, nil
}

// worker handles jobs as one consumer of the group "workers" until SIGTERM, appending each job's seq
// to out before its handler returns.
func worker(name, url, out string) error {
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	br, err := redisbridge.New(url, &redisbridge.Options{Mode: redisbridge.ModeStreams, Group: "workers", Consumer: name,
		ClaimIdle: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer br.Close()
	if _, err := br.On("Job", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		raw, err := e.PayloadJSON()
		if err != nil {
			return nil, err
		}
		var j Job
		if err := json.Unmarshal(raw, &j); err != nil {
			return nil, err
		}
		time.Sleep(500 * time.Microsecond) // some work
		_, err = fmt.Fprintf(f, "%d\n", j.Seq)
		return nil, err
	}); err != nil {
		return err
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	br.Bus().WaitUntilIdle(context.Background())
	return nil
}

// startServer starts a redis-server with the append-only file on a free loopback port.
func startServer(dir string) (stop func(), addr string, err error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", errors.New("redis-server is not on PATH (apt-get install redis-server), or pass -addr")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--dir", dir, "--save", "", "--appendonly", "yes",
		"--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	for range 200 {
		if c, err := net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			c.Close()
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	return func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }, "redis://127.0.0.1:" + port, nil
}
