package abxbus

import (
	"sync"
	"unsafe"
)

// Issue 13 item 5: what Now from outside a handler (and a typed Call) costs besides the run itself.
//
// The run of such an event executes on a new goroutine, not on the caller's: the caller must be able to
// return when its context ends, when the handler's timeout or the event timeout fires and when the bus
// is destroyed, even while the handler ignores its context and never returns (a stuck handler never
// blocks the event, nor the caller waiting for it). A handler running on the caller's goroutine would
// hold the caller until it returns, and Go cannot move a running call to another goroutine. What is
// saved instead is everything around the hand-off: the goroutine is started without a closure (spawnRun)
// and the caller waits on a pooled channel instead of a new one (nowWaiter). A handler registered with
// WithInline opts out of that guarantee: its runs from such a Now execute on the caller's goroutine
// (runHere), and so does a run with no handler at all on a bus without middlewares.

// spawnShard holds runs handed to goroutines that were started for them and have not picked them up.
type spawnShard struct {
	mu sync.Mutex
	q  []*run
	_  [40]byte // one shard per cache line
}

const spawnShardCount = 8

var spawnShards [spawnShardCount]spawnShard

// spawnFns are the goroutine bodies, one per shard: a func value without captured variables is static,
// so `go spawnFns[i]()` allocates nothing (a closure over the run would be 16 bytes per event).
var spawnFns = [spawnShardCount]func(){
	func() { spawned(0) }, func() { spawned(1) }, func() { spawned(2) }, func() { spawned(3) },
	func() { spawned(4) }, func() { spawned(5) }, func() { spawned(6) }, func() { spawned(7) },
}

// spawnRun starts r on a new goroutine: it acquires the slots r needs (a queue-jump that would deadlock
// is given up), begins it and continues the bus dispatcher when the run hands that role over.
func spawnRun(r *run) {
	i := uint64(uintptr(unsafe.Pointer(r))>>4) * 0x9E3779B97F4A7C15 >> (64 - 3) // spawnShardCount = 1<<3
	s := &spawnShards[i]
	s.mu.Lock()
	s.q = append(s.q, r)
	s.mu.Unlock()
	go spawnFns[i]()
}

// spawned is the body of a goroutine started by spawnRun: it takes one run of its shard (each start
// pushed exactly one, so there is always one) and runs it.
func spawned(i int) {
	s := &spawnShards[i]
	s.mu.Lock()
	n := len(s.q) - 1
	r := s.q[n]
	s.q[n] = nil
	s.q = s.q[:n]
	s.mu.Unlock()
	if r.acquire(true) {
		r.abandon()
		return
	}
	if r.begin(stampNow) {
		r.bus.dispatchLoop()
	}
}

// inlineable reports whether every handler of r allows running on the caller's goroutine (WithInline).
// An event without handlers may too when the bus has no middleware (whose hooks are user code as well).
func (r *run) inlineable() bool {
	if len(r.handlers) == 0 && r.bus.hooks != nil {
		return false
	}
	for _, h := range r.handlers {
		if !h.inline {
			return false
		}
	}
	return true
}

// runHere is spawned's work for r on the calling goroutine (an unlocked run: it never waits for a slot);
// the dispatcher role a run can hand over at its end goes to a new goroutine, not to the caller. An
// event the typed Call created just before on this goroutine (callNew, cleared when user code ran in
// between) starts with a tick: its creation was the last clock reading of this critical path.
func runHere(r *run) {
	if r.acquire(true) {
		r.abandon()
		return
	}
	if r.begin(stampCall) {
		go r.bus.dispatchLoop()
	}
}

// nowWaiter is how Now from outside a handler waits for completion without making the event's done
// channel: a pooled channel with room for the one wake-up. An event has at most one (e.waiter, guarded
// by e.mu); further waiters use the done channel. Completion arms it (tryCompleteStampLocked) and
// afterComplete wakes it once the buses' history reflects the completion, as it closes the done
// channel; a waiter registered after a reopen is not armed and waits for the next completion.
type nowWaiter struct {
	ch    chan struct{}
	armed bool // guarded by the event's mu
}

var waiterPool = sync.Pool{New: func() any { return &nowWaiter{ch: make(chan struct{}, 1)} }}

func (w *nowWaiter) wake() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// waiterLocked registers a pooled waiter on e (e.mu held), or returns nil when e has one already.
func (e *BaseEvent) waiterLocked() *nowWaiter {
	if e.waiter != nil {
		return nil
	}
	w := waiterPool.Get().(*nowWaiter)
	e.waiter = w
	if e.status == evCompleted {
		w.armed = true // completed, waking after its completion hooks (middleware.go)
	}
	return w
}

// dropWaiter ends a wait on w that did not receive its wake-up: when afterComplete already took it, the
// wake-up is on its way and w is left to the garbage collector rather than reused with it pending.
func (e *BaseEvent) dropWaiter(w *nowWaiter) {
	e.mu.Lock()
	mine := e.waiter == w
	if mine {
		e.waiter, w.armed = nil, false
	}
	e.mu.Unlock()
	if mine {
		waiterPool.Put(w)
	}
}
