// Package leakcheck verifies that tests leave no goroutine behind. Call it from TestMain:
//
//	func TestMain(m *testing.M) { leakcheck.Main(m) }
//
// After the tests pass it waits (up to a few seconds, for goroutines that are finishing) until only the
// goroutines that existed before the tests remain; otherwise it prints the stacks of the extra ones and
// fails the run.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Main runs the tests and then the leak check.
func Main(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := Check(5 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// Check waits up to wait for every goroutine other than the test runner's own to end.
func Check(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		extra := extraGoroutines()
		if len(extra) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("leakcheck: %d goroutine(s) outlived the tests:\n\n%s", len(extra), strings.Join(extra, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Current returns the stacks of goroutines other than the caller and the runtime's/test runner's own.
func extraGoroutines() []string {
	var out []string
	for _, g := range strings.Split(string(AllStacks()), "\n\n") {
		if g == "" || ignorable(g) {
			continue
		}
		out = append(out, g)
	}
	return out
}

func ignorable(stack string) bool {
	for _, s := range []string{
		"leakcheck.extraGoroutines",
		"testing.(*M).",
		"testing.tRunner",
		"testing.(*T).Run",
		"runtime.goexit0",
		"created by runtime.gc",
		"runtime.ensureSigM",
		"signal.signal_recv",
		"os/signal.loop",
		"runtime.ReadTrace",
		"testing.runFuzzing",
		"testing.(*F).Fuzz",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return strings.HasPrefix(stack, "goroutine ") && strings.Contains(stack, "[syscall") && strings.Contains(stack, "signal")
}

// AllStacks returns the stacks of every goroutine of the process, as runtime.Stack formats them
// (entries separated by blank lines).
func AllStacks() []byte {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}
