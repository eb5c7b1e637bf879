package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// The standard workloads (issue 7). Each one builds its buses, runs the timed section between
// startMeter and stop, then checks outside the timed section that the work was done correctly: every
// event handled, results as expected, history bounded, timed-out children recorded as errors. Checks
// that must look inside the timed section use only non-allocating reads (Status, counters), except
// where a workload's note says otherwise.

var workloads = []workload{
	{key: "50k", unit: "event", refMs: 0.068, refAllocs: 70, run: run50k, floor: floorSpec{floorChanRR, perUnit(1)},
		summary: "1 bus (history 512, drop), 1 handler; 50,000 events awaited in batches of 512 with Wait (queue order)"},
	{key: "ephemeral", unit: "event", refMs: 0.073, refAllocs: 72, run: runEphemeral, floor: floorSpec{floorChanRR, perUnit(1)},
		summary: "500 buses one after another (history 128, drop), 100 events each; then destroy"},
	{key: "handlers", unit: "handler", refMs: 0.179, refAllocs: 29, run: runHandlers, floor: floorSpec{floorSpawn, perUnit(1)},
		summary: "1 bus, 50,000 parallel handlers (registration timed apart); 1 event awaited"},
	{key: "onoff", unit: "event", refMs: 0.095, refAllocs: 93, run: runOnOff, floor: floorSpec{floorChanRR, perUnit(1)},
		summary: "1 bus; 50,000 x (register a handler, emit, await, unregister)"},
	{key: "worst", unit: "event", refMs: 0.309, refAllocs: 150, run: runWorst, floor: floorSpec{floorTimer, worstTimeoutsPerEvent},
		summary: "parent + child bus (child timeout 1 ms), 2,000 parents in batches of 128, child awaited with Now; every 20th child times out"},
	{key: "cleanup", unit: "event", refMs: 0.119, refAllocs: 73, run: runCleanup, floor: floorSpec{floorChanRR, perUnit(1)},
		summary: "80 buses x 64 events, shrink history to 1, one more event, destroy; retained state empty"},
	{key: "fanout-serial", unit: "event", refMs: 11.2, floor: floorSpec{floorSleep, perUnit(4)}, run: func(ctx context.Context, cfg benchConfig) outcome {
		return runFanout(ctx, cfg, abxbus.HandlersSerial)
	}, summary: "1 bus, 4 handlers sleeping 1.5 ms, 800 events in batches of 40, serial handlers"},
	{key: "fanout-parallel", unit: "event", refMs: 2.7, floor: floorSpec{floorSleep, perUnit(1)}, run: func(ctx context.Context, cfg benchConfig) outcome {
		return runFanout(ctx, cfg, abxbus.HandlersParallel)
	}, summary: "the same with parallel handlers"},
}

// worstTimeoutsPerEvent: worst's slow children (every 20th) each wait for their 1 ms timeout, one
// after another (the parent bus is serial); the rest of its work is not timer-bound.
func worstTimeoutsPerEvent(units int) float64 {
	const slowEvery = 20
	return float64((units+slowEvery-1)/slowEvery) / float64(max(units, 1))
}

// Event types of the workloads. Each handler returns a value derived from the payload so that the
// checks can tell a real result from a zero value.

type PerfSimpleEvent struct {
	abxbus.Returns[int]
	Value   int `json:"value"`
	BatchID int `json:"batch_id"`
}

type PerfEphemeralEvent struct {
	abxbus.Returns[int]
	Value int `json:"value"`
}

type PerfFixedHandlersEvent struct {
	abxbus.Returns[int]
}

type PerfOneOffEvent struct {
	abxbus.Returns[int]
	Value int `json:"value"`
}

type WCParent struct {
	abxbus.Returns[string]
	Iteration int `json:"iteration"`
}

type WCChild struct {
	abxbus.Returns[string]
	Iteration int `json:"iteration"`
}

type CleanupEvent struct {
	abxbus.Returns[int]
	Value int `json:"value"`
}

type CleanupTrimEvent struct {
	abxbus.Returns[int]
}

type PerfFanoutEvent struct {
	abxbus.Returns[int]
}

// newBus wraps abxbus.New for the workloads, whose options are always valid.
func newBus(o *outcome, name string, opts *abxbus.Options) *abxbus.Bus {
	b, err := abxbus.New(name, opts)
	if err != nil {
		o.fail("New(%s): %v", name, err)
	}
	return b
}

