package abxbus

import (
	"fmt"
	"strings"
)

// DumpWaits describes the scheduling state of buses for a failing test: queues, runs, the slots they
// hold and wait for, and what their handlers wait for (tests only).
func DumpWaits(buses ...*Bus) string {
	var sb strings.Builder
	rn := func(r *run) string {
		if r == nil {
			return "<nil>"
		}
		return fmt.Sprintf("run(%s on %s disp=%v unl=%v)@%p", r.ev.label(), r.bus.label, r.dispatcher, r.unlocked, r)
	}
	for _, b := range buses {
		b.mu.Lock()
		runs := b.runs.all()
		fmt.Fprintf(&sb, "%s dispatching=%v queue=%v\n", b.label, b.dispatching, b.queue[b.qhead:])
		fmt.Fprintf(&sb, "  slot owner=%s waiters=%d; global owner=%s waiters=%d\n", rn(b.slot.ownerRun()), len(b.slot.waiters), rn(b.global.ownerRun()), len(b.global.waiters))
		b.mu.Unlock()
		for _, r := range runs {
			fmt.Fprintf(&sb, "  %s waitingOn=%p lender=%s held=%v begun=%v\n", rn(r), r.waitingOn.Load(), rn(r.lender), r.held[:r.nheld], r.begun)
			r.lmu.Lock()
			var borrowers []*run
			if r.lx != nil {
				borrowers = r.lx.borrowers
			}
			for _, x := range borrowers {
				fmt.Fprintf(&sb, "    borrower %s\n", rn(x))
			}
			r.lmu.Unlock()
			for _, res := range r.results {
				if w := res.waitOn.Load(); w != nil {
					fmt.Fprintf(&sb, "    handler %s waits %s (queued %d) cycle now: %v\n", res.handler.name, w.label(), w.queued.Load(), cyclePath([]wfNode{{kind: wfEvent, e: w}}, r) != nil)
				}
			}
		}
	}
	// trace the walk from each waited event
	for _, b := range buses {
		b.mu.Lock()
		runs := b.runs.all()
		b.mu.Unlock()
		for _, r := range runs {
			for _, res := range r.results {
				w := res.waitOn.Load()
				if w == nil {
					continue
				}
				fmt.Fprintf(&sb, "trace from %s:\n", w.label())
				seen := map[wfNode]bool{}
				var rec func(n wfNode, depth int)
				rec = func(n wfNode, depth int) {
					if seen[n] || depth > 12 {
						return
					}
					seen[n] = true
					name := ""
					switch n.kind {
					case wfFinish:
						name = "finish " + rn(n.r) + fmt.Sprintf(" waitingOn=%p", n.r.waitingOn.Load())
					case wfRelease:
						name = "release " + rn(n.r)
					case wfEvent:
						name = "event " + n.e.label() + fmt.Sprintf(" queued=%d", n.e.queued.Load())
					}
					fmt.Fprintf(&sb, "%s%s\n", strings.Repeat("  ", depth+1), name)
					for _, m := range n.successors(nil) {
						rec(m, depth+1)
					}
				}
				rec(wfNode{kind: wfEvent, e: w}, 0)
			}
		}
	}
	fmt.Fprintf(&sb, "waitEdges=%d\n", waitEdges.Load())
	return sb.String()
}

// DumpEvent describes one event's completion state for a failing test (tests only).
func DumpEvent(e *BaseEvent) string {
	var sb strings.Builder
	e.mu.Lock()
	fmt.Fprintf(&sb, "%s status=%s pendingBuses=%d buses=%d runs=%d queued=%d blocksParent=%v cancelled=%v jumping=%v\n",
		e.label(), e.status.public(), e.pendingBuses, len(e.buses.get()), len(e.runs), e.queued.Load(), e.blocksParent, e.xr().cancelled, e.jumping)
	for _, r := range e.results {
		fmt.Fprintf(&sb, "  result %s %s run=%p err=%v\n", r.handler.name, r.status.public(), r.run, r.err)
	}
	children := append([]*BaseEvent(nil), e.xr().children...)
	e.mu.Unlock()
	for _, c := range children {
		c.mu.Lock()
		fmt.Fprintf(&sb, "  child %s status=%s blocks=%v\n", c.label(), c.status.public(), c.blocksParent)
		c.mu.Unlock()
	}
	return sb.String()
}
