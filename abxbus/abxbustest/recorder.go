package abxbustest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// DefaultTimeout is how long Expect, ExpectExactly and WaitIdle wait when no other duration is given.
const DefaultTimeout = 10 * time.Second

// attachTimeout bounds Record's wait for its lookup to be registered on the bus.
const attachTimeout = 10 * time.Second

// A Recorder holds, in order, the events a bus accepted since Record attached it. Create one with
// Record. All methods are safe for concurrent use.
//
// The recorder does not register a handler. It is a future lookup on the bus (Bus.Find with pattern
// "*" and a Where predicate that never matches), so the bus offers it every event it accepts, at
// acceptance, on the emitting goroutine, before any handler of that event runs; the recorder only
// appends the event to its list. Handlers, results, ordering and the history are what they would be
// without it; only the start of each event waits for that append (a lock and a slice append, plus the
// bus's own bookkeeping for a pending lookup: about 2 allocations per event). Expectations evaluate
// their matchers later, on the goroutine of the test.
//
// Order: events are listed in the order the bus offered them, which is emit order for events emitted
// one after another (from a test, or from handlers that run one after another, children included).
// Events emitted at the same moment by different goroutines appear in either order. An event forwarded
// to the bus from another bus is recorded when this bus accepts it.
//
// Cost: every recorded event stays reachable until the test ends, including events the bus has evicted
// from its history.
type Recorder struct {
	bus    *abxbus.Bus
	cancel context.CancelFunc
	done   chan struct{} // closed when the lookup has ended

	mu      sync.Mutex
	events  []*abxbus.BaseEvent
	changed chan struct{} // closed on the next change; nil while no one waits
	stopped bool          // the lookup ended: nothing more is recorded
	why     string        // why it ended
	timeout time.Duration
}

// Record attaches a new recorder to bus and returns it once it is attached: every event the bus accepts
// after Record returns is recorded (events accepted while Record runs may or may not be). The recorder
// stops when the test ends (tb.Cleanup) or when the bus is destroyed.
//
// The bus gives no signal when a lookup is registered, so Record watches the recorder's goroutine in
// the runtime's goroutine dump until it waits inside the lookup (usually the first or second look;
// each look costs a stack dump of every goroutine).
//
// Record fails the test (tb.Fatalf) for a nil or destroyed bus, or when the lookup could not be
// attached within 10 seconds. Like tb.Fatalf, it must be called from the goroutine running the test.
func Record(tb testing.TB, bus *abxbus.Bus) *Recorder {
	tb.Helper()
	if bus == nil {
		tb.Fatalf("abxbustest.Record: the bus is nil")
		return nil
	}
	if bus.IsDestroyed() {
		tb.Fatalf("abxbustest.Record: bus %s is destroyed", bus.Label())
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Recorder{bus: bus, cancel: cancel, done: make(chan struct{}), timeout: DefaultTimeout}
	id := make(chan uint64, 1)
	go r.tap(ctx, id)
	if err := r.attached(<-id); err != nil {
		r.stop()
		tb.Fatalf("abxbustest.Record: cannot record bus %s: %v", bus.Label(), err)
		return nil
	}
	tb.Cleanup(r.stop)
	return r
}

// tap is the recorder's goroutine: one lookup that waits for a match that never comes, being offered
// every accepted event meanwhile.
func (r *Recorder) tap(ctx context.Context, idOut chan<- uint64) {
	defer close(r.done)
	id, err := currentGoroutineID()
	idOut <- id
	if err != nil {
		r.end(err.Error())
		return
	}
	_, err = r.bus.Find(ctx, "*", abxbus.FindOptions{
		Past:   abxbus.Never,
		Future: abxbus.Always,
		Where:  r.see,
	})
	switch {
	case ctx.Err() != nil:
		r.end("the recorder was stopped at the end of the test")
	case err == nil || errors.Is(err, abxbus.ErrBusDestroyed):
		r.end(fmt.Sprintf("bus %s was destroyed", r.bus.Label()))
	default:
		r.end(err.Error())
	}
}

// attached waits until the tap goroutine id is parked in the lookup's wait inside package abxbus: the
// lookup registers itself on the bus before it parks, so from then on every accepted event reaches it.
// The bus offers no other signal of that moment.
func (r *Recorder) attached(id uint64) error {
	deadline := time.Now().Add(attachTimeout)
	for round := 0; ; round++ {
		select {
		case <-r.done:
			r.mu.Lock()
			defer r.mu.Unlock()
			return errors.New(r.why)
		default:
		}
		for _, g := range goroutines() {
			if g.id == id && strings.HasPrefix(g.state, "select") && strings.HasPrefix(g.firstFrame(), busPkg+".") {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("its lookup did not start waiting within %v", attachTimeout)
		}
		if round < 20 {
			runtime.Gosched()
		} else {
			time.Sleep(backoff(round))
		}
	}
}

// see is the lookup's Where predicate: it records e and never matches, so the lookup goes on.
func (r *Recorder) see(e *abxbus.BaseEvent) bool {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.notifyLocked()
	r.mu.Unlock()
	return false
}

func (r *Recorder) end(why string) {
	r.mu.Lock()
	if !r.stopped {
		r.stopped, r.why = true, why
	}
	r.notifyLocked()
	r.mu.Unlock()
}

func (r *Recorder) notifyLocked() {
	if r.changed != nil {
		close(r.changed)
		r.changed = nil
	}
}

// stop ends the lookup and waits for the recorder's goroutine to exit.
func (r *Recorder) stop() {
	r.cancel()
	<-r.done
}

// state returns the events so far, whether recording has ended (and why), and a channel closed at the
// next change.
func (r *Recorder) state() (events []*abxbus.BaseEvent, stopped bool, why string, changed <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.changed == nil {
		r.changed = make(chan struct{})
	}
	return r.events[:len(r.events):len(r.events)], r.stopped, r.why, r.changed
}

// Events returns the recorded events, in the order the bus accepted them.
func (r *Recorder) Events() []*abxbus.BaseEvent {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*abxbus.BaseEvent(nil), r.events...)
}

// Bus returns the bus the recorder is attached to.
func (r *Recorder) Bus() *abxbus.Bus {
	if r == nil {
		return nil
	}
	return r.bus
}

// SetTimeout sets how long Expect and ExpectExactly wait on this recorder; d <= 0 restores
// DefaultTimeout.
func (r *Recorder) SetTimeout(d time.Duration) {
	if r == nil {
		return
	}
	if d <= 0 {
		d = DefaultTimeout
	}
	r.mu.Lock()
	r.timeout = d
	r.mu.Unlock()
}

func (r *Recorder) waitTimeout() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.timeout
}

