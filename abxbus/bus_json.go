package abxbus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// Whole-bus JSON (F229): the bus config, its handlers' metadata, its history and its pending queue, in
// the shape the TypeScript package writes: id, name, max_history_size (null: unbounded),
// max_history_drop, event_concurrency, event_timeout, event_slow_timeout, event_handler_concurrency,
// event_handler_completion, event_handler_slow_timeout, event_handler_detect_file_paths, handlers
// (id -> metadata), handlers_by_key (pattern -> ids), event_history (id -> event JSON, oldest first,
// including the queued events) and pending_event_queue (ids in queue order).

// MarshalJSON encodes the bus (see ToJSON).
func (b *Bus) MarshalJSON() ([]byte, error) {
	if err := b.unusable("MarshalJSON"); err != nil {
		return nil, err
	}
	return b.ToJSON()
}

// ToJSON snapshots the bus as whole-bus JSON (F229). Handler functions are not data: a restored bus gets
// them back by handler id (BusFromJSON). Safe for concurrent use; events keep changing while it runs,
// each is encoded from a consistent snapshot of itself.
func (b *Bus) ToJSON() ([]byte, error) {
	if err := b.unusable("ToJSON"); err != nil {
		return nil, err
	}
	b.mu.Lock()
	handlers := b.handlersLocked()
	var events []*BaseEvent
	b.hist.eachNewest(func(e *BaseEvent) bool { events = append(events, e); return true })
	slices.Reverse(events) // oldest first
	var queued []*BaseEvent
	if b.qhead < len(b.queue) {
		queued = slices.Clone(b.queue[b.qhead:])
	}
	d, maxHist, drop, detect := b.defaults, b.maxHistory, b.drop, b.detectPaths
	b.mu.Unlock()
	for _, e := range queued {
		if !slices.Contains(events, e) {
			events = append(events, e) // pending events are part of event_history too
		}
	}

	var buf bytes.Buffer
	buf.WriteString(`{"id":`)
	writeJSONString(&buf, b.id.uuid())
	buf.WriteString(`,"name":`)
	writeJSONString(&buf, b.name)
	buf.WriteString(`,"max_history_size":`)
	if maxHist < 0 {
		buf.WriteString("null")
	} else {
		buf.WriteString(strconv.Itoa(maxHist))
	}
	buf.WriteString(`,"max_history_drop":` + strconv.FormatBool(drop))
	buf.WriteString(`,"event_concurrency":`)
	writeJSONString(&buf, string(d.Concurrency))
	buf.WriteString(`,"event_timeout":`)
	writeTimeoutOrNull(&buf, d.Timeout)
	buf.WriteString(`,"event_slow_timeout":`)
	writeTimeoutOrNull(&buf, d.SlowTimeout)
	buf.WriteString(`,"event_handler_concurrency":`)
	writeJSONString(&buf, string(d.HandlerConcurrency))
	buf.WriteString(`,"event_handler_completion":`)
	writeJSONString(&buf, string(d.Completion))
	buf.WriteString(`,"event_handler_slow_timeout":`)
	writeTimeoutOrNull(&buf, d.HandlerSlowTimeout)
	buf.WriteString(`,"event_handler_detect_file_paths":` + strconv.FormatBool(detect))

	buf.WriteString(`,"handlers":{`)
	byKey := map[string][]ID{}
	var keys []string
	for i, h := range handlers {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(&buf, h.id.uuid())
		buf.WriteByte(':')
		h.encode(&buf, b)
		if _, seen := byKey[h.pattern]; !seen {
			keys = append(keys, h.pattern)
		}
		byKey[h.pattern] = append(byKey[h.pattern], h.id)
	}
	buf.WriteString(`},"handlers_by_key":{`)
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(&buf, k)
		buf.WriteString(":[")
		for j, id := range byKey[k] {
			if j > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(&buf, id.uuid())
		}
		buf.WriteByte(']')
	}
	buf.WriteString(`},"event_history":{`)
	for i, e := range events {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(&buf, e.id.uuid())
		buf.WriteByte(':')
		raw, err := e.ToJSON()
		if err != nil {
			return nil, fmt.Errorf("abxbus: encode bus %s: %w", b.label, err)
		}
		buf.Write(raw)
	}
	buf.WriteString(`},"pending_event_queue":[`)
	for i, e := range queued {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(&buf, e.id.uuid())
	}
	buf.WriteString("]}")
	return buf.Bytes(), nil
}

