package abxbus

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Deadlock detection across buses.
//
// Queue-jumping lends slots from an awaiting handler's run to the child it awaits, and a child that needs
// a slot its lender chain does not hold waits for it. Two runs that take borrowed and owned slots in
// opposite orders can then wait for each other (a bus-serial event on Y awaiting a global-serial child
// while a global-serial event on X awaits a child on Y). No fixed lock order prevents this, because a
// child's needs are only known when it is awaited. Instead the waits form a graph that is checked for a
// cycle whenever a wait that can close one begins:
//
//   - finish(r): run r ends when it has its slots (r waits for release(owner) of the slot it is blocked
//     on) and when its handlers have returned (a handler blocked in Now/Wait/Result waits for event(E));
//   - release(o): o's slots are given back when o has finished and every run borrowing them has too;
//   - event(E): E completes when its runs finish; while E sits in a bus queue it also waits for the
//     slots the events up to it in that queue need.
//
// A cycle through a run that is waiting for a slot is broken by that run: it gives back what it took and
// borrowed, its event returns to the head of its bus queue, and the handlers awaiting it re-check their
// wait. A cycle through a handler's wait on a queued event fails that wait with ErrWouldDeadlock.
//
// Every edge is published (an atomic store or a field written under its owner's lock) before the walk
// that follows it, so of the waits that close a cycle at least the last one sees every other edge.

// waitEdges counts the waits the detector must look at: runs blocked on a slot and handlers waiting for
// a queued event. While it is zero, a handler awaiting a running event (the queue-jump fast path) needs
// no walk: a cycle needs at least one such wait.
var waitEdges atomic.Int64

type wfKind uint8

const (
	wfFinish wfKind = iota
	wfRelease
	wfEvent
)

type wfNode struct {
	kind wfKind
	r    *run
	e    *BaseEvent
}

// maxWalk bounds a detection walk; a graph larger than this is treated as having no cycle (the waits then
// end by timeout or Destroy).
const maxWalk = 1 << 14

// detectMu serializes detection walks with the decision that follows them, so that two waits closing the
// same cycle at once do not both give up: the second walk no longer goes through the run the first one
// asked to give up.
var detectMu sync.Mutex

// cyclePath returns the path from one of start to finish(target), or nil when there is none. Callers hold
// detectMu.
func cyclePath(start []wfNode, target *run) []wfNode {
	type item struct {
		n    wfNode
		prev int
	}
	var items []item
	var stack []int
	seen := map[wfNode]bool{}
	push := func(n wfNode, prev int) {
		if !seen[n] {
			seen[n] = true
			items = append(items, item{n, prev})
			stack = append(stack, len(items)-1)
		}
	}
	for _, n := range start {
		push(n, -1)
	}
	var next []wfNode
	for len(stack) > 0 && len(items) < maxWalk {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := items[i].n
		if n.kind == wfFinish && n.r == target {
			var path []wfNode
			for j := i; j >= 0; j = items[j].prev {
				path = append(path, items[j].n)
			}
			slices.Reverse(path)
			return path
		}
		next = n.successors(next[:0])
		for _, m := range next {
			push(m, i)
		}
	}
	return nil
}

func (n wfNode) successors(out []wfNode) []wfNode {
	if n.r != nil && n.r.aborted() == abortDeadlock {
		return out // giving up already: it waits for nothing and will let go of its slots
	}
	switch n.kind {
	case wfFinish:
		r := n.r
		if s := r.waitingOn.Load(); s != nil {
			if o := s.ownerRun(); o != nil {
				out = append(out, wfNode{kind: wfRelease, r: o})
			}
		}
		e := r.ev
		e.mu.Lock()
		for _, res := range r.results {
			if res.status == rsStarted {
				if w := res.waitOn.Load(); w != nil {
					out = append(out, wfNode{kind: wfEvent, e: w})
				}
			}
		}
		e.mu.Unlock()
	case wfRelease:
		out = append(out, wfNode{kind: wfFinish, r: n.r})
		n.r.lmu.Lock()
		var borrowers []*run
		if n.r.lx != nil {
			borrowers = n.r.lx.borrowers
		}
		for _, b := range borrowers {
			out = append(out, wfNode{kind: wfRelease, r: b})
		}
		n.r.lmu.Unlock()
	case wfEvent:
		e := n.e
		e.mu.Lock()
		for _, y := range e.runs {
			out = append(out, wfNode{kind: wfFinish, r: y})
		}
		var busArr [4]*Bus
		buses := append(busArr[:0], e.buses.get()...)
		e.mu.Unlock()
		if e.queued.Load() == 0 {
			break
		}
		for _, b := range buses {
			for _, s := range b.queuedNeeds(e) {
				if o := s.ownerRun(); o != nil {
					out = append(out, wfNode{kind: wfRelease, r: o})
				}
			}
		}
	}
	return out
}

// queuedNeeds lists the slots e waits for while it is queued on b: those of every event up to it in the
// queue (the dispatcher starts them in order).
func (b *Bus) queuedNeeds(e *BaseEvent) []*slot {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := len(b.queue) - 1
	for ; i >= b.qhead && b.queue[i] != e; i-- {
	}
	if i < b.qhead {
		return nil
	}
	var global, own bool
	for _, x := range b.queue[b.qhead : i+1] {
		need, n := b.slotsFor(x)
		for _, s := range need[:n] {
			global = global || s == b.global
			own = own || s == &b.slot
		}
	}
	var out []*slot
	if global {
		out = append(out, b.global)
	}
	if own {
		out = append(out, &b.slot)
	}
	return out
}

