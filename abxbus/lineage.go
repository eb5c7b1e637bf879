package abxbus

// EventIsChildOf reports whether ancestor is the parent, grandparent, ... of e as this bus knows it:
// the walk follows event_parent_id from e, resolving each intermediate ancestor through this bus's
// retained history. It stops with false when an intermediate ancestor is not in the history (trimmed, or
// seen only by another bus) and is guarded against cycles. A direct child needs no lookup, so it is
// recognised even when neither event is in the history. An event is not its own child.
//
// Cost: O(depth x history) under the bus lock; no user code runs. Safe for concurrent use.
func (b *Bus) EventIsChildOf(e, ancestor *BaseEvent) bool {
	if !b.usable() {
		return false
	}
	if e == nil || ancestor == nil || e == ancestor {
		return false
	}
	target := ancestor.id
	pid := e.ParentID()
	if pid.IsZero() {
		return false
	}
	if pid == target {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := map[ID]bool{e.id: true}
	for !pid.IsZero() && !seen[pid] {
		if pid == target {
			return true
		}
		seen[pid] = true
		p := b.historyEventLocked(pid)
		if p == nil {
			return false
		}
		pid = p.ParentID()
	}
	return false
}

// EventIsParentOf reports whether e is the parent, grandparent, ... of descendant; it is
// EventIsChildOf(descendant, e).
func (b *Bus) EventIsParentOf(e, descendant *BaseEvent) bool {
	if !b.usable() {
		return false
	}
	return b.EventIsChildOf(descendant, e)
}

// historyEventLocked finds a retained event by id, newest first (b.mu held).
func (b *Bus) historyEventLocked(id ID) *BaseEvent {
	var found *BaseEvent
	b.hist.eachNewest(func(e *BaseEvent) bool {
		if e.id == id {
			found = e
			return false
		}
		return true
	})
	return found
}
