package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

// The test binary is also the worker program: run re-executes it with envWorker set.
func TestMain(m *testing.M) {
	if os.Getenv(envWorker) != "" {
		main()
		os.Exit(0)
	}
	leakcheck.Main(m)
}

// Two worker processes share one encoder slot: every job is done, the flaky one after a retry, and the
// replayed log never shows two transcodes at once.
func TestTranscodeDemo(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	runErr := run()
	os.Stdout = stdout
	w.Close()
	got := <-out
	if runErr != nil {
		t.Fatalf("run: %v\n%s", runErr, got)
	}
	for _, want := range []string{
		"w1: intro.mov -> intro.mp4", "w1: talk.mov -> talk.mp4", "w1: demo.mov -> demo.mp4",
		"w2: outro.mov -> outro.mp4", "w2: qa.mov -> qa.mp4",
		"w2: attempt 1 failed (encoder busy), retrying", "w2: flaky.mov -> flaky.mp4",
		"encoders at once, across both processes: at most 1 (limit 1)",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("output lacks %q:\n%s", want, got)
		}
	}
}
