package abxbus

import "maps"

// Reset returns a fresh pending copy of the event: a new UUIDv7 id, status pending, no
// results, no start/completion times, no pending buses and no captured context; it keeps the type,
// version, payload (and unknown payload keys), options, result type, event_created_at, event_parent_id,
// event_emitted_by_handler_id and event_path. Bridges reset every inbound event before emitting it
// locally; the path still stops loops. The original is not changed. Safe for concurrent use.
func (e *BaseEvent) Reset() (*BaseEvent, error) {
	if err := e.unusable("Reset"); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := &BaseEvent{}
	c.results = c.resultsBuf[:0]
	c.buses = c.busesBuf[:0]
	c.runs = c.runsBuf[:0]
	c.id = newIDAt(now())
	c.eventType, c.version, c.payload, c.info = e.eventType, e.version, e.payload, e.info
	c.opts, c.createdAt = e.opts, e.createdAt
	c.resultSchema = e.resultSchema
	c.extra = maps.Clone(e.extra)
	c.parentID, c.emittedBy = e.parentID, e.emittedBy
	c.path = append(c.pathBuf[:0], e.path...)
	c.status = EventPending
	return c, nil
}

// Reset returns a fresh pending copy of the typed event; see BaseEvent.Reset.
func (e *Event[P, R]) Reset() (*Event[P, R], error) {
	c, err := (*BaseEvent)(e).Reset()
	return (*Event[P, R])(c), err
}
