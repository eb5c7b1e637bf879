// Package abxbustest helps test code that uses abxbus: a bus that is checked and destroyed when the
// test ends, a recorder of the events a bus accepts, order-aware expectations on the recorded events,
// and a bounded wait for a bus to go idle. The buses are real; the package only watches them.
//
//	func TestSignUp(t *testing.T) {
//		bus := abxbustest.NewBus(t, "Accounts", nil) // destroyed and checked when the test ends
//		rec := abxbustest.Record(t, bus)              // records every event the bus accepts
//		registerHandlers(bus)                          // the code under test
//
//		id, err := abxbus.Call(ctx, bus, SignUp{Email: "ada@example.com"})
//		if err != nil {
//			t.Fatal(err)
//		}
//		abxbustest.Expect(t, rec, // in this order, maybe with other events between
//			abxbustest.Type[SignUp](nil),
//			abxbustest.Type[Welcome](func(w Welcome) bool { return w.Account == id }),
//		)
//		abxbustest.WaitIdle(t, bus, 0) // let the detached work finish before the test ends
//	}
//
// Recording changes nothing the handlers see: the recorder is a lookup on the bus, not a handler, so
// no result row is added to any event and Call answers as without it (see Recorder).
//
// When the test ends, a bus made by NewBus must have finished every event it holds (an event still
// pending or started fails the test with its label and the bus's history tree), and after Destroy the
// goroutines that run its work must end (see NewBus).
//
// Every helper takes a testing.TB, so it works in tests and benchmarks. NewBus, Record and the waits
// (Expect, ExpectExactly, WaitIdle) fail with tb.Fatalf and, like it, must be called from the goroutine
// running the test; the cleanup checks report with tb.Errorf. Timeouts are time.Duration values where 0
// means DefaultTimeout. All functions are safe for concurrent use with the bus and its handlers.
package abxbustest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// NewBus creates a bus with abxbus.New(name, opts) for the test and registers a cleanup that checks it
// and destroys it. An error from New fails the test at once (tb.Fatalf).
//
// The cleanup runs when the test's cleanups reach it (last registered first, so after the cleanups
// registered later) and reports with tb.Errorf events of the bus's history or queue that have not
// completed, with their labels and statuses and the bus's history tree (wait for them with WaitIdle
// before the test ends); then it destroys the bus (Destroy(true)).
//
// Once every bus NewBus made for the test is destroyed, a last cleanup reports goroutines running
// abxbus code that did not exist at the test's first NewBus and are still alive 5 seconds later, with
// their stacks: typically a handler that ignores the cancellation of its context. It looks at the
// process, not at these buses alone: it follows the goroutines running abxbus code right after the
// destroys (other than test goroutines and recorders) and the ones they start. So a goroutine of
// another test running in parallel that stays inside abxbus through the whole wait (a handler blocked
// for seconds) is reported too, and so is one of a bus the test made without NewBus.
func NewBus(tb testing.TB, name string, opts *abxbus.Options) *abxbus.Bus {
	tb.Helper()
	g := goroutineCheck(tb)
	bus, err := abxbus.New(name, opts)
	if err != nil {
		tb.Fatalf("abxbustest.NewBus: %v", err)
		return nil
	}
	g.add(bus.Label())
	tb.Cleanup(func() {
		tb.Helper()
		if msg := unfinished(bus); msg != "" {
			tb.Errorf("%s", msg)
		}
		bus.Destroy(true)
		ctx, cancel := context.WithTimeout(context.Background(), goroutineGrace)
		defer cancel()
		_ = bus.WaitUntilIdle(ctx) // the runs Destroy stopped wind up; the goroutine check reports the rest
	})
	return bus
}

// checkGroup is the goroutine check of one test: the first NewBus of the test registers it, so that its
// cleanup runs after those of every bus the test made (cleanups run last registered first) and a stuck
// goroutine is reported once.
type checkGroup struct {
	before map[uint64]bool // goroutines alive at the first NewBus

	mu    sync.Mutex
	buses []string
}

var checks sync.Map // testing.TB -> *checkGroup, while the test runs

func goroutineCheck(tb testing.TB) *checkGroup {
	tb.Helper()
	key := any(tb)
	if !reflect.TypeOf(tb).Comparable() {
		key = new(int) // cannot be a map key: a check of its own
	}
	if g, ok := checks.Load(key); ok {
		return g.(*checkGroup)
	}
	g := &checkGroup{before: goroutineIDs()}
	checks.Store(key, g)
	tb.Cleanup(func() {
		tb.Helper()
		checks.Delete(key)
		if stacks := leakedGoroutines(g.before, goroutineGrace); len(stacks) > 0 {
			g.mu.Lock()
			buses := strings.Join(g.buses, ", ")
			g.mu.Unlock()
			tb.Errorf("abxbustest: %d goroutine(s) running abxbus code outlived the test's buses (%s, destroyed at its end) by %v:\n\n%s",
				len(stacks), buses, goroutineGrace, strings.Join(stacks, "\n\n"))
		}
	})
	return g
}

func (g *checkGroup) add(label string) {
	g.mu.Lock()
	g.buses = append(g.buses, label)
	g.mu.Unlock()
}

// unfinished describes the events of bus that have not completed, or returns "".
func unfinished(bus *abxbus.Bus) string {
	seen := map[*abxbus.BaseEvent]bool{}
	var open []string
	for _, e := range append(bus.History(), bus.PendingQueue()...) {
		if seen[e] {
			continue
		}
		seen[e] = true
		if st := e.Status(); st != abxbus.EventCompleted {
			open = append(open, fmt.Sprintf("%s (%s)", e, st))
		}
	}
	if len(open) == 0 {
		return ""
	}
	return fmt.Sprintf("abxbustest: %d event(s) on bus %s had not finished when the test ended (wait for them with abxbustest.WaitIdle): %s\n%s",
		len(open), bus.Label(), strings.Join(open, ", "), bus.LogTree())
}

// WaitIdle waits until bus has finished every event it accepted (abxbus.Bus.WaitUntilIdle), for at most
// d (0: DefaultTimeout). On timeout it fails the test with tb.Fatalf, listing the events still queued
// (in the order they would start), those in flight and the bus's history tree. A negative d, or a nil
// or zero bus, fails the test too. Like tb.Fatalf, it must be called from the goroutine running the
// test.
func WaitIdle(tb testing.TB, bus *abxbus.Bus, d time.Duration) {
	tb.Helper()
	if d < 0 {
		tb.Fatalf("abxbustest.WaitIdle: negative timeout %v", d)
		return
	}
	if d == 0 {
		d = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	err := bus.WaitUntilIdle(ctx)
	if err == nil {
		return
	}
	if ctx.Err() == nil {
		tb.Fatalf("abxbustest.WaitIdle: %v", err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "abxbustest.WaitIdle: bus %s not idle after %v\n", bus.Label(), d)
	queued := bus.PendingQueue()
	fmt.Fprintf(&b, "pending queue (%d), in start order:\n", len(queued))
	for i, e := range queued {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, describe(e))
	}
	var running []string
	for _, e := range bus.History() {
		if e.Status() == abxbus.EventStarted {
			running = append(running, describe(e))
		}
	}
	fmt.Fprintf(&b, "in flight (%d):\n", len(running))
	for _, s := range running {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	b.WriteString(bus.LogTree())
	tb.Fatalf("%s", b.String())
}