// A Matcher describes one expected event. Make one with Type or Match.
type Matcher struct {
	desc  string
	match func(*abxbus.BaseEvent) bool
}

// String describes the matcher, as failure messages show it.
func (m Matcher) String() string {
	if m.desc == "" {
		return "any event"
	}
	return m.desc
}

func (m Matcher) matches(e *abxbus.BaseEvent) bool {
	return m.match == nil || m.match(e)
}

// Type matches an event whose payload is a P (or, for an event that arrived as JSON, has P's event type
// and decodes into a P) and, when where is not nil, for which where returns true. where runs on the
// goroutine of the test that waits, never on the bus's.
func Type[P abxbus.Payload[R], R any](where func(P) bool) Matcher {
	var zero P
	desc := abxbus.NewEvent(zero).Base().Type()
	if where != nil {
		desc += " (with a predicate)"
	}
	return Matcher{desc: desc, match: func(e *abxbus.BaseEvent) bool {
		ev, ok := abxbus.As[P](e)
		if !ok {
			return false
		}
		if where == nil {
			return true
		}
		p, err := ev.Payload()
		return err == nil && where(p)
	}}
}

// Match matches the events for which fn returns true (every event when fn is nil); desc names it in
// failure messages. Use it for what a payload does not show: lineage (e.IsChildOf), the emitting
// handler, options. fn runs on the goroutine of the test that waits.
func Match(desc string, fn func(e *abxbus.BaseEvent) bool) Matcher {
	return Matcher{desc: desc, match: fn}
}

// Expect waits until the recorder holds events matching want in this relative order, and returns them
// (one per matcher). Other events may come before, between and after them: it checks a subsequence.
// Each matcher takes the earliest recorded event after the previous matcher's that it matches. Every
// call looks at everything recorded since Record, not only at what arrived since the last call.
//
// It waits up to the recorder's timeout (SetTimeout, default DefaultTimeout) and fails the test with
// tb.Fatalf when the events did not all arrive by then, or when the bus was destroyed before they did;
// the message lists which matchers were satisfied by which event, what was recorded (label, status,
// payload) and the bus's history tree. Like tb.Fatalf, it must be called from the goroutine running the
// test. The events are returned as soon as they were recorded: they may still be in flight (call Wait
// or WaitIdle before reading results). With no matcher it returns nil at once.
func Expect(tb testing.TB, r *Recorder, want ...Matcher) []*abxbus.BaseEvent {
	tb.Helper()
	if r == nil {
		tb.Fatalf("abxbustest.Expect: the recorder is nil")
		return nil
	}
	if len(want) == 0 {
		return nil
	}
	timeout := r.waitTimeout()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	// Greedy matching is incremental: each new event can only extend the matched prefix of want.
	matched := make([]int, 0, len(want)) // indexes into the recording
	next := 0                            // first recorded event not looked at yet
	for {
		events, stopped, why, changed := r.state()
		for ; next < len(events) && len(matched) < len(want); next++ {
			if want[len(matched)].matches(events[next]) {
				matched = append(matched, next)
			}
		}
		if len(matched) == len(want) {
			out := make([]*abxbus.BaseEvent, len(matched))
			for i, at := range matched {
				out[i] = events[at]
			}
			return out
		}
		var reason string
		if stopped {
			reason = "recording ended (" + why + ")"
		} else {
			select {
			case <-changed:
				continue
			case <-timer.C:
				reason = fmt.Sprintf("not recorded within %v", timeout)
			}
		}
		tb.Fatalf("%s", expectFailure("Expect", r, reason, want, matched, events, false))
		return nil
	}
}

