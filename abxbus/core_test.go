package abxbus_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/typedbus/abxbus-go/abxbus"
)

// F5, F69, F70: emit returns the same record, pending, in history and queued; completion is async.
func TestEmitReturnsSameRecordPending(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "EmitBus", nil)
	gate, started := make(chan struct{}), make(chan int, 2)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { started <- p.N; <-gate; return p.N, nil }))
	first := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: 1}))
	second := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: 2}))
	if n := <-started; n != 1 { // the first is running, the second queued behind it
		t.Fatalf("event %d started first", n)
	}
	if s := second.Status(); s != abxbus.EventPending {
		t.Fatalf("second status %s, want pending", s)
	}
	h := bus.History()
	if len(h) != 2 || h[0] != first.Base() || h[1] != second.Base() {
		t.Fatalf("history %v does not hold the same records in emit order", h)
	}
	if got := second.Base().Path(); len(got) != 1 || got[0] != bus.Label() {
		t.Fatalf("event_path %v, want [%s] (F71)", got, bus.Label())
	}
	close(gate)
	if err := second.Now(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := second.Result(ctx); err != nil || v != 2 {
		t.Fatalf("result %v %v", v, err)
	}
	if bus.QueueLen() != 0 || bus.HistoryLen() != 2 {
		t.Fatalf("after completion queue=%d history=%d, want 0 and 2 (F70)", bus.QueueLen(), bus.HistoryLen())
	}
}

// F84: the four emit styles, exactly.
func TestEmitStyleMatrixF84(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "MatrixBus", nil)
	rec := &recorder{}
	type row struct {
		kid           *abxbus.Event[Kid, int]
		parentID      abxbus.ID
		blocks        bool
		doneInHandler bool
	}
	rows := map[string]*row{}
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) {
		rec.add(fmt.Sprintf("kid-%d", k.N))
		return k.N, nil
	}))
	var parent *abxbus.Event[Parent, string]
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Parent) (string, error) {
		// 1: linked child, awaited
		c1 := must[*abxbus.Event[Kid, int]](t)(abxbus.EmitChildOf(ctx, Kid{N: 1}))
		if err := c1.Now(ctx); err != nil {
			return "", err
		}
		rows["event.emit+now"] = &row{kid: c1, doneInHandler: c1.Status() == abxbus.EventCompleted}
		// 2: linked child, not awaited
		c2 := must[*abxbus.Event[Kid, int]](t)(abxbus.EmitChildOf(ctx, Kid{N: 2}))
		rows["event.emit"] = &row{kid: c2, doneInHandler: c2.Status() == abxbus.EventCompleted}
		// 3: detached, awaited
		c3 := must[*abxbus.Event[Kid, int]](t)(abxbus.Emit(ctx, bus, Kid{N: 3}))
		if err := c3.Now(ctx); err != nil {
			return "", err
		}
		rows["bus.emit+now"] = &row{kid: c3, doneInHandler: c3.Status() == abxbus.EventCompleted}
		// 4: detached, not awaited
		c4 := must[*abxbus.Event[Kid, int]](t)(abxbus.Emit(ctx, bus, Kid{N: 4}))
		rows["bus.emit"] = &row{kid: c4, doneInHandler: c4.Status() == abxbus.EventCompleted}
		rec.add("parent-end")
		return "ok", nil
	}))
	parent = must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctx, bus, Parent{Name: "p"}))
	if err := parent.Now(ctx); err != nil {
		t.Fatal(err)
	}
	idle(t, bus)
	pid := parent.ID()
	want := map[string]row{
		"event.emit+now": {parentID: pid, blocks: true, doneInHandler: true},
		"event.emit":     {parentID: pid, blocks: false, doneInHandler: false},
		"bus.emit+now":   {parentID: abxbus.ID{}, blocks: false, doneInHandler: true},
		"bus.emit":       {parentID: abxbus.ID{}, blocks: false, doneInHandler: false},
	}
	for name, w := range want {
		got := rows[name]
		if got == nil {
			t.Fatalf("%s: not recorded", name)
		}
		b := got.kid.Base()
		if b.ParentID() != w.parentID || b.BlocksParentCompletion() != w.blocks || got.doneInHandler != w.doneInHandler {
			t.Errorf("%s: parent=%v blocks=%v doneInHandler=%v, want parent=%v blocks=%v doneInHandler=%v",
				name, b.ParentID(), b.BlocksParentCompletion(), got.doneInHandler, w.parentID, w.blocks, w.doneInHandler)
		}
	}
	// Linked children are in the parent's lineage; detached ones are not (F82, F83).
	kids := parent.Base().Children()
	if len(kids) != 2 || kids[0] != rows["event.emit+now"].kid.Base() || kids[1] != rows["event.emit"].kid.Base() {
		t.Fatalf("parent children %v, want the two linked kids", kids)
	}
	if !rows["event.emit"].kid.Base().IsChildOf(parent.Base()) || rows["bus.emit"].kid.Base().IsChildOf(parent.Base()) {
		t.Fatal("IsChildOf disagrees with the matrix")
	}
	// Order on the serial bus: awaited ones inside the handler, the others after it (F109).
	if diff := cmp.Diff([]string{"kid-1", "kid-3", "parent-end", "kid-2", "kid-4"}, rec.get()); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}
	// Every linked child records the emitting handler (F23).
	h := parent.EventResults()[0].Handler()
	if rows["event.emit"].kid.Base().EmittedByHandlerID() != h.ID() {
		t.Fatal("event_emitted_by_handler_id not set")
	}
}

