// Command transcode is a small transcoding farm on one machine. The main process hands eight jobs to
// two worker processes (this executable, started again) through the generated Encoder client; each
// worker serves the Encoder interface with RegisterEncoder on its own bus. The calls cross process
// boundaries as events in one JSONL queue file per worker, and the answers come back the same way.
//
// In each worker the hardware encoder sits behind retries (transient "encoder busy" failures are tried
// again after 20 ms, then 40 ms) and behind retry.Multiprocess, two encoder slots shared by both
// workers through file locks: each worker takes up to four jobs at once, but never more than two
// encodes run on the machine. The main process checks that from a meter file the encoders append to,
// and removes its scratch directory and waits for both workers before it exits.
//
//	go run ./examples/transcode
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
)

// meterFile, in the slots directory, gets a "+ worker source" line when an encode starts and a
// "- worker source" line when it ends.
const meterFile = "meter.log"

var jobs = []Job{
	{"intro.mov", "1080p"}, {"interview.mov", "1080p"}, {"trailer.mov", "720p"}, {"broll.mov", "720p"},
	{"outro.mov", "1080p"}, {"corrupt.mov", "1080p"}, {"teaser.mov", "720p"}, {"credits.mov", "720p"},
}

func main() {
	var err error
	if name := os.Getenv(envWorker); name != "" {
		err = worker(name, os.Getenv(envQueue), os.Getenv(envSlots))
	} else {
		// Ctrl-C reaches the workers too (one process group); run then ends its calls and cleans up.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err = run(ctx, os.Stdout)
		stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "transcode:", err)
		os.Exit(1)
	}
}

// run starts two workers, sends them the jobs at once (job i to worker i%2), prints the answers and
// checks, from the meter, that no more than encoderSlots encodes ran at any moment.
func run(ctx context.Context, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out := &lines{w: w}

	dir, err := os.MkdirTemp("", "transcode-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir) // deferred before the workers' stop, so it runs after they are gone
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	out.printf("scratch %s: %d jobs, 2 worker processes, %d encoder slots", dir, len(jobs), encoderSlots)

	var workers []*remoteWorker
	for _, name := range []string{"w1", "w2"} {
		rw, err := startWorker(ctx, exe, name, dir, out)
		if err != nil {
			return err
		}
		defer rw.stop()
		workers = append(workers, rw)
	}
	for _, rw := range workers {
		if err := rw.waitReady(ctx); err != nil {
			return err
		}
	}

	// The callers see only the Encoder interface; behind it is a bus, a file and another process.
	type answer struct {
		r   Rendition
		err error
	}
	answers := make([]answer, len(jobs))
	var wg sync.WaitGroup
	for i, job := range jobs {
		var enc Encoder = workers[i%len(workers)].client
		wg.Go(func() {
			r, err := enc.Encode(ctx, job)
			answers[i] = answer{r, err}
		})
	}
	wg.Wait()

	answered, refused := 0, 0
	for i, a := range answers {
		src := fmt.Sprintf("%-14s", jobs[i].Source)
		switch {
		case a.err == nil:
			answered++
			out.printf("%s -> %s (%s)", src, a.r.Output, a.r.Worker)
		case errors.Is(a.err, ErrCorruptInput): // matched through the code the error crossed with
			answered++
			refused++
			out.printf("%s -> refused: %v", src, a.err)
		default:
			out.printf("%s -> error: %v", src, a.err)
		}
	}
	for _, rw := range workers {
		if err := rw.stop(); err != nil {
			return err
		}
	}

	peak, attempts, err := replayMeter(filepath.Join(dir, meterFile))
	if err != nil {
		return err
	}
	out.printf("answered: %d of %d jobs (%d encoded, %d refused)", answered, len(jobs), answered-refused, refused)
	out.printf("attempts: %d for %d jobs, %d retries", attempts, len(jobs), attempts-len(jobs))
	out.printf("encoding at once across both workers: at most %d (limit %d)", peak, encoderSlots)
	switch {
	case answered != len(jobs):
		return fmt.Errorf("%d jobs were not answered", len(jobs)-answered)
	case peak > encoderSlots:
		return fmt.Errorf("%d encodes ran at once, over the limit of %d", peak, encoderSlots)
	}
	return nil
}

// remoteWorker is a worker process and this process's end of its queue: a bus wired to the queue
// file and the generated client on that bus.
type remoteWorker struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	ready  chan struct{} // closed at the worker's "ready" line
	gone   chan struct{} // closed when its stdout ends
	bus    *abxbus.Bus
	bridge *jsonl.Bridge
	client *EncoderClient

	stopOnce sync.Once
	stopErr  error
}

