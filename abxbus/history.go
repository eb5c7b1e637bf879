package abxbus

import "sync/atomic"

// history is a bus's ordered record of the events it accepted (F185, F254): insertion order, oldest at
// head. Removed entries leave a nil hole that is skipped and compacted away, so adding is O(1) and
// eviction of the oldest completed event is O(1) amortised when completions arrive roughly in order.
// Guarded by the owning bus's mu.
//
// Finding the oldest completed event scans from the head; clean remembers how far a scan found none, so
// a burst of emits into a full history of unfinished events (drop mode) does not rescan it for every
// event: completions counts the completions of events the bus accepted (onEventCompleted, after the
// event's completion flag is set), and items[head:clean] are known unfinished while it still reads
// cleanEpoch.
type history struct {
	items []*BaseEvent
	head  int
	n     int

	completions atomic.Uint64
	clean       int
	cleanEpoch  uint64
}

func (h *history) init() {}

func (h *history) clear() {
	h.items, h.head, h.n, h.clean = nil, 0, 0, 0
}

func (h *history) add(e *BaseEvent) {
	h.items = append(h.items, e)
	h.n++
}

func (h *history) removeAt(i int) {
	h.items[i] = nil
	h.n--
	for h.head < len(h.items) && h.items[h.head] == nil {
		h.head++
	}
	if h.head == len(h.items) {
		h.items = h.items[:0]
		h.head, h.clean = 0, 0
		return
	}
	holes := len(h.items) - h.head - h.n
	if h.head > 32 && h.head*2 >= len(h.items) || holes > 64 && holes > 2*h.n {
		j := 0
		for _, e := range h.items[h.head:] {
			if e != nil {
				h.items[j] = e
				j++
			}
		}
		clear(h.items[j:])
		h.items = h.items[:j]
		h.head, h.clean = 0, 0 // positions moved
	}
}

// remove drops e; it reports whether e was present.
func (h *history) remove(e *BaseEvent) bool {
	for i := h.head; i < len(h.items); i++ {
		if h.items[i] == e {
			h.removeAt(i)
			return true
		}
	}
	return false
}

// evictCompleted drops the oldest completed event; it reports whether there was one.
func (h *history) evictCompleted() bool { return h.takeCompleted() != nil }

// takeCompleted drops the oldest completed event and returns it (nil when there is none).
// Cost: O(1) amortised while completions arrive roughly in order, and while none arrive.
func (h *history) takeCompleted() *BaseEvent {
	epoch := h.completions.Load() // before the flags are read (see history)
	from := h.head
	if epoch == h.cleanEpoch && h.clean > from {
		from = h.clean
	}
	for i := from; i < len(h.items); i++ {
		if e := h.items[i]; e != nil && e.completedFlag.Load() {
			h.clean, h.cleanEpoch = i, epoch
			h.removeAt(i)
			return e
		}
	}
	h.clean, h.cleanEpoch = len(h.items), epoch
	return nil
}

// evictOldest drops the oldest event whatever its state.
func (h *history) evictOldest() { h.takeOldest() }

// takeOldest drops the oldest event whatever its state and returns it (nil when empty).
func (h *history) takeOldest() *BaseEvent {
	if h.n == 0 {
		return nil
	}
	e := h.items[h.head]
	h.removeAt(h.head)
	return e
}

// each calls f on the live events, newest first, until f returns false.
func (h *history) eachNewest(f func(*BaseEvent) bool) {
	for i := len(h.items) - 1; i >= h.head; i-- {
		if e := h.items[i]; e != nil && !f(e) {
			return
		}
	}
}