// F85: blocks_parent flips only for Now from the emitting handler execution; Wait, other handlers and
// outside callers leave it false.
func TestBlocksParentLazyF85(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "LazyBus", &abxbus.Options{EventConcurrency: abxbus.Parallel})
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) { return k.N, nil }))
	var waited, fromOther, outside *abxbus.Event[Kid, int]
	handed := make(chan *abxbus.Event[Kid, int], 1)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Parent) (string, error) {
		switch p.Name {
		case "wait":
			waited = must[*abxbus.Event[Kid, int]](t)(abxbus.EmitChildOf(ctx, Kid{N: 1}))
			if waited.Base().BlocksParentCompletion() {
				return "", errors.New("blocks before any await")
			}
			return "", waited.Wait(ctx) // parallel bus: the child runs on its own, Wait does not flip
		case "emit-for-other":
			fromOther = must[*abxbus.Event[Kid, int]](t)(abxbus.EmitChildOf(ctx, Kid{N: 2}))
			handed <- fromOther
			return "", nil
		case "other":
			return "", (<-handed).Now(ctx) // another handler execution awaits it
		case "outside":
			outside = must[*abxbus.Event[Kid, int]](t)(abxbus.EmitChildOf(ctx, Kid{N: 3}))
			return "", nil
		}
		return "", nil
	}))
	for _, n := range []string{"wait", "emit-for-other", "other", "outside"} {
		if _, err := abxbus.Call(ctx, bus, Parent{Name: n}); err != nil && !errors.Is(err, abxbus.ErrNoResult) {
			t.Fatalf("%s: %v", n, err)
		}
	}
	if err := outside.Now(ctx); err != nil { // awaited outside any handler
		t.Fatal(err)
	}
	idle(t, bus)
	for name, e := range map[string]*abxbus.Event[Kid, int]{"wait": waited, "other handler": fromOther, "outside": outside} {
		if e.Base().BlocksParentCompletion() {
			t.Errorf("%s: event_blocks_parent_completion flipped to true", name)
		}
	}
}

