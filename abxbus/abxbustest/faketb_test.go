package abxbustest_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// fakeTB stands in for a test so that the kit's failure paths can be tested: it records what the kit
// reports instead of failing the real test. Buses stay real. Methods it does not override reach the
// real test (embedded), so a kit call to any other failing method fails the real test.
type fakeTB struct {
	testing.TB

	mu       sync.Mutex
	errs     []string
	fatal    bool
	cleanups []func()
}

func newFakeTB(t *testing.T) *fakeTB { return &fakeTB{TB: t} }

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

// Fatalf records the failure and ends the calling goroutine, as testing.T's does; run the code that may
// call it with run.
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	f.mu.Lock()
	f.fatal = true
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errs) > 0
}

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// run runs body as a test body runs: on a goroutine of its own that Fatalf ends. It reports whether
// body returned normally.
func (f *fakeTB) run(body func()) (returned bool) {
	done := make(chan bool)
	go func() {
		ok := false
		defer func() { done <- ok }()
		body()
		ok = true
	}()
	return <-done
}

// finish runs the registered cleanups, last first, as the end of a test does.
func (f *fakeTB) finish() {
	f.mu.Lock()
	list := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		f.run(list[i])
	}
}

// failures returns what was reported.
func (f *fakeTB) failures() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errs...)
}

// wantOneFailure checks that exactly one failure was reported and that it contains every part, in
// this order.
func wantOneFailure(t *testing.T, f *fakeTB, parts ...string) string {
	t.Helper()
	errs := f.failures()
	if len(errs) != 1 {
		t.Fatalf("want 1 reported failure, got %d:\n%s", len(errs), strings.Join(errs, "\n-----\n"))
	}
	wantInOrder(t, errs[0], parts...)
	return errs[0]
}

func wantInOrder(t *testing.T, msg string, parts ...string) {
	t.Helper()
	rest := msg
	for _, p := range parts {
		i := strings.Index(rest, p)
		if i < 0 {
			t.Fatalf("message lacks %q (after the previous parts); message:\n%s", p, msg)
		}
		rest = rest[i+len(p):]
	}
}
