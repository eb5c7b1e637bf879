//go:build unix

package main

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

// The test binary is also the worker program: run starts it again with envWorker set.
func TestMain(m *testing.M) {
	if os.Getenv(envWorker) != "" {
		main()
		os.Exit(0)
	}
	leakcheck.Main(m)
}

// TestRun runs the program: two worker processes serve the generated Encoder client across JSONL
// queues, every job is answered, the transient failures are retried with the configured backoff,
// the permanent one is not, no more than encoderSlots encodes run at once across both processes,
// and the workers and the scratch directory are gone afterwards.
func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	got := out.String()
	t.Logf("output:\n%s", got)

	for _, want := range []string{
		// Every job answered, through the client of the worker it was sent to (job i to w(i%2+1)).
		"intro.mov      -> intro-1080p.mp4 (w1)\n",
		"interview.mov  -> interview-1080p.mp4 (w2)\n",
		"trailer.mov    -> trailer-720p.mp4 (w1)\n",
		"broll.mov      -> broll-720p.mp4 (w2)\n",
		"outro.mov      -> outro-1080p.mp4 (w1)\n",
		"teaser.mov     -> teaser-720p.mp4 (w1)\n",
		"credits.mov    -> credits-720p.mp4 (w2)\n",
		// Not retried (RetryOn selects only ErrEncoderBusy); the error crossed the process boundary
		// with its code (errors.Is matched it) and the number of attempts in its text.
		"corrupt.mov    -> refused: Encoder.Encode: retry: encode: 1 attempt: corrupt.mov: corrupt input\n",
		// The retries, with the delays of RetryAfter 20 ms and BackoffFactor 2.
		"w1 | trailer.mov: attempt 1 failed (encoder busy); retry in 20ms\n",
		"w2 | interview.mov: attempt 1 failed (encoder busy); retry in 20ms\n",
		"w2 | interview.mov: attempt 2 failed (encoder busy); retry in 40ms\n",
		"answered: 8 of 8 jobs (7 encoded, 1 refused)\n",
		"attempts: 11 for 8 jobs, 3 retries\n",
		"w1 | done: 4 jobs,",
		"w2 | done: 4 jobs,",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// The measured pause before a retry is never shorter than the planned delay.
	for _, c := range []struct {
		line    string
		planned time.Duration
	}{
		{`w1 \| trailer\.mov: attempt 2 after (\S+)\n`, 20 * time.Millisecond},
		{`w2 \| interview\.mov: attempt 2 after (\S+)\n`, 20 * time.Millisecond},
		{`w2 \| interview\.mov: attempt 3 after (\S+)\n`, 40 * time.Millisecond},
	} {
		m := regexp.MustCompile(c.line).FindStringSubmatch(got)
		if m == nil {
			t.Errorf("output lacks a line matching %q", c.line)
			continue
		}
		// The trace rounds to 0.1 ms.
		if d, err := time.ParseDuration(m[1]); err != nil || d < c.planned-50*time.Microsecond {
			t.Errorf("%q: measured pause %s (%v), planned %v", m[0], m[1], err, c.planned)
		}
	}

	// At most encoderSlots encodes at once, replayed from the meter both processes appended to.
	m := regexp.MustCompile(`encoding at once across both workers: at most (\d+) \(limit 2\)\n`).FindStringSubmatch(got)
	if m == nil {
		t.Fatal("output lacks the encoders-at-once line")
	}
	if peak, _ := strconv.Atoi(m[1]); peak < 1 || peak > encoderSlots {
		t.Errorf("encodes at once: %d, want 1 to %d", peak, encoderSlots)
	}

	// Clean-up: both worker processes have exited (and were reaped), the scratch directory is gone.
	pids := regexp.MustCompile(`w\d \| ready: pid (\d+),`).FindAllStringSubmatch(got, -1)
	if len(pids) != 2 {
		t.Fatalf("ready lines: %q, want 2", pids)
	}
	for _, p := range pids {
		pid, _ := strconv.Atoi(p[1])
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("worker pid %d: signal 0 gave %v, want ESRCH (the process still exists)", pid, err)
		}
	}
	dir := regexp.MustCompile(`^scratch (\S+):`).FindStringSubmatch(got)
	if dir == nil {
		t.Fatal("output lacks the scratch line")
	}
	if _, err := os.Stat(dir[1]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scratch directory %s: %v, want it removed", dir[1], err)
	}
}
