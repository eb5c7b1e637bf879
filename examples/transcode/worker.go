package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
	"github.com/typedbus/abxbus-go/abxbus/retry"
)

// A worker process finds its name, its queue file and the directory of the shared encoder slots in
// these variables; the main process sets them when it starts the worker (the same executable).
const (
	envWorker = "TRANSCODE_WORKER"
	envQueue  = "TRANSCODE_QUEUE"
	envSlots  = "TRANSCODE_SLOTS"
)

// encoderSlots is how many encodes the machine runs at once, whichever worker process runs them.
const encoderSlots = 2

// worker is one worker process: it serves Encoder on its own bus, wired to its queue file, with the
// hardware encoder behind retries and the machine-wide encoder slots. It prints its trace on stdout
// and returns when its stdin is closed (the main process has its answers, or is gone).
func worker(name, queue, slotsDir string) error {
	trace := &lines{w: os.Stdout}

	// The slots are flock(2)-locked files in slotsDir, shared by every process that opens the same
	// name there; a worker that dies frees its slot at once.
	slots, err := retry.Multiprocess(slotsDir, "encoder", encoderSlots)
	if err != nil {
		return err
	}
	hw, err := newHWEncoder(name, filepath.Join(slotsDir, meterFile))
	if err != nil {
		return err
	}
	defer hw.Close()
	enc := &retryingEncoder{
		next: hw,
		opts: retry.Options{
			Name:           "encode",
			MaxAttempts:    3,
			RetryAfter:     20 * time.Millisecond, // then 40 ms
			BackoffFactor:  2,
			RetryOn:        []retry.Matcher{retry.On(ErrEncoderBusy)}, // anything else is final
			AttemptTimeout: 20 * time.Second,
			// One slot per job, held through all its attempts and the delays between them.
			Semaphore:        slots,
			SemaphoreTimeout: 30 * time.Second,
			SemaphoreStrict:  true, // no slot in time: fail rather than overload the machine
		},
		trace: trace,
	}

	bus, err := abxbus.New("Encoder_"+name, nil)
	if err != nil {
		return err
	}
	defer bus.Destroy(true)
	// FromStart: a job written to the queue before this worker was following it is not lost.
	br, err := jsonl.New(queue, &jsonl.Options{PollInterval: 10 * time.Millisecond, FromStart: true})
	if err != nil {
		return err
	}
	defer br.Close()
	// Everything this bus emits goes to the queue file (the abxbus.ServiceReply answers), and every
	// request read from it is emitted here, where RegisterEncoder's handler serves it.
	if _, err := bus.OnType("*", br.Forward); err != nil {
		return err
	}
	if _, err := RegisterEncoder(bus, enc); err != nil {
		return err
	}
	if _, err := br.On(EncoderEncodeEventType, func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		_, err := bus.Emit(ctx, e)
		return nil, err
	}); err != nil {
		return err
	}
	trace.printf("ready: pid %d, serving Encoder from %s", os.Getpid(), filepath.Base(queue))

	if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
		return err
	}
	trace.printf("done: %d jobs, up to %d in flight here at once, longest wait for a slot %v",
		enc.jobs.Load(), enc.peak.Load(), time.Duration(enc.longestWait.Load()).Round(time.Millisecond))
	return nil
}

// retryingEncoder decorates an Encoder: each Encode takes one of the machine's encoder slots, then
// tries the encode up to opts.MaxAttempts times with backoff, and traces every retry with the
// planned delay and the measured one. It is safe for concurrent use.
type retryingEncoder struct {
	next  Encoder
	opts  retry.Options
	trace *lines

	jobs, inFlight, peak atomic.Int64
	longestWait          atomic.Int64 // nanoseconds
}

func (r *retryingEncoder) Encode(ctx context.Context, job Job) (Rendition, error) {
	r.jobs.Add(1)
	n := r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	maxInto(&r.peak, n)

	// OnRetry and the attempts run on this goroutine, one after the other: no lock needed.
	o := r.opts
	var failedAt time.Time
	o.OnRetry = func(_ context.Context, info retry.RetryInfo) {
		failedAt = time.Now()
		r.trace.printf("%s: attempt %d failed (%v); retry in %v", job.Source, info.Attempt, info.Err, info.Delay)
	}
	called, attempt := time.Now(), 0
	return retry.Do(ctx, o, func(ctx context.Context) (Rendition, error) {
		attempt++
		if attempt == 1 {
			maxInto(&r.longestWait, int64(time.Since(called))) // the wait for a slot
		} else {
			r.trace.printf("%s: attempt %d after %v", job.Source, attempt, time.Since(failedAt).Round(100*time.Microsecond))
		}
		return r.next.Encode(ctx, job)
	})
}

func maxInto(v *atomic.Int64, n int64) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}

// lines writes whole lines to w from any goroutine.
type lines struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lines) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format+"\n", args...)
}