// ExpectExactly waits until the recorder holds exactly the events described by want, in this order,
// with no other event before, between or after them, and returns them. Once that many events are
// recorded and match, it also waits for the bus to be idle and checks again, so that events the
// recorded ones cause (children, detached work) are not missed; an unexpected event, or a recorded event
// that does not match its matcher, fails at once. Waiting and failing are as for Expect; the time to
// idle counts against the same timeout.
func ExpectExactly(tb testing.TB, r *Recorder, want ...Matcher) []*abxbus.BaseEvent {
	tb.Helper()
	if r == nil {
		tb.Fatalf("abxbustest.ExpectExactly: the recorder is nil")
		return nil
	}
	timeout := r.waitTimeout()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		events, stopped, why, changed := r.state()
		matched := make([]int, 0, len(want))
		bad := false
		for i := 0; i < len(events) && i < len(want); i++ {
			if !want[i].matches(events[i]) {
				bad = true
				break
			}
			matched = append(matched, i)
		}
		var reason string
		switch {
		case bad:
			reason = fmt.Sprintf("event %d (%s) is not %s", len(matched)+1, events[len(matched)], want[len(matched)])
		case len(events) > len(want):
			reason = fmt.Sprintf("%d events recorded, %d expected", len(events), len(want))
		case len(events) == len(want):
			err := r.bus.WaitUntilIdle(ctx)
			if err != nil && ctx.Err() != nil {
				reason = fmt.Sprintf("bus %s not idle within %v", r.bus.Label(), timeout)
				break
			}
			if again, _, _, _ := r.state(); len(again) == len(events) {
				out := make([]*abxbus.BaseEvent, len(events))
				copy(out, events)
				return out
			}
			continue // more events arrived meanwhile: look at them
		case stopped:
			reason = "recording ended (" + why + ")"
		default:
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				reason = fmt.Sprintf("not recorded within %v", timeout)
			}
		}
		tb.Fatalf("%s", expectFailure("ExpectExactly", r, reason, want, matched, events, bad))
		return nil
	}
}

// expectFailure renders what was expected, what matched and what was recorded. bad says that the
// recorded event after the matched ones does not match the next matcher (ExpectExactly).
func expectFailure(op string, r *Recorder, reason string, want []Matcher, matched []int, events []*abxbus.BaseEvent, bad bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "abxbustest.%s on bus %s: %d of %d expected events matched; %s\n", op, r.bus.Label(), len(matched), len(want), reason)
	if op == "Expect" {
		b.WriteString("expected, in this order (other events may come between them):\n")
	} else {
		b.WriteString("expected exactly, in this order:\n")
	}
	for i, m := range want {
		switch {
		case i < len(matched):
			fmt.Fprintf(&b, "  ok      %d. %s: recorded event %d, %s\n", i+1, m, matched[i]+1, events[matched[i]])
		case i == len(matched) && bad:
			fmt.Fprintf(&b, "  WRONG   %d. %s: recorded event %d is %s\n", i+1, m, i+1, events[i])
		case i == len(matched) && op == "Expect" && len(matched) > 0:
			fmt.Fprintf(&b, "  MISSING %d. %s: none after recorded event %d\n", i+1, m, matched[i-1]+1)
		default:
			fmt.Fprintf(&b, "  MISSING %d. %s\n", i+1, m)
		}
	}
	fmt.Fprintf(&b, "recorded (%d), in the order the bus accepted them:\n", len(events))
	for i, e := range events {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, describe(e))
	}
	if len(events) == 0 {
		b.WriteString("  (nothing)\n")
	}
	b.WriteString(r.bus.LogTree())
	return b.String()
}

// describe is one line about an event: label, status, payload JSON (shortened).
func describe(e *abxbus.BaseEvent) string {
	s := fmt.Sprintf("%s %s", e, e.Status())
	if raw, err := e.PayloadJSON(); err == nil && len(raw) > 0 && string(raw) != "{}" {
		const max = 160
		if len(raw) > max {
			raw = append(raw[:max:max], "..."...)
		}
		s += " " + string(raw)
	}
	return s
}