func writeTimeoutOrNull(b *bytes.Buffer, t Timeout) {
	if d, ok := t.Duration(); ok && d == 0 {
		b.WriteString("null") // disabled at bus level: the TS bus writes null for "no timeout"
		return
	}
	writeTimeout(b, t)
}

// handlersLocked lists the handlers in registration order.
func (b *Bus) handlersLocked() []*Handler {
	out := make([]*Handler, 0, len(b.handlerIDs))
	for _, h := range b.handlerIDs {
		out = append(out, h)
	}
	slices.SortStableFunc(out, func(x, y *Handler) int {
		if c := cmpInt64(x.registeredAt, y.registeredAt); c != 0 {
			return c
		}
		return bytes.Compare(x.id[:], y.id[:])
	})
	return out
}

func (h *Handler) encode(buf *bytes.Buffer, b *Bus) {
	buf.WriteString(`{"id":`)
	writeJSONString(buf, h.id.uuid())
	buf.WriteString(`,"eventbus_name":`)
	writeJSONString(buf, b.name)
	buf.WriteString(`,"eventbus_id":`)
	writeJSONString(buf, b.id.uuid())
	buf.WriteString(`,"event_pattern":`)
	writeJSONString(buf, h.pattern)
	buf.WriteString(`,"handler_name":`)
	writeJSONString(buf, h.name)
	buf.WriteString(`,"handler_file_path":`)
	if h.filePath == "" {
		buf.WriteString("null")
	} else {
		writeJSONString(buf, h.filePath)
	}
	h.mu.Lock()
	timeout, slow := h.timeout, h.slowTimeout
	h.mu.Unlock()
	if timeout.IsSet() {
		buf.WriteString(`,"handler_timeout":`)
		writeTimeout(buf, timeout)
	}
	if slow.IsSet() {
		buf.WriteString(`,"handler_slow_timeout":`)
		writeTimeout(buf, slow)
	}
	buf.WriteString(`,"handler_registered_at":`)
	writeJSONString(buf, FormatTimestamp(h.registeredAt))
	buf.WriteByte('}')
}

