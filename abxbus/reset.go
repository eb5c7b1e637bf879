package abxbus

import (
	"maps"
	"slices"
)

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
	c.runs = c.runsBuf[:0]
	c.id = newIDAt(now())
	c.eventType, c.payload, c.info = e.eventType, e.payload, e.info
	c.opts, c.createdAt = e.opts, e.createdAt
	if e.wire != nil {
		c.wire = &eventWire{resultSchema: e.wire.resultSchema, extra: maps.Clone(e.wire.extra), version: e.wire.version}
	}
	if e.lin != nil {
		c.lin = &eventLineage{parentID: e.lin.parentID, emittedBy: e.lin.emittedBy}
	}
	c.path.set(slices.Clone(e.path.get()))
	if keys := e.xr().wireKeys; len(keys) > 0 {
		c.xw().wireKeys = maps.Clone(keys)
	}
	return c, nil
}

// Reset returns a fresh pending copy of the typed event; see BaseEvent.Reset.
func (e *Event[P, R]) Reset() (*Event[P, R], error) {
	c, err := (*BaseEvent)(e).Reset()
	return (*Event[P, R])(c), err
}