// awaitBatch calls Now on every event of a batch and checks that each one completed.
func awaitBatch[P any, R any](ctx context.Context, o *outcome, batch []*abxbus.Event[P, R]) {
	for _, e := range batch {
		if err := e.Wait(ctx); err != nil {
			o.fail("Wait(%s): %v", e, err)
			return
		}
		if s := e.Status(); s != abxbus.EventCompleted {
			o.fail("%s is %s after Wait", e, s)
			return
		}
	}
}

func waitIdle(ctx context.Context, o *outcome, buses ...*abxbus.Bus) {
	for _, b := range buses {
		if err := b.WaitUntilIdle(ctx); err != nil {
			o.fail("WaitUntilIdle(%s): %v", b, err)
		}
	}
}

func checkHistory(o *outcome, b *abxbus.Bus, limit int) {
	if n := b.HistoryLen(); n > limit {
		o.fail("%s retains %d events, more than max_history_size %d", b, n, limit)
	}
}

// checkResult checks the first result of an event against want (outside the timed section).
func checkResult[P any, R comparable](ctx context.Context, o *outcome, e *abxbus.Event[P, R], want R) {
	got, err := e.Result(ctx)
	if err != nil {
		o.fail("result of %s: %v", e, err)
		return
	}
	if got != want {
		o.fail("result of %s: got %v, want %v", e, got, want)
	}
}