// F101, F102, F109: child runs before the parent resumes; a detached sibling emitted first runs after
// the parent ends.
func TestQueueJumpOrderF102(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "JumpBus", nil)
	rec := &recorder{}
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, s Side) (string, error) { rec.add("sibling"); return "s", nil }))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) { rec.add("child"); return 7, nil }))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Parent) (string, error) {
		rec.add("parent_start")
		if _, err := abxbus.Emit(ctx, bus, Side{}); err != nil {
			return "", err
		}
		child := must[*abxbus.Event[Kid, int]](t)(abxbus.EmitChildOf(ctx, Kid{}))
		if err := child.Now(ctx); err != nil {
			return "", err
		}
		v, err := child.Result(ctx)
		rec.add(fmt.Sprintf("parent_end(%d)", v))
		return "done", err
	}))
	if got, err := abxbus.Call(ctx, bus, Parent{}); err != nil || got != "done" {
		t.Fatalf("call: %q %v", got, err)
	}
	idle(t, bus)
	want := []string{"parent_start", "child", "parent_end(7)", "sibling"}
	if diff := cmp.Diff(want, rec.get()); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}

	// F92 (issue 10 item 7): Now from outside a handler does not wait for its queue turn, nor for the
	// event running on the bus: a parent emitted after an unrelated queued event and awaited with Now runs
	// at once, while the blocker still runs, and its awaited child with it; queued events keep their order.
	rec.log = nil
	gate, blocking := make(chan struct{}), make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		close(blocking)
		<-gate
		rec.add("blocker")
		return 0, nil
	}))
	must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{})) // occupies the bus
	<-blocking
	if _, err := abxbus.Emit(ctx, bus, Side{Tag: "earlier"}); err != nil {
		t.Fatal(err)
	}
	p := must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctx, bus, Parent{}))
	if err := p.Now(ctx); err != nil {
		t.Fatal(err)
	}
	close(gate)
	idle(t, bus)
	want = []string{"parent_start", "child", "parent_end(7)", "blocker", "sibling", "sibling"}
	if diff := cmp.Diff(want, rec.get()); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}
}

// F146: the parent waits for blocking children only; a background child never holds it open.
func TestParentWaitsForBlockingChildrenF146(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "BlockBus", nil)
	gate := make(chan struct{})
	started := make(chan struct{}, 2)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) {
		started <- struct{}{}
		<-gate
		return k.N, nil
	}))
	var blocking *abxbus.Event[Kid, int]
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Parent) (string, error) {
		blocking = must[*abxbus.Event[Kid, int]](t)(abxbus.EmitChildOf(ctx, Kid{N: 1}))
		short, cancel := context.WithCancel(ctx)
		cancel() // the await gives up at once, but the child is already marked blocking and jumping
		if err := blocking.Now(short); !errors.Is(err, context.Canceled) {
			return "", fmt.Errorf("Now with a cancelled context: %v", err)
		}
		return "handler-done", nil
	}))
	parent := must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctx, bus, Parent{}))
	<-started // the child is running (queue-jumped under the parent's slot)
	// The explicit early read (D13, F94): the handler's value exists while the event is still open.
	if got, err := parent.Result(ctx, abxbus.ResultOptions{First: true}); err != nil || got != "handler-done" {
		t.Fatalf("parent result %q %v", got, err)
	}
	select {
	case <-parent.Base().Done():
		t.Fatal("parent completed while its blocking child is still running (F146)")
	case <-time.After(50 * time.Millisecond):
	}
	if s := parent.Status(); s != abxbus.EventStarted {
		t.Fatalf("parent status %s, want started", s)
	}
	close(gate)
	if err := parent.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if blocking.Status() != abxbus.EventCompleted || parent.Base().CompletedAt().Before(blocking.Base().CompletedAt()) {
		t.Fatal("parent completed before its blocking child")
	}

	// A background (not awaited) child does not hold the parent open.
	bg := newBus(t, "BackgroundBus", &abxbus.Options{EventConcurrency: abxbus.Parallel})
	gate2 := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(bg, func(ctx context.Context, k Kid) (int, error) { <-gate2; return 1, nil }))
	var kid *abxbus.Event[Kid, int]
	must[*abxbus.Handler](t)(abxbus.On(bg, func(ctx context.Context, p Parent) (string, error) {
		kid = must[*abxbus.Event[Kid, int]](t)(abxbus.EmitChildOf(ctx, Kid{}))
		return "p", nil
	}))
	p2 := must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctx, bg, Parent{}))
	if err := p2.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if kid.Status() == abxbus.EventCompleted {
		t.Fatal("background child completed before its gate opened")
	}
	close(gate2)
	idle(t, bg)
}

// F149: FIFO timestamps on a default bus: a slow event emitted first completes before a fast one starts.
func TestFIFOTimestampsF149(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "FifoBus", nil)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		if p.N == 0 {
			time.Sleep(20 * time.Millisecond) // the slow one
		}
		return p.N, nil
	}))
	var evs []*abxbus.Event[Ping, int]
	for i := 0; i < 5; i++ {
		evs = append(evs, must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: i})))
	}
	idle(t, bus)
	for i := 1; i < len(evs); i++ {
		a, b := evs[i-1].Base(), evs[i].Base()
		if !(!a.StartedAt().After(b.StartedAt()) && !a.CompletedAt().After(b.CompletedAt()) && !a.CompletedAt().After(b.StartedAt())) {
			t.Fatalf("event %d: started %v completed %v; next started %v completed %v", i-1, a.StartedAt(), a.CompletedAt(), b.StartedAt(), b.CompletedAt())
		}
	}
}

