package abxbus

// history is a bus's ordered record of the events it accepted (F185, F254): insertion order, oldest at
// head. Removed entries leave a nil hole that is skipped and compacted away, so adding is O(1) and
// eviction of the oldest completed event is O(1) amortised when completions arrive roughly in order.
// Guarded by the owning bus's mu.
type history struct {
	items []*BaseEvent
	head  int
	n     int
}

func (h *history) init() {}

func (h *history) clear() {
	h.items, h.head, h.n = nil, 0, 0
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
		h.head = 0
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
		h.head = 0
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
func (h *history) evictCompleted() bool {
	for i := h.head; i < len(h.items); i++ {
		if e := h.items[i]; e != nil && e.completedFlag.Load() {
			h.removeAt(i)
			return true
		}
	}
	return false
}

// evictOldest drops the oldest event whatever its state.
func (h *history) evictOldest() {
	if h.n > 0 {
		h.removeAt(h.head)
	}
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
					b.logger.Warn("[abxbus] bus has exceeded max_history_size and is dropping oldest history entries (even uncompleted events)",
						"bus", b.label, "max_history_size", b.maxHistory)
				}
				b.hist.evictOldest() // D14: the dropped event is still processed
			}
		}
	}
	b.hist.add(e)
	return nil
}

// onEventCompleted applies retention after e completed: with max_history_size=0 the event leaves the
// history at once (F188).
func (b *Bus) onEventCompleted(e *BaseEvent) {
	if b.maxHistory != 0 {
		return
	}
	b.mu.Lock()
	b.hist.remove(e)
	b.mu.Unlock()
}

// HistoryLen returns the number of events retained in the history.
func (b *Bus) HistoryLen() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.hist.n
}

// History returns the retained events, oldest first.
func (b *Bus) History() []*BaseEvent {
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

// finder is a pending future lookup: resolved with the first matching event accepted by the bus, or nil
// when the bus is destroyed.
type finder struct {
	match func(*BaseEvent) bool
	ch    chan *BaseEvent // buffered(1)
}

func (f *finder) deliver(e *BaseEvent) {
	select {
	case f.ch <- e:
	default:
	}
}

// matchFindersLocked removes and returns the waiters that e satisfies (F79, F171).
func (b *Bus) matchFindersLocked(e *BaseEvent) []*finder {
	if len(b.finders) == 0 {
		return nil
	}
	var hit []*finder
	keep := b.finders[:0]
	for _, f := range b.finders {
		if f.match(e) {
			hit = append(hit, f)
		} else {
			keep = append(keep, f)
		}
	}
	clear(b.finders[len(keep):])
	b.finders = keep
	return hit
}
