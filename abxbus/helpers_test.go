package abxbus_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Event types shared by the core tests.

type Parent struct {
	abxbus.Returns[string]
	Name string `json:"name"`
}

type Kid struct {
	abxbus.Returns[int]
	N int `json:"n"`
}

type Side struct {
	abxbus.Returns[string]
	Tag string `json:"tag"`
}

type Ping struct {
	abxbus.Returns[int]
	N int `json:"n"`
}

// recorder collects an ordered trace from many goroutines.
type recorder struct {
	mu  sync.Mutex
	log []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.log = append(r.log, s)
	r.mu.Unlock()
}

func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.log...)
}

func (r *recorder) index(s string) int {
	for i, x := range r.get() {
		if x == s {
			return i
		}
	}
	return -1
}

func newBus(t testing.TB, name string, opts *abxbus.Options) *abxbus.Bus {
	t.Helper()
	b, err := abxbus.New(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Destroy(true) })
	return b
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// tctx is a context for waits in tests: generous, so a hang fails the test instead of the run.
func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func idle(t testing.TB, b *abxbus.Bus) {
	t.Helper()
	if err := b.WaitUntilIdle(tctx(t)); err != nil {
		t.Fatalf("WaitUntilIdle(%s): %v", b, err)
	}
}