// D2: a panicking handler becomes an error result with its stack; the bus keeps working.
func TestHandlerPanicIsRecorded(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "PanicBus", nil)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		if p.N == 1 {
			panic("boom")
		}
		return p.N, nil
	}))
	_, err := abxbus.Call(ctx, bus, Ping{N: 1})
	var pe *abxbus.EventHandlerPanicError
	if !errors.As(err, &pe) || !errors.Is(err, abxbus.ErrHandlerPanic) || pe.Value != "boom" || !strings.Contains(string(pe.Stack), "core_test.go") {
		t.Fatalf("err %v, want a panic error with the handler's stack", err)
	}
	if v, err := abxbus.Call(ctx, bus, Ping{N: 2}); err != nil || v != 2 {
		t.Fatalf("bus after panic: %v %v", v, err)
	}
}

type ctxKey string

// F211-F213, D4: handlers see the emitting context's values (even when processed later from the queue),
// nested children inherit them, concurrent emits are isolated, and the emitter's cancellation does not
// cancel processing.
func TestContextPropagationF211(t *testing.T) {
	bus := newBus(t, "CtxBus", nil)
	rec := &recorder{}
	gate := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) {
		rec.add(fmt.Sprintf("kid:%v", ctx.Value(ctxKey("req"))))
		return 0, nil
	}))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Parent) (string, error) {
		<-gate
		rec.add(fmt.Sprintf("%s:%v", p.Name, ctx.Value(ctxKey("req"))))
		if ctx.Err() != nil {
			return "", fmt.Errorf("handler context cancelled by the emitter: %v", ctx.Err())
		}
		_, err := abxbus.CallChild(ctx, Kid{})
		return "", err
	}))
	ctxA, cancelA := context.WithCancel(context.WithValue(context.Background(), ctxKey("req"), "req-A"))
	ctxB := context.WithValue(context.Background(), ctxKey("req"), "req-B")
	a := must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctxA, bus, Parent{Name: "A"}))
	b := must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(ctxB, bus, Parent{Name: "B"}))
	cancelA() // the emitter goes away before processing: values stay, cancellation does not apply
	close(gate)
	ctx := tctx(t)
	for _, e := range []*abxbus.Event[Parent, string]{b, a} {
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Results(ctx, abxbus.ResultOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"A:req-A", "kid:req-A", "B:req-B", "kid:req-B"}
	if diff := cmp.Diff(want, rec.get()); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

// F98, D2: waiting on an event never emitted, emitting on a destroyed bus, invalid options.
func TestMisuseGivesErrors(t *testing.T) {
	ctx := tctx(t)
	e := abxbus.NewEvent(Ping{})
	if err := e.Now(ctx); !errors.Is(err, abxbus.ErrNotEmitted) {
		t.Fatalf("Now on an un-emitted event: %v", err)
	}
	if _, err := abxbus.New("Bad", &abxbus.Options{EventTimeout: -time.Second}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("negative timeout: %v", err)
	}
	if _, err := abxbus.New("Bad", &abxbus.Options{EventConcurrency: "sometimes"}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("bad mode: %v", err)
	}
	if _, err := abxbus.New("not a name", nil); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("bad name: %v", err)
	}
	bus := newBus(t, "Gone", nil)
	bus.Destroy(true)
	ev, err := abxbus.Emit(ctx, bus, Ping{})
	var de *abxbus.EventBusDestroyedError
	if !errors.As(err, &de) || !errors.Is(err, abxbus.ErrBusDestroyed) || !strings.Contains(err.Error(), "Gone#") {
		t.Fatalf("emit on destroyed bus: %v", err)
	}
	if err := ev.Now(ctx); !errors.Is(err, abxbus.ErrBusDestroyed) {
		t.Fatalf("Now on a rejected event: %v", err)
	}
	if _, err := abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { return 0, nil }); !errors.Is(err, abxbus.ErrBusDestroyed) {
		t.Fatalf("On after destroy: %v", err)
	}
	if _, err := abxbus.EmitChildOf(ctx, Kid{}); !errors.Is(err, abxbus.ErrNotInHandler) {
		t.Fatalf("EmitChild outside a handler: %v", err)
	}
	if err := ev.Now(ctx, abxbus.WaitOption(99)); !errors.Is(err, abxbus.ErrInvalidOption) && !errors.Is(err, abxbus.ErrBusDestroyed) {
		t.Fatalf("bad wait option: %v", err)
	}
}

