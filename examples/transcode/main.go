// Command transcode shows retry and a multiprocess semaphore: it starts two worker processes, each with
// its own bus and a retried Transcode handler, and the workers share one encoder slot through
// retry.Multiprocess, so at most one transcode runs at a time on the machine, whichever process runs it.
//
//	go run ./examples/transcode
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/retry"
)

// Transcode asks a worker to encode one file; the result is the output path.
type Transcode struct {
	abxbus.Returns[string]
	File string `json:"file"`
}

var errEncoderBusy = errors.New("encoder busy")

// Worker processes find their role, the shared directory and their jobs in these variables.
const (
	envWorker = "TRANSCODE_WORKER"
	envDir    = "TRANSCODE_DIR"
	envJobs   = "TRANSCODE_JOBS"
)

const encoderSlots = 1

func main() {
	var err error
	if name := os.Getenv(envWorker); name != "" {
		err = worker(name, os.Getenv(envDir), strings.Split(os.Getenv(envJobs), ","))
	} else {
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run starts two workers, prints what they did and checks, from the log they append to, that no two
// transcodes overlapped.
func run() error {
	dir, err := os.MkdirTemp("", "transcode-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	workers := map[string]string{"w1": "intro.mov,talk.mov,demo.mov", "w2": "outro.mov,qa.mov,flaky.mov"}
	outputs := map[string][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, len(workers))
	for name, jobs := range workers {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), envWorker+"="+name, envDir+"="+dir, envJobs+"="+jobs)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		wg.Go(func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				mu.Lock()
				outputs[name] = append(outputs[name], sc.Text())
				mu.Unlock()
			}
			if err := cmd.Wait(); err != nil {
				errs <- fmt.Errorf("worker %s: %w", name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	for _, name := range []string{"w1", "w2"} {
		for _, line := range outputs[name] {
			fmt.Printf("%s: %s\n", name, line)
		}
	}
	peak, err := peakEncoders(filepath.Join(dir, "encoder.log"))
	if err != nil {
		return err
	}
	fmt.Printf("encoders at once, across both processes: at most %d (limit %d)\n", peak, encoderSlots)
	if peak > encoderSlots {
		return fmt.Errorf("the limit was exceeded")
	}
	return nil
}

// worker runs one process: a bus with a retried, semaphore-limited Transcode handler, and its jobs.
func worker(name, dir string, jobs []string) error {
	slots, err := retry.Multiprocess(dir, "encoder", encoderSlots)
	if err != nil {
		return err
	}
	log, err := os.OpenFile(filepath.Join(dir, "encoder.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()

	failed := map[string]bool{}
	encode := func(ctx context.Context, t Transcode) (string, error) {
		fmt.Fprintf(log, "start %s %s\n", name, t.File) // inside the slot
		defer fmt.Fprintf(log, "end %s %s\n", name, t.File)
		if t.File == "flaky.mov" && !failed[t.File] { // the first attempt fails, the retry succeeds
			failed[t.File] = true
			return "", errEncoderBusy
		}
		select {
		case <-time.After(5 * time.Millisecond): // the encoding
		case <-ctx.Done():
			return "", ctx.Err()
		}
		return strings.TrimSuffix(t.File, ".mov") + ".mp4", nil
	}
	handler, err := retry.Handler(retry.Options{
		MaxAttempts:      3,
		RetryAfter:       10 * time.Millisecond,
		RetryOn:          []retry.Matcher{retry.On(errEncoderBusy)},
		Semaphore:        slots,
		SemaphoreTimeout: time.Minute,
		SemaphoreStrict:  true,
		OnRetry: func(_ context.Context, info retry.RetryInfo) {
			fmt.Printf("attempt %d failed (%v), retrying\n", info.Attempt, info.Err)
		},
	}, encode)
	if err != nil {
		return err
	}
	bus, err := abxbus.New("Transcoder_"+name, nil)
	if err != nil {
		return err
	}
	defer bus.Destroy(true)
	if _, err := abxbus.On(bus, handler); err != nil {
		return err
	}
	for _, job := range jobs {
		out, err := abxbus.Call(context.Background(), bus, Transcode{File: job})
		if err != nil {
			return err
		}
		fmt.Printf("%s -> %s\n", job, out)
	}
	return nil
}

// peakEncoders replays the start/end log and returns the most transcodes that were running at once.
func peakEncoders(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	running, peak := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		switch {
		case strings.HasPrefix(line, "start "):
			running++
			peak = max(peak, running)
		case strings.HasPrefix(line, "end "):
			running--
		default:
			return 0, fmt.Errorf("%s: bad line %q", path, line)
		}
	}
	return peak, nil
}