// 50k: 1 bus (history 512, drop on), 1 handler; emit 50,000 events, awaiting them in batches of 512 (Now
// on each), then wait until idle.
func run50k(ctx context.Context, cfg benchConfig) outcome {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	const history, batchSize = 512, 512
	n := cfg.scaled(50_000, 2*batchSize+1)
	o := outcome{units: n}
	bus := newBus(&o, "Perf50kBus", &abxbus.Options{MaxHistorySize: abxbus.Ptr(history), MaxHistoryDrop: true})
	if bus == nil {
		return o
	}
	defer bus.Destroy(true)
	var processed, checksum atomic.Int64
	var outOfOrder atomic.Int64
	var next int64 // the handler runs bus-serial: it sees values in emit order
	abxbus.On(bus, func(ctx context.Context, p PerfSimpleEvent) (int, error) {
		processed.Add(1)
		checksum.Add(int64(p.Value + p.BatchID))
		if int64(p.Value) != next {
			outOfOrder.Add(1)
		}
		next = int64(p.Value) + 1
		return 2*p.Value + 1, nil
	})
	var expected int64
	// every 1024th event is kept for a result check after the timed section (a few dozen events, so
	// the retained memory does not distort the peak heap figure)
	kept := make([]*abxbus.Event[PerfSimpleEvent, int], 0, n/1024+1)
	batch := make([]*abxbus.Event[PerfSimpleEvent, int], 0, batchSize)

	m := startMeter()
	for i := 0; i < n && o.failure == nil; i++ {
		expected += int64(i + i%17)
		e, err := abxbus.Emit(ctx, bus, PerfSimpleEvent{Value: i, BatchID: i % 17})
		if err != nil {
			o.fail("Emit #%d: %v", i, err)
			break
		}
		if i%1024 == 0 {
			kept = append(kept, e)
		}
		batch = append(batch, e)
		if len(batch) == batchSize {
			awaitBatch(ctx, &o, batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	awaitBatch(ctx, &o, batch)
	waitIdle(ctx, &o, bus)
	o.main = m.stop()

	if got := processed.Load(); got != int64(n) {
		o.fail("handler ran %d times, want %d", got, n)
	}
	if got := checksum.Load(); got != expected {
		o.fail("payload checksum %d, want %d", got, expected)
	}
	if x := outOfOrder.Load(); x != 0 {
		o.fail("%d events handled out of FIFO order", x)
	}
	checkHistory(&o, bus, history)
	for _, e := range kept {
		p, _ := e.Payload()
		checkResult(ctx, &o, e, 2*p.Value+1)
	}
	return o
}

// ephemeral: 500 buses one after another (history 128, drop on), 1 handler each; emit 100 events, await
// all, wait until idle, destroy the bus.
func runEphemeral(ctx context.Context, cfg benchConfig) outcome {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	const history, perBus = 128, 100
	buses := cfg.scaled(500, 3)
	o := outcome{units: buses * perBus}
	var processed, checksum atomic.Int64
	var expected int64
	batch := make([]*abxbus.Event[PerfEphemeralEvent, int], 0, perBus)
	names := make([]string, buses)
	for i := range names {
		names[i] = fmt.Sprintf("PerfEphemeralBus%d", i)
	}
	// the last event of every bus is kept for a result check after the timed section
	last := make([]*abxbus.Event[PerfEphemeralEvent, int], 0, buses)

	m := startMeter()
	for bi := 0; bi < buses && o.failure == nil; bi++ {
		bus := newBus(&o, names[bi], &abxbus.Options{MaxHistorySize: abxbus.Ptr(history), MaxHistoryDrop: true})
		if bus == nil {
			break
		}
		abxbus.On(bus, func(ctx context.Context, p PerfEphemeralEvent) (int, error) {
			processed.Add(1)
			checksum.Add(int64(p.Value))
			return p.Value + 7, nil
		})
		for i := range perBus {
			v := bi*perBus + i
			expected += int64(v)
			e, err := abxbus.Emit(ctx, bus, PerfEphemeralEvent{Value: v})
			if err != nil {
				o.fail("Emit on %s: %v", bus, err)
				break
			}
			batch = append(batch, e)
		}
		awaitBatch(ctx, &o, batch)
		last = append(last, batch[len(batch)-1])
		clear(batch)
		batch = batch[:0]
		waitIdle(ctx, &o, bus)
		checkHistory(&o, bus, history)
		bus.Destroy(true)
	}
	o.main = m.stop()

	if got := processed.Load(); got != int64(o.units) {
		o.fail("handlers ran %d times, want %d", got, o.units)
	}
	if got := checksum.Load(); got != expected {
		o.fail("payload checksum %d, want %d", got, expected)
	}
	for _, e := range last {
		p, _ := e.Payload()
		checkResult(ctx, &o, e, p.Value+7)
	}
	return o
}

// handlers: 1 bus, 50,000 handlers registered (registration timed separately), handler concurrency
// parallel; emit 1 event and await it.
func runHandlers(ctx context.Context, cfg benchConfig) outcome {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	n := cfg.scaled(50_000, 100)
	o := outcome{units: n, phases: map[string]sample{}}
	bus := newBus(&o, "PerfFixedHandlersBus", &abxbus.Options{
		MaxHistorySize:     abxbus.Ptr(128),
		MaxHistoryDrop:     true,
		HandlerConcurrency: abxbus.HandlersParallel,
		Completion:         abxbus.CompleteAll,
		DetectFilePaths:    abxbus.Ptr(false),
	})
	if bus == nil {
		return o
	}
	defer bus.Destroy(true)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("perf_fixed_handler_%05d", i)
	}
	var handled atomic.Int64
	fn := func(ctx context.Context, p PerfFixedHandlersEvent) (int, error) {
		handled.Add(1)
		return 1, nil
	}

	reg := startMeter()
	for i := range n {
		if _, err := abxbus.On(bus, fn, abxbus.WithName(names[i])); err != nil {
			o.fail("On #%d: %v", i, err)
			break
		}
	}
	o.phases["register"] = reg.stop()
	if got := len(bus.Handlers()); got != n && o.failure == nil {
		o.fail("%d handlers registered, want %d", got, n)
	}

	m := startMeter()
	e, err := abxbus.Emit(ctx, bus, PerfFixedHandlersEvent{})
	if err != nil {
		o.fail("Emit: %v", err)
	} else if err := e.Now(ctx); err != nil {
		o.fail("Now: %v", err)
	}
	waitIdle(ctx, &o, bus)
	o.main = m.stop()

	if got := handled.Load(); got != int64(n) {
		o.fail("%d handler calls, want %d", got, n)
	}
	if e != nil && o.failure == nil {
		rs, err := e.Results(ctx)
		switch {
		case err != nil:
			o.fail("results: %v", err)
		case len(rs) != n:
			o.fail("%d results, want %d", len(rs), n)
		default:
			for i, r := range rs {
				if r != 1 {
					o.fail("result #%d is %d, want 1", i, r)
					break
				}
			}
		}
	}
	return o
}

// onoff: 1 bus; 50,000 times: register a handler, emit one event, await it, unregister the handler.
func runOnOff(ctx context.Context, cfg benchConfig) outcome {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	const history = 128
	n := cfg.scaled(50_000, 100)
	o := outcome{units: n}
	bus := newBus(&o, "PerfOnOffChurnBus", &abxbus.Options{MaxHistorySize: abxbus.Ptr(history), MaxHistoryDrop: true})
	if bus == nil {
		return o
	}
	defer bus.Destroy(true)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("perf_one_off_handler_%05d", i)
	}
	var handled atomic.Int64
	var wrongHandler atomic.Int64
	kept := make([]*abxbus.Event[PerfOneOffEvent, int], 0, n/1024+1)

	m := startMeter()
	for i := 0; i < n && o.failure == nil; i++ {
		want := i
		h, err := abxbus.On(bus, func(ctx context.Context, p PerfOneOffEvent) (int, error) {
			handled.Add(1)
			if p.Value != want {
				wrongHandler.Add(1) // an earlier registration was not removed
			}
			return p.Value * 3, nil
		}, abxbus.WithName(names[i]))
		if err != nil {
			o.fail("On #%d: %v", i, err)
			break
		}
		e, err := abxbus.Emit(ctx, bus, PerfOneOffEvent{Value: i})
		if err != nil {
			o.fail("Emit #%d: %v", i, err)
			break
		}
		if err := e.Now(ctx); err != nil {
			o.fail("Now #%d: %v", i, err)
			break
		}
		if !bus.Off(h) {
			o.fail("Off #%d: handler was not registered", i)
			break
		}
		if i%1024 == 0 {
			kept = append(kept, e)
		}
	}
	waitIdle(ctx, &o, bus)
	o.main = m.stop()

	if got := handled.Load(); got != int64(n) {
		o.fail("%d handler calls, want %d", got, n)
	}
	if x := wrongHandler.Load(); x != 0 {
		o.fail("%d calls reached a handler that should have been unregistered", x)
	}
	if got := len(bus.Handlers()); got != 0 {
		o.fail("%d handlers left registered", got)
	}
	checkHistory(&o, bus, history)
	for _, e := range kept {
		p, _ := e.Payload()
		checkResult(ctx, &o, e, p.Value*3)
	}
	return o
}

func isTimeoutKind(err error) bool {
	return errors.Is(err, abxbus.ErrHandlerTimeout) || errors.Is(err, abxbus.ErrEventTimeout) ||
		errors.Is(err, abxbus.ErrHandlerAborted) || errors.Is(err, abxbus.ErrHandlerCancelled)
}

// worst: a parent bus and a child bus (child event timeout 1 ms); 2,000 parent events in batches of 128;
// the parent handler emits an event on the child bus and awaits it with Now; every 20th child handler
// outlives the timeout (it returns only when its context is done or after 2 ms).
//
// The parent handler inspects the child's result right after Now (EventResults: one small allocation
// per event inside the timed section), so no child has to be retained for the checks.
func runWorst(ctx context.Context, cfg benchConfig) outcome {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	const history, batchSize, slowEvery = 128, 128, 20
	n := cfg.scaled(2_000, 2*batchSize+1)
	o := outcome{units: n}
	parentBus := newBus(&o, "PerfWorstParentBus", &abxbus.Options{MaxHistorySize: abxbus.Ptr(history), MaxHistoryDrop: true})
	childBus := newBus(&o, "PerfWorstChildBus", &abxbus.Options{
		MaxHistorySize: abxbus.Ptr(history), MaxHistoryDrop: true, EventTimeout: time.Millisecond,
	})
	if parentBus == nil || childBus == nil {
		return o
	}
	defer parentBus.Destroy(true)
	defer childBus.Destroy(true)

	var parents, children, slowTimedOut, slowStopped, fastOK, fastTimedOut atomic.Int64
	var bad atomic.Int64
	var firstBad atomic.Pointer[string]
	report := func(format string, args ...any) {
		bad.Add(1)
		s := fmt.Sprintf(format, args...)
		firstBad.CompareAndSwap(nil, &s)
	}
	abxbus.On(childBus, func(ctx context.Context, p WCChild) (string, error) {
		children.Add(1)
		if p.Iteration%slowEvery != 0 {
			return "ok", nil
		}
		t := time.NewTimer(2 * time.Millisecond)
		defer t.Stop()
		select {
		case <-t.C:
			return "late", nil
		case <-ctx.Done():
			slowStopped.Add(1)
			return "", ctx.Err()
		}
	})
	abxbus.On(parentBus, func(ctx context.Context, p WCParent) (string, error) {
		parents.Add(1)
		child, err := abxbus.Emit(ctx, childBus, WCChild{Iteration: p.Iteration})
		if err != nil {
			report("parent %d: emit child: %v", p.Iteration, err)
			return "", err
		}
		if err := child.Now(ctx); err != nil {
			report("parent %d: Now(child): %v", p.Iteration, err)
			return "", err
		}
		rs := child.EventResults()
		if len(rs) != 1 {
			report("child %d has %d results, want 1", p.Iteration, len(rs))
			return "done", nil
		}
		v, herr := rs[0].Value()
		switch slow := p.Iteration%slowEvery == 0; {
		case slow && herr == nil:
			report("child %d outlived its 1 ms timeout but recorded no error (value %v)", p.Iteration, v)
		case slow && !isTimeoutKind(herr):
			report("child %d: want a timeout error, got %v", p.Iteration, herr)
		case slow:
			slowTimedOut.Add(1)
		case herr != nil && isTimeoutKind(herr):
			fastTimedOut.Add(1) // a fast child can miss 1 ms on a loaded machine: legal, reported
		case herr != nil:
			report("child %d: unexpected error %v", p.Iteration, herr)
		case v != "ok":
			report("child %d: value %v, want ok", p.Iteration, v)
		default:
			fastOK.Add(1)
		}
		return "done", nil
	})
	batch := make([]*abxbus.Event[WCParent, string], 0, batchSize)
	kept := make([]*abxbus.Event[WCParent, string], 0, n/batchSize+1)

	m := startMeter()
	for i := 0; i < n && o.failure == nil; i++ {
		e, err := abxbus.Emit(ctx, parentBus, WCParent{Iteration: i})
		if err != nil {
			o.fail("Emit #%d: %v", i, err)
			break
		}
		batch = append(batch, e)
		if len(batch) == batchSize {
			kept = append(kept, batch[0])
			awaitBatch(ctx, &o, batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	awaitBatch(ctx, &o, batch)
	waitIdle(ctx, &o, parentBus, childBus)
	o.main = m.stop()

	slowWant := int64((n + slowEvery - 1) / slowEvery)
	if got := parents.Load(); got != int64(n) {
		o.fail("parent handler ran %d times, want %d", got, n)
	}
	if got := children.Load(); got != int64(n) {
		o.fail("child handler ran %d times, want %d", got, n)
	}
	if x := bad.Load(); x != 0 {
		o.fail("%d wrong child outcomes, first: %s", x, *firstBad.Load())
	}
	if got := slowTimedOut.Load(); got != slowWant {
		o.fail("%d slow children recorded a timeout error, want %d", got, slowWant)
	}
	if got := fastOK.Load() + fastTimedOut.Load(); got != int64(n)-slowWant {
		o.fail("%d fast children accounted for, want %d", got, int64(n)-slowWant)
	}
	checkHistory(&o, parentBus, history)
	checkHistory(&o, childBus, history)
	for _, e := range kept {
		checkResult(ctx, &o, e, "done")
	}
	o.extra = map[string]any{
		"slow_children_timed_out":   slowTimedOut.Load(),
		"slow_handlers_saw_ctx_end": slowStopped.Load(),
		"fast_children_timed_out":   fastTimedOut.Load(),
	}
	return o
}

// cleanup: 80 buses x 64 events (history 128, drop on), then shrink history to 1, emit one more event,
// wait until idle, destroy; the retained state must be empty.
func runCleanup(ctx context.Context, cfg benchConfig) outcome {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	const history, perBus = 128, 64
	buses := cfg.scaled(80, 2)
	o := outcome{units: buses * perBus}
	names := make([]string, buses)
	for i := range names {
		names[i] = fmt.Sprintf("CleanupEqDestroy%d", i)
	}
	var handled atomic.Int64
	batch := make([]*abxbus.Event[CleanupEvent, int], 0, perBus)
	last := make([]*abxbus.Event[CleanupEvent, int], 0, buses)

	m := startMeter()
	for bi := 0; bi < buses && o.failure == nil; bi++ {
		bus := newBus(&o, names[bi], &abxbus.Options{MaxHistorySize: abxbus.Ptr(history), MaxHistoryDrop: true})
		if bus == nil {
			break
		}
		abxbus.On(bus, func(ctx context.Context, p CleanupEvent) (int, error) {
			handled.Add(1)
			return p.Value + 1, nil
		})
		for i := range perBus {
			e, err := abxbus.Emit(ctx, bus, CleanupEvent{Value: i})
			if err != nil {
				o.fail("Emit on %s: %v", bus, err)
				break
			}
			batch = append(batch, e)
		}
		awaitBatch(ctx, &o, batch)
		last = append(last, batch[len(batch)-1])
		clear(batch)
		batch = batch[:0]

		bus.SetMaxHistory(1, true)
		trim, err := abxbus.Emit(ctx, bus, CleanupTrimEvent{})
		if err != nil {
			o.fail("Emit trim event on %s: %v", bus, err)
			break
		}
		if err := trim.Now(ctx); err != nil {
			o.fail("Now(trim event) on %s: %v", bus, err)
		}
		waitIdle(ctx, &o, bus)
		if h := bus.HistoryLen(); h > 1 {
			o.fail("%s: history %d after shrinking to 1", bus, h)
		}
		bus.Destroy(true)
		if h := bus.HistoryLen(); h != 0 {
			o.fail("%s: history %d after Destroy", bus, h)
		}
		if q := bus.QueueLen(); q != 0 {
			o.fail("%s: %d events queued after Destroy", bus, q)
		}
		if !bus.IsIdle() {
			o.fail("%s: not idle after Destroy", bus)
		}
		if hs := bus.Handlers(); len(hs) != 0 {
			o.fail("%s: %d handlers retained after Destroy", bus, len(hs))
		}
	}
	o.main = m.stop()

	if got := handled.Load(); got != int64(o.units) {
		o.fail("handlers ran %d times, want %d", got, o.units)
	}
	for _, e := range last {
		checkResult(ctx, &o, e, perBus)
	}
	return o
}

// fanout: 1 bus, 4 handlers that each sleep 1.5 ms, 800 events awaited in batches of 40, handler
// concurrency serial or parallel.
func runFanout(ctx context.Context, cfg benchConfig, mode abxbus.HandlerConcurrency) outcome {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	const history, batchSize, handlers = 128, 40, 4
	const sleep = fanoutSleep
	n := cfg.scaled(800, 2*batchSize)
	o := outcome{units: n}
	bus := newBus(&o, "PerfFanoutBus", &abxbus.Options{
		MaxHistorySize: abxbus.Ptr(history), MaxHistoryDrop: true,
		HandlerConcurrency: mode, DetectFilePaths: abxbus.Ptr(false),
	})
	if bus == nil {
		return o
	}
	defer bus.Destroy(true)
	var handled atomic.Int64
	for i := range handlers {
		abxbus.On(bus, func(ctx context.Context, p PerfFanoutEvent) (int, error) {
			time.Sleep(sleep)
			handled.Add(1)
			return i, nil
		}, abxbus.WithName(fmt.Sprintf("fanout_handler_%d", i)))
	}
	batch := make([]*abxbus.Event[PerfFanoutEvent, int], 0, batchSize)
	kept := make([]*abxbus.Event[PerfFanoutEvent, int], 0, n/batchSize+1)

	m := startMeter()
	for i := 0; i < n && o.failure == nil; i++ {
		e, err := abxbus.Emit(ctx, bus, PerfFanoutEvent{})
		if err != nil {
			o.fail("Emit #%d: %v", i, err)
			break
		}
		batch = append(batch, e)
		if len(batch) == batchSize {
			kept = append(kept, batch[0])
			awaitBatch(ctx, &o, batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	awaitBatch(ctx, &o, batch)
	waitIdle(ctx, &o, bus)
	o.main = m.stop()

	if got := handled.Load(); got != int64(n*handlers) {
		o.fail("%d handler calls, want %d", got, n*handlers)
	}
	for _, e := range kept {
		rs, err := e.Results(ctx)
		if err != nil {
			o.fail("results of %s: %v", e, err)
			continue
		}
		if len(rs) != handlers {
			o.fail("%s has %d results, want %d", e, len(rs), handlers)
			continue
		}
		for i, r := range rs {
			if r != i {
				o.fail("%s result #%d is %d, want %d (registration order, F153)", e, i, r, i)
			}
		}
	}
	checkHistory(&o, bus, history)
	// The floor is the handlers' own sleeps as this machine times them (time.Sleep overshoots, often by
	// a fixed slack): serial pays 4 sleeps per event, parallel one.
	floor := measureSleep(sleep, 50)
	if mode == abxbus.HandlersParallel {
		o.extra = map[string]any{"sleep_floor_ms": ms(floor)}
	} else {
		o.extra = map[string]any{"sleep_floor_ms": ms(handlers * floor)}
	}
	return o
}

// measureSleep returns the mean real duration of time.Sleep(d) over n calls.
func measureSleep(d time.Duration, n int) time.Duration {
	start := time.Now()
	for range n {
		time.Sleep(d)
	}
	return time.Since(start) / time.Duration(n)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