// admitLocked applies the history policy of D1 before e is added, then adds it. Called with b.mu held.
func (b *Bus) admitLocked(e *BaseEvent) error {
	switch {
	case b.maxHistory < 0 || b.maxHistory == 0:
		// unbounded, or in-flight only (removed at completion): never rejects (F75, F187, F188)
	case !b.drop:
		for b.hist.n >= b.maxHistory {
			if !b.hist.evictCompleted() {
				return &HistoryFullError{Bus: b.label, Limit: b.maxHistory, Event: e.label()}
			}
		}
	default:
		for b.hist.n >= b.maxHistory {
			if !b.hist.evictCompleted() {
				if !b.dropWarned {
					b.dropWarned = true
					// The logger is user code: it runs after accept released the bus lock (see
					// matchFindersLocked).
					logger, label, limit := b.logger, b.label, b.maxHistory
					b.finders = append(b.finders, &finder{note: func() {
						logger.Warn("[abxbus] bus has exceeded max_history_size and is dropping oldest history entries (even uncompleted events)",
							"bus", label, "max_history_size", limit)
					}})
				}
				b.hist.evictOldest() // D14: the dropped event is still processed
			}
		}
	}
	b.hist.add(e)
	return nil
}

// onEventCompleted applies retention after e completed: with max_history_size=0 the event leaves the
// history at once. Other sizes evict lazily, when room is needed.
//
// Only a bus with max_history_size=0 takes its lock here. The event's completion flag is set before
// histZero is read, and SetMaxHistory sets histZero before it trims by that flag: a completion that
// reads a stale false is one the trim sees as completed.
func (b *Bus) onEventCompleted(e *BaseEvent) {
	b.hist.completions.Add(1)
	if !b.histZero.Load() {
		return
	}
	b.mu.Lock()
	if b.maxHistory == 0 {
		b.hist.remove(e)
	}
	b.mu.Unlock()
}

// HistoryEvent returns the retained event with that id . Cost: O(history).
func (b *Bus) HistoryEvent(id ID) (*BaseEvent, bool) {
	if !b.usable() {
		return nil, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.historyEventLocked(id)
	return e, e != nil
}

// RemoveFromHistory drops e from the retained history and reports whether it was
// there. It does not affect processing: a removed in-flight event still runs and completes.
func (b *Bus) RemoveFromHistory(e *BaseEvent) bool {
	if !b.usable() {
		return false
	}
	if e == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hist.remove(e)
}

// TrimHistory applies the retention policy now and calls onRemove (if not nil) for each removed
// event, oldest first, after the bus lock was released. It returns how many events were removed. Normal
// operation never needs it (admission makes room); it is for shrinking a history after the policy
// changed or for running cleanup on the removed entries.
//
// Policy: completed events leave first, oldest first, until the history fits max_history_size; in drop
// mode the oldest unfinished ones follow. With max_history_size=0 every completed event leaves.
func (b *Bus) TrimHistory(onRemove func(*BaseEvent)) int {
	if !b.usable() {
		return 0
	}
	b.mu.Lock()
	var removed []*BaseEvent
	limit := b.maxHistory
	if limit >= 0 {
		for b.hist.n > limit {
			e := b.hist.takeCompleted()
			if e == nil {
				if !b.drop || limit == 0 {
					break
				}
				e = b.hist.takeOldest()
			}
			removed = append(removed, e)
		}
	}
	b.mu.Unlock()
	if onRemove != nil {
		for _, e := range removed {
			onRemove(e)
		}
	}
	return len(removed)
}

// HistoryLen returns the number of events retained in the history.
func (b *Bus) HistoryLen() int {
	if !b.usable() {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hist.n
}

// History returns the retained events, oldest first.
func (b *Bus) History() []*BaseEvent {
	if !b.usable() {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*BaseEvent, 0, b.hist.n)
	for _, e := range b.hist.items[b.hist.head:] {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// matchFindersLocked returns the pending future lookups to offer e to once accept has released the bus
// lock (F79, F171): the list itself (copy on write, so it may be read without the lock), and each
// finder evaluates its query outside the lock. The list may also carry deferred notes queued by
// admitLocked, which are taken off it here.
func (b *Bus) matchFindersLocked(e *BaseEvent) []*finder {
	list := b.finders
	for i, f := range list {
		if f.note != nil {
			keep := make([]*finder, 0, len(list))
			keep = append(keep, list[:i]...)
			for _, g := range list[i+1:] {
				if g.note == nil {
					keep = append(keep, g)
				}
			}
			b.finders = keep
			break
		}
	}
	return list
}