type BadPayload struct {
	abxbus.Returns[int]
	Timeout float64 `json:"event_timeout"`
}

type ReservedPayload struct {
	abxbus.Returns[int]
	Bus string `json:"bus"`
}

// F33-F35: payload keys may not collide with event metadata or reserved names.
func TestPayloadDeclarationErrors(t *testing.T) {
	bus := newBus(t, "DeclBus", nil)
	if _, err := abxbus.On(bus, func(ctx context.Context, p BadPayload) (int, error) { return 0, nil }); !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "event_timeout") {
		t.Fatalf("event_* field: %v", err)
	}
	if _, err := abxbus.Emit(tctx(t), bus, ReservedPayload{}); !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), `"bus"`) {
		t.Fatalf("reserved field: %v", err)
	}
}

// F48: the handler id formula matches the other runtimes (value from the interop README).
func TestHandlerIDMatchesTypeScript(t *testing.T) {
	busID, _ := abxbus.ParseID("018f8e40-1234-7000-8000-00000000aa14")
	reg, _ := time.Parse(time.RFC3339Nano, "2025-01-02T03:04:05.123456789Z")
	got := abxbus.HandlerID(busID, "my_handler", "", reg, "MyEvent").String()
	if got != "61b51c1a-2ccc-5cae-a3e5-ec84cf4a9235" {
		t.Fatalf("handler id %s", got)
	}
}

// An idle bus costs nothing: once its work is done no goroutine of it is left (no dispatcher, no ticker,
// no poll loop), and a new emit starts one again.
func TestIdleBusRunsNoGoroutine(t *testing.T) {
	ctx := tctx(t)
	base := runtime.NumGoroutine()
	bus := newBus(t, "Idle", nil)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { return p.N, nil }))
	for round := range 3 {
		for i := range 100 {
			if _, err := abxbus.Emit(ctx, bus, Ping{N: i}); err != nil {
				t.Fatal(err)
			}
		}
		idle(t, bus)
		// The dispatcher goroutine returns right after the queue drains; give it a moment to exit.
		for n := runtime.NumGoroutine(); n > base; n = runtime.NumGoroutine() {
			if ctx.Err() != nil {
				t.Fatalf("round %d: %d goroutines on an idle bus, want %d", round, n, base)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// A30: an event that completed on one bus and is then emitted on another reopens: Wait waits for the
// second bus, and it completes again with both results.
func TestForwardCompletedEventReopens(t *testing.T) {
	ctx := tctx(t)
	a, b := newBus(t, "ReopenA", nil), newBus(t, "ReopenB", nil)
	gate := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(a, func(ctx context.Context, p Ping) (int, error) { return 1, nil }))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { <-gate; return 2, nil }))
	e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, a, Ping{}))
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Emit(ctx, e.Base()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.Base().Done():
		t.Fatal("Done is closed while the second bus is still processing")
	default:
	}
	close(gate)
	vals, err := e.Results(ctx)
	if err != nil || !cmp.Equal([]int{1, 2}, vals) {
		t.Fatalf("Results = %v, %v", vals, err)
	}
}

// Destroy right after parallel emits: every event still completes (a run stopped before it began
// must not add rows).
func TestDestroyRightAfterParallelEmits(t *testing.T) {
	ctx := tctx(t)
	for range 200 {
		bus, err := abxbus.New("DestroyRace", &abxbus.Options{EventConcurrency: abxbus.Parallel})
		if err != nil {
			t.Fatal(err)
		}
		must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { return p.N, nil }))
		var evs []*abxbus.Event[Ping, int]
		for i := range 4 {
			evs = append(evs, must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{N: i})))
		}
		bus.Destroy(true)
		for _, e := range evs {
			if err := e.Wait(ctx); err != nil {
				t.Fatalf("%s: %v (status %s)", e, err, e.Status())
			}
		}
	}
}