// blockedOn runs when queue-jumping run r starts waiting for s: it publishes the wait and gives up the
// acquisition at once if the wait closes a cycle.
func (r *run) blockedOn(s *slot) <-chan struct{} {
	r.blocked = true
	r.lmu.Lock()
	r.acquiring = true // before the wait is published: a walker that sees it may ask the run to give up
	r.lmu.Unlock()
	r.waitingOn.Store(s)
	waitEdges.Add(1)
	ch := r.abortChan()
	if o := s.ownerRun(); o != nil {
		detectMu.Lock()
		if cyclePath([]wfNode{{kind: wfRelease, r: o}}, r) != nil {
			_ = r.abort(abortDeadlock)
		}
		detectMu.Unlock()
	}
	return ch
}

// dispatcherBlockedOn is blockedOn for the bus dispatcher's run, which cannot give up: a cycle its wait
// closes is broken by another member (a queue-jumping run waiting for a slot gives up, or the handlers
// waiting for a queued event re-check and fail). Destroy or a new head of the queue ends the wait.
func (r *run) dispatcherBlockedOn(s *slot) <-chan struct{} {
	r.waitingOn.Store(s)
	waitEdges.Add(1)
	if o := s.ownerRun(); o != nil {
		detectMu.Lock()
		var nudge *BaseEvent
		if path := cyclePath([]wfNode{{kind: wfRelease, r: o}}, r); path != nil && abandonOneOf(path, r) == nil {
			for _, n := range path {
				if n.kind == wfEvent {
					nudge = n.e
					break
				}
			}
		}
		detectMu.Unlock()
		if nudge != nil {
			nudge.nudge()
		}
	}
	return r.abortChan()
}

// abandonOneOf asks the first queue-jumping run on path that is waiting for a slot (other than self) to
// give up, and returns the event of the run that accepted (it will be requeued), or nil.
func abandonOneOf(path []wfNode, self *run) *BaseEvent {
	for _, n := range path {
		if n.kind == wfFinish && n.r != self && !n.r.dispatcher && n.r.waitingOn.Load() != nil && n.r.abort(abortDeadlock) {
			return n.r.ev
		}
	}
	return nil
}

// hasAcquiring reports whether path goes through a queue-jumping run waiting for a slot.
func hasAcquiring(path []wfNode) bool {
	for _, n := range path {
		if n.kind == wfFinish && !n.r.dispatcher && n.r.waitingOn.Load() != nil {
			return true
		}
	}
	return false
}

// nudge wakes the handlers waiting for e so they check their wait again, and with them every handler
// blocked in a wait across the process: a requeue changes what the events they wait for wait for, and
// requeues happen only while a cycle is being broken, so this costs nothing in normal operation.
func (e *BaseEvent) nudge() {
	e.mu.Lock()
	var ch chan struct{}
	if e.x != nil {
		ch, e.x.requeued = e.x.requeued, nil
	}
	e.mu.Unlock()
	if ch != nil {
		close(ch)
	}
	graphChanged.Lock()
	if graphChanged.ch != nil {
		close(graphChanged.ch)
		graphChanged.ch = nil
	}
	graphChanged.Unlock()
}

// graphChanged is closed (and replaced) at every nudge; handler waits re-check on it.
var graphChanged struct {
	sync.Mutex
	ch chan struct{}
}

func graphChangedChan() <-chan struct{} {
	graphChanged.Lock()
	defer graphChanged.Unlock()
	if graphChanged.ch == nil {
		graphChanged.ch = make(chan struct{})
	}
	return graphChanged.ch
}

// take waits for s on behalf of r, publishing the wait to the deadlock detector while it blocks. It
// reports whether r got the slot (false: the wait was aborted).
func (r *run) take(s *slot, priority bool) bool {
	ok, _ := r.takeWaited(s, priority)
	return ok
}

// takeWaited is take that also reports whether it had to wait.
func (r *run) takeWaited(s *slot, priority bool) (ok, blocked bool) {
	ok = s.acquire(r, priority, func() <-chan struct{} {
		blocked = true
		if r.dispatcher {
			return r.dispatcherBlockedOn(s)
		}
		return r.blockedOn(s)
	})
	if blocked {
		r.unblocked()
	}
	return ok, blocked
}

func (r *run) unblocked() {
	r.waitingOn.Store(nil)
	waitEdges.Add(-1)
}

// checkHandlerWait looks for a cycle through the wait of handler result res on e. When the cycle runs
// through a run that is waiting for a slot, that run gives up: checkHandlerWait returns its event, and
// the caller checks again once that event was requeued. A cycle with no such run means the wait itself
// cannot finish: the error says so. retry asks for an immediate new check (the graph moved meanwhile).
func (e *BaseEvent) checkHandlerWait(res *EventResult, op string) (other *BaseEvent, retry bool, err error) {
	detectMu.Lock()
	defer detectMu.Unlock()
	path := cyclePath([]wfNode{{kind: wfEvent, e: e}}, res.run)
	if path == nil {
		return nil, false, nil
	}
	if other := abandonOneOf(path, res.run); other != nil {
		return other, false, nil
	}
	if hasAcquiring(path) {
		return nil, true, nil // its runs got their slots meanwhile
	}
	return nil, false, fmt.Errorf("%s(%s) from handler %s of %s: %w", op, e.label(), res.handler.Label(), res.ev.label(), ErrWouldDeadlock)
}