// BusFromJSON restores a bus from whole-bus JSON (F229, F230): its id, name and config, its handlers'
// metadata (ids, names, patterns, registration times, timeouts), its history in order and its pending
// queue. Events are decoded with reg (typed when their type is registered; reg may be nil).
//
// Restored handlers have no function yet: register one for each with its id (WithHandlerID, or the same
// name, file path and WithRegisteredAt so the computed id matches) and it takes the restored entry's
// place and position. The restored pending queue does not start by itself: it resumes, in its order,
// with the next Emit on the bus, a Now on one of its events, or Resume. A handler still without a
// function when its event runs records an error naming it.
//
// Errors name what is wrong: malformed JSON, an invalid config value, a handler or event that does not
// decode, a handlers_by_key or pending_event_queue entry naming an unknown id. Options in opts (logger,
// lock domain) apply to the restored bus; nil is fine.
func BusFromJSON(data []byte, reg *Registry, opts *Options) (*Bus, error) {
	var in struct {
		ID                 *string                               `json:"id"`
		Name               *string                               `json:"name"`
		MaxHistorySize     json.RawMessage                       `json:"max_history_size"`
		MaxHistoryDrop     *bool                                 `json:"max_history_drop"`
		EventConcurrency   *string                               `json:"event_concurrency"`
		EventTimeout       json.RawMessage                       `json:"event_timeout"`
		EventSlowTimeout   json.RawMessage                       `json:"event_slow_timeout"`
		HandlerConcurrency *string                               `json:"event_handler_concurrency"`
		Completion         *string                               `json:"event_handler_completion"`
		HandlerSlowTimeout json.RawMessage                       `json:"event_handler_slow_timeout"`
		DetectFilePaths    *bool                                 `json:"event_handler_detect_file_paths"`
		Handlers           map[string]map[string]json.RawMessage `json:"handlers"`
		HandlersByKey      json.RawMessage                       `json:"handlers_by_key"`
		EventHistory       json.RawMessage                       `json:"event_history"`
		PendingEventQueue  []string                              `json:"pending_event_queue"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("abxbus: bus JSON: %w", err)
	}
	o := Options{}
	if opts != nil {
		o.Logger, o.LockDomain = opts.Logger, opts.LockDomain
	}
	if in.ID != nil {
		o.ID = *in.ID
	}
	name := ""
	if in.Name != nil {
		name = *in.Name
	}
	cfg := eventDecoder{obj: map[string]json.RawMessage{
		"max_history_size": in.MaxHistorySize, "event_timeout": in.EventTimeout,
		"event_slow_timeout": in.EventSlowTimeout, "event_handler_slow_timeout": in.HandlerSlowTimeout,
	}, ctx: "bus."}
	if raw, ok := cfg.raw("max_history_size"); ok {
		n, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("abxbus: bus JSON: max_history_size must be a non-negative integer or null")
		}
		o.MaxHistorySize = Ptr(n)
	} else if in.MaxHistorySize != nil {
		o.MaxHistorySize = Ptr(UnlimitedHistory) // null: unbounded (absent: the default)
	}
	if in.MaxHistoryDrop != nil {
		o.MaxHistoryDrop = *in.MaxHistoryDrop
	}
	busTimeout := func(key string) Timeout {
		switch raw := cfg.obj[key]; {
		case raw == nil:
			return Timeout{} // absent: the default
		case firstByte(raw) == 'n':
			return NoTimeout // null: no timeout at bus level
		}
		return cfg.timeout(key)
	}
	o.EventTimeout = busTimeout("event_timeout")
	o.EventSlowTimeout = busTimeout("event_slow_timeout")
	o.HandlerSlowTimeout = busTimeout("event_handler_slow_timeout")
	if cfg.err != nil {
		return nil, cfg.err
	}
	if in.EventConcurrency != nil {
		o.EventConcurrency = EventConcurrency(*in.EventConcurrency)
	}
	if in.HandlerConcurrency != nil {
		o.HandlerConcurrency = HandlerConcurrency(*in.HandlerConcurrency)
	}
	if in.Completion != nil {
		o.Completion = Completion(*in.Completion)
	}
	o.DetectFilePaths = in.DetectFilePaths
	b, err := New(name, &o)
	if err != nil {
		return nil, fmt.Errorf("abxbus: bus JSON: %w", err)
	}

	// handlers, in handlers_by_key order per pattern (registration order within a pattern)
	order, err := orderedIDs(in.HandlersByKey)
	if err != nil {
		return nil, fmt.Errorf("abxbus: bus JSON: handlers_by_key: %w", err)
	}
	seen := map[string]bool{}
	for _, id := range order {
		if in.Handlers[id] == nil {
			return nil, fmt.Errorf("abxbus: bus JSON: handlers_by_key names %s, which is not in handlers", id)
		}
		seen[id] = true
	}
	for id := range in.Handlers {
		if !seen[id] {
			order = append(order, id)
		}
	}
	var restored []*Handler
	for _, id := range order {
		h, err := restoreHandler(id, in.Handlers[id])
		if err != nil {
			return nil, err
		}
		h.bus = b
		restored = append(restored, h)
	}
	slices.SortStableFunc(restored, func(x, y *Handler) int { return cmpInt64(x.registeredAt, y.registeredAt) })
	for _, h := range restored {
		if _, dup := b.handlerIDs[h.id]; dup {
			return nil, fmt.Errorf("abxbus: bus JSON: handler %s appears twice", h.id)
		}
		b.handlerIDs[h.id] = h
		if h.pattern == "*" {
			b.wildcard = append(b.wildcard, h)
		} else {
			b.byType[h.pattern] = append(b.byType[h.pattern], h)
		}
	}

	// history, in the order written, then the pending queue
	histIDs, err := orderedKeys(in.EventHistory)
	if err != nil {
		return nil, fmt.Errorf("abxbus: bus JSON: event_history: %w", err)
	}
	var hist map[string]json.RawMessage
	if len(in.EventHistory) > 0 && firstByte(in.EventHistory) != 'n' {
		if err := json.Unmarshal(in.EventHistory, &hist); err != nil {
			return nil, fmt.Errorf("abxbus: bus JSON: event_history: %w", err)
		}
	}
	byID := map[string]*BaseEvent{}
	for _, id := range histIDs {
		e, err := reg.Decode(hist[id])
		if err != nil {
			return nil, fmt.Errorf("abxbus: bus JSON: event_history[%s]: %w", id, err)
		}
		byID[id] = e
		b.hist.add(e)
	}
	for _, id := range in.PendingEventQueue {
		e := byID[id]
		if e == nil {
			return nil, fmt.Errorf("abxbus: bus JSON: pending_event_queue names %s, which is not in event_history", id)
		}
		e.mu.Lock()
		if e.status == EventCompleted {
			e.mu.Unlock()
			return nil, fmt.Errorf("abxbus: bus JSON: pending_event_queue names %s, which is completed", id)
		}
		e.buses = append(e.buses, b)
		e.pendingBuses++
		if !slices.Contains(e.path, b.label) {
			e.path = append(e.path, b.label)
		}
		e.mu.Unlock()
		b.queue = append(b.queue, e)
		e.queued.Add(1)
		b.active++
	}
	return b, nil
}

// Resume starts processing the pending queue of a bus restored by BusFromJSON (Emit and Now do it too).
// It does nothing on a bus that is already processing or has nothing queued.
func (b *Bus) Resume() {
	if !b.usable() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.dispatching && !b.destroyed && b.qhead < len(b.queue) {
		b.dispatching = true
		go b.dispatchLoop()
	}
}

func restoreHandler(id string, m map[string]json.RawMessage) (*Handler, error) {
	d := eventDecoder{obj: m, ctx: "handlers[" + id + "]."}
	h := &Handler{restored: true}
	h.id = d.id("id", true)
	h.pattern = d.str("event_pattern", "")
	h.name = d.str("handler_name", "")
	h.filePath = d.str("handler_file_path", "")
	h.timeout = d.timeout("handler_timeout")
	h.slowTimeout = d.timeout("handler_slow_timeout")
	h.registeredAt = d.time("handler_registered_at")
	if d.err == nil && h.id.uuid() != id && !bytes.EqualFold([]byte(h.id.uuid()), []byte(id)) {
		d.fail("id", "differs from its key")
	}
	if d.err == nil && h.pattern == "" {
		d.fail("event_pattern", "missing")
	}
	if d.err != nil {
		return nil, d.err
	}
	if h.registeredAt == 0 {
		h.registeredAt = now()
	} else {
		observeTime(h.registeredAt)
	}
	return h, nil
}

// orderedIDs reads {key: [id, ...]} keeping the key order; it returns the ids in that order.
func orderedIDs(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || firstByte(raw) == 'n' {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("must be an object")
	}
	var out []string
	for dec.More() {
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		var ids []string
		if err := dec.Decode(&ids); err != nil {
			return nil, fmt.Errorf("values must be arrays of handler ids")
		}
		out = append(out, ids...)
	}
	return out, nil
}

// orderedKeys returns the keys of a JSON object in document order.
func orderedKeys(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || firstByte(raw) == 'n' {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("must be an object")
	}
	var out []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		out = append(out, t.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return out, nil
}