// startWorker starts worker name with its queue file in dir and relays its stdout lines to out.
func startWorker(ctx context.Context, exe, name, dir string, out *lines) (_ *remoteWorker, err error) {
	queue := filepath.Join(dir, name+".jsonl")
	rw := &remoteWorker{name: name, ready: make(chan struct{}), gone: make(chan struct{})}
	defer func() {
		if err != nil {
			rw.closeLocal()
		}
	}()
	if rw.bus, err = abxbus.New("Dispatch_"+name, nil); err != nil {
		return nil, err
	}
	if rw.bridge, err = jsonl.New(queue, &jsonl.Options{PollInterval: 10 * time.Millisecond}); err != nil {
		return nil, err
	}
	if err = rw.bridge.Start(); err != nil { // creates the file and follows it for the answers
		return nil, err
	}
	if _, err = rw.bus.OnType("*", rw.bridge.Forward); err != nil {
		return nil, err
	}
	rw.client, err = NewEncoderClient(rw.bus, abxbus.ServiceReplies(rw.bridge.Bus()), abxbus.ServiceTimeout(time.Minute))
	if err != nil {
		return nil, err
	}

	rw.cmd = exec.CommandContext(ctx, exe) // killed if ctx ends first
	rw.cmd.Env = append(os.Environ(), envWorker+"="+name, envQueue+"="+queue, envSlots+"="+dir)
	rw.cmd.Stderr = os.Stderr
	rw.cmd.WaitDelay = 10 * time.Second
	if rw.stdin, err = rw.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := rw.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err = rw.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(rw.gone)
		sc := bufio.NewScanner(stdout)
		for first := true; sc.Scan(); first = false {
			if first && strings.HasPrefix(sc.Text(), "ready") {
				close(rw.ready)
			}
			out.printf("%s | %s", name, sc.Text())
		}
	}()
	return rw, nil
}

func (rw *remoteWorker) waitReady(ctx context.Context) error {
	select {
	case <-rw.ready:
		return nil
	case <-rw.gone:
		return fmt.Errorf("worker %s exited before it was ready: %v", rw.name, rw.stop())
	case <-ctx.Done():
		return fmt.Errorf("worker %s: %w", rw.name, ctx.Err())
	}
}

// stop closes the worker's stdin, which tells it to exit, waits for it and closes this end of the
// queue. It returns the worker's exit error; calling it again returns the same.
func (rw *remoteWorker) stop() error {
	rw.stopOnce.Do(func() {
		rw.stdin.Close()
		<-rw.gone // all its output is read before Wait closes the pipe
		if err := rw.cmd.Wait(); err != nil {
			rw.stopErr = fmt.Errorf("worker %s: %w", rw.name, err)
		}
		rw.closeLocal()
	})
	return rw.stopErr
}

func (rw *remoteWorker) closeLocal() {
	if rw.client != nil {
		rw.client.ServiceClient().Close()
	}
	if rw.bridge != nil {
		rw.bridge.Close()
	}
	if rw.bus != nil {
		rw.bus.Destroy(true)
	}
}

// replayMeter reads the meter and returns the most encodes that were running at once and the number
// of encode attempts.
func replayMeter(path string) (peak, attempts int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	running := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		switch {
		case strings.HasPrefix(line, "+ "):
			attempts++
			running++
			peak = max(peak, running)
		case strings.HasPrefix(line, "- "):
			running--
		default:
			return 0, 0, fmt.Errorf("%s: bad line %q", path, line)
		}
	}
	return peak, attempts, nil
}
