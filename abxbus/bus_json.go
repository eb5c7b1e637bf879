package abxbus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// ToJSON snapshots the bus as whole-bus JSON. Handler functions are not data: a restored bus gets
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
	writeTimeout(&buf, d.Timeout)
	buf.WriteString(`,"event_slow_timeout":`)
	writeTimeout(&buf, d.SlowTimeout)
	buf.WriteString(`,"event_handler_concurrency":`)
	writeJSONString(&buf, string(d.HandlerConcurrency))
	buf.WriteString(`,"event_handler_completion":`)
	writeJSONString(&buf, string(d.Completion))
	buf.WriteString(`,"event_handler_slow_timeout":`)
	writeTimeout(&buf, d.HandlerSlowTimeout)
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
	return validUTF8(buf.Bytes()), nil
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

// MarshalJSON encodes the handler's registration record as bus JSON writes it in "handlers" (id,
// eventbus_name, eventbus_id, event_pattern, handler_name, handler_file_path, handler_timeout and
// handler_slow_timeout when set, handler_registered_at), the record the TypeScript package writes. A nil
// Handler, or one not made by a registration, is refused with an error wrapping ErrInvalidOption. Safe
// for concurrent use.
func (h *Handler) MarshalJSON() ([]byte, error) {
	if err := h.unusable("MarshalJSON"); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	h.encode(&buf, h.bus)
	return buf.Bytes(), nil
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
	timeout, slow := h.timeout.load(), h.slowTimeout.load()
	if timeout != 0 {
		buf.WriteString(`,"handler_timeout":`)
		writeTimeout(buf, timeout)
	}
	if slow != 0 {
		buf.WriteString(`,"handler_slow_timeout":`)
		writeTimeout(buf, slow)
	}
	buf.WriteString(`,"handler_registered_at":`)
	writeJSONString(buf, formatNS(h.registeredAt))
	buf.WriteByte('}')
}

// BusFromJSON restores a bus from whole-bus JSON: its id, name and config, its handlers'
// metadata (ids, names, patterns, registration times, timeouts), its history in order and its pending
// queue. Events are decoded with reg (typed when their type is registered; reg may be nil).
//
// Restored handlers have no function yet: register one for each with its id (WithHandlerID, or the same
// name, file path and WithRegisteredAt so the computed id matches) and it takes the restored entry's
// place and position. The restored pending queue does not start by itself: it resumes, in its order,
// with the next Emit on the bus, a Now on one of its events, or Resume. A handler still without a
// function when its event runs records an error naming it.
//
// The bus timeouts read as the TypeScript peer reads them: 0 disables a level and null (or a missing
// key) gives its default (60 s, 300 s, 30 s); ToJSON writes a disabled level as 0.
//
// The input is read strictly, so that nothing in it is dropped or applied twice without a word: keys are
// matched exactly (case-sensitive); an unknown key (including one that differs from a known key only in
// case), a key given twice in any object the bus reads (the top level, handlers, handlers_by_key,
// event_history, an event, a result row), an event_history key that is not its event's event_id, two
// history entries or handlers with the same id, and a pending_event_queue that lists an id twice are
// errors. Errors also name what else is wrong: malformed JSON or not an object, an invalid config value
// or id, a handler or event that does not decode, a handlers_by_key or pending_event_queue entry naming
// an unknown or completed event. Invalid UTF-8 is read as U+FFFD (see FromJSON). Options in opts
// (logger, lock domain, middlewares) apply to the restored bus; nil is fine.
func BusFromJSON(data []byte, reg *Registry, opts *Options) (*Bus, error) {
	fail := func(format string, args ...any) (*Bus, error) {
		return nil, fmt.Errorf("abxbus: bus JSON: "+format, args...)
	}
	data = validUTF8(data)
	top, err := decodeObject(data)
	if err == nil {
		err = checkDuplicateKeys(data)
	}
	if err != nil {
		return fail("%w", err)
	}
	for k := range top {
		if busKeys[k] {
			continue
		}
		for known := range busKeys {
			if strings.EqualFold(k, known) {
				return fail("unknown key %q (keys are case-sensitive: did you mean %q?)", k, known)
			}
		}
		return fail("unknown key %q", k)
	}
	cfg := eventDecoder{obj: top, what: "bus JSON"}
	o := Options{}
	if opts != nil {
		o.Logger, o.LockDomain, o.Middlewares = opts.Logger, opts.LockDomain, opts.Middlewares
	}
	if id := cfg.id("id", false); cfg.err == nil && top["id"] != nil && firstByte(top["id"]) != 'n' {
		o.ID = id.uuid()
	}
	name := cfg.str("name", "")
	if raw, ok := cfg.raw("max_history_size"); ok {
		n, err := strconv.Atoi(string(bytes.TrimSpace(raw)))
		if err != nil || n < 0 {
			return fail("max_history_size must be a non-negative integer or null")
		}
		o.MaxHistorySize = Ptr(n)
	} else if _, given := top["max_history_size"]; given && cfg.err == nil {
		o.MaxHistorySize = Ptr(UnlimitedHistory) // null: unbounded (absent: the default)
	}
	if _, ok := cfg.raw("max_history_drop"); ok {
		o.MaxHistoryDrop = cfg.boolean("max_history_drop")
	}
	// null and absent: the default, as the TS bus reads them; 0 disables the level
	o.EventTimeout = cfg.timeout("event_timeout")
	o.EventSlowTimeout = cfg.timeout("event_slow_timeout")
	o.HandlerSlowTimeout = cfg.timeout("event_handler_slow_timeout")
	o.EventConcurrency = EventConcurrency(cfg.str("event_concurrency", ""))
	o.HandlerConcurrency = HandlerConcurrency(cfg.str("event_handler_concurrency", ""))
	o.Completion = Completion(cfg.str("event_handler_completion", ""))
	if _, ok := cfg.raw("event_handler_detect_file_paths"); ok {
		o.DetectFilePaths = Ptr(cfg.boolean("event_handler_detect_file_paths"))
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	b, err := New(name, &o)
	if err != nil {
		return fail("%w", err)
	}

	// handlers, in handlers_by_key order per pattern (registration order within a pattern)
	var handlers map[string]json.RawMessage
	if raw, ok := cfg.raw("handlers"); ok {
		if handlers, err = decodeObject(raw); err != nil {
			return fail("handlers: %w", err)
		}
	}
	keyOf := map[ID]string{} // handler id -> its key as written
	for _, k := range sortedKeys(handlers) {
		id, err := ParseID(k)
		if err != nil {
			return fail("handlers[%s]: %w", k, err)
		}
		if other, dup := keyOf[id]; dup {
			return fail("handlers: %q and %q are the same handler id", other, k)
		}
		keyOf[id] = k
	}
	order, err := orderedIDs(top["handlers_by_key"])
	if err != nil {
		return fail("handlers_by_key%w", err)
	}
	inOrder := map[ID]bool{}
	for _, id := range order {
		if _, ok := keyOf[id]; !ok {
			return fail("handlers_by_key names %s, which is not in handlers", id.uuid())
		}
		if inOrder[id] {
			return fail("handlers_by_key lists handler %s more than once", id.uuid())
		}
		inOrder[id] = true
	}
	for _, k := range sortedKeys(handlers) {
		if id, _ := ParseID(k); !inOrder[id] {
			order = append(order, id)
		}
	}
	var restored []*Handler
	for _, id := range order {
		h, err := restoreHandler(keyOf[id], handlers[keyOf[id]])
		if err != nil {
			return nil, err
		}
		h.bus = b
		restored = append(restored, h)
	}
	slices.SortStableFunc(restored, func(x, y *Handler) int { return cmpInt64(x.registeredAt, y.registeredAt) })
	for _, h := range restored {
		if _, dup := b.handlerIDs[h.id]; dup {
			return fail("handler %s appears twice", h.id.uuid())
		}
		b.handlerIDs[h.id] = h
		if h.pattern == "*" {
			b.wildcard = append(b.wildcard, h)
		} else {
			b.byType[h.pattern] = append(b.byType[h.pattern], h)
		}
	}

	// history, in the order written, then the pending queue
	hist, err := orderedMembers(top["event_history"])
	if err != nil {
		return fail("event_history: %w", err)
	}
	byID := map[ID]*BaseEvent{}
	for _, m := range hist {
		e, err := reg.Decode(m.raw)
		if err != nil {
			return fail("event_history[%s]: %w", m.key, err)
		}
		id, err := ParseID(m.key)
		if err != nil {
			return fail("event_history[%s]: %w", m.key, err)
		}
		if e.id != id {
			if !hasKey(m.raw, "event_id") {
				return fail("event_history[%s]: event_id is missing (it must equal its key)", m.key)
			}
			return fail("event_history[%s]: key differs from its event_id %s", m.key, e.id.uuid())
		}
		if byID[id] != nil {
			return fail("event_history: event %s appears twice", id.uuid())
		}
		byID[id] = e
		b.hist.add(e)
	}
	b.adoptResultRows(hist, byID)
	pending, err := idList(top["pending_event_queue"])
	if err != nil {
		return fail("pending_event_queue%w", err)
	}
	queued := map[ID]bool{}
	for i, id := range pending {
		e := byID[id]
		if e == nil {
			return fail("pending_event_queue[%d] names %s, which is not in event_history", i, id.uuid())
		}
		if queued[id] {
			return fail("pending_event_queue[%d] lists %s a second time (an event is queued once)", i, id.uuid())
		}
		queued[id] = true
		e.mu.Lock()
		if e.status == evCompleted {
			e.mu.Unlock()
			return fail("pending_event_queue[%d] names %s, which is completed", i, id.uuid())
		}
		e.buses.add(b)
		e.pendingBuses++
		if !slices.Contains(e.path.get(), b.label) {
			e.path.add(b.label)
		}
		e.mu.Unlock()
		b.queue = append(b.queue, e)
		e.queued.Add(1)
		b.active.Add(1)
	}
	return b, nil
}

// busKeys are the keys of whole-bus JSON.
var busKeys = map[string]bool{
	"id": true, "name": true, "max_history_size": true, "max_history_drop": true, "event_concurrency": true,
	"event_timeout": true, "event_slow_timeout": true, "event_handler_concurrency": true,
	"event_handler_completion": true, "event_handler_slow_timeout": true, "event_handler_detect_file_paths": true,
	"handlers": true, "handlers_by_key": true, "event_history": true, "pending_event_queue": true,
}

// handlerKeys are the keys of a handler's metadata in whole-bus JSON.
var handlerKeys = map[string]bool{
	"id": true, "eventbus_name": true, "eventbus_id": true, "event_pattern": true, "handler_name": true,
	"handler_file_path": true, "handler_timeout": true, "handler_slow_timeout": true, "handler_registered_at": true,
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// hasKey reports whether the JSON object raw has the key k with a non-null value.
func hasKey(raw json.RawMessage, k string) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m[k] != nil && firstByte(m[k]) != 'n'
}

// adoptResultRows links the result rows this bus recorded to its handlers, so that a queued event resumes
// in them (a finished row stands, an unfinished one runs again) instead of running every handler anew. A
// handler known only from a row is recreated from it, without a function until one is registered with
// its id (as the TypeScript runtime does).
func (b *Bus) adoptResultRows(hist []member, byID map[ID]*BaseEvent) {
	added := false
	for _, m := range hist {
		id, _ := ParseID(m.key)
		e := byID[id]
		for _, row := range e.results {
			if row.wire == nil || row.run != nil {
				continue
			}
			if !(row.wire.busID == b.id || row.wire.busID.IsZero() && row.wire.busName == b.name) {
				continue
			}
			h := b.handlerIDs[row.handler.id]
			if h == nil {
				src := row.handler
				h = &Handler{bus: b, restored: true, id: src.id, name: src.name, filePath: src.filePath,
					registeredAt: src.registeredAt, pattern: src.pattern}
				h.timeout.store(src.timeout.load())
				h.slowTimeout.store(src.slowTimeout.load())
				if h.pattern == "" {
					h.pattern = e.eventType
				}
				b.handlerIDs[h.id] = h
				if h.pattern == "*" {
					b.wildcard = append(b.wildcard, h)
				} else {
					b.byType[h.pattern] = append(b.byType[h.pattern], h)
				}
				added = true
			}
			row.handler = h
		}
	}
	if added {
		byReg := func(x, y *Handler) int { return cmpInt64(x.registeredAt, y.registeredAt) }
		slices.SortStableFunc(b.wildcard, byReg)
		for _, hs := range b.byType {
			slices.SortStableFunc(hs, byReg)
		}
	}
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

func restoreHandler(id string, raw json.RawMessage) (*Handler, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("abxbus: bus JSON: handlers[%s]: %w", id, err)
	}
	d := eventDecoder{obj: m, ctx: "handlers[" + id + "].", what: "bus JSON"}
	for k := range m {
		if !handlerKeys[k] {
			d.fail(k, "unknown handler key")
		}
	}
	if _, err := ParseID(id); err != nil {
		d.err = fmt.Errorf("abxbus: bus JSON: handlers[%s]: %w", id, err)
	}
	h := &Handler{restored: true}
	h.id = d.id("id", true)
	h.pattern = d.str("event_pattern", "")
	h.name = d.str("handler_name", "")
	h.filePath = d.str("handler_file_path", "")
	h.timeout.store(d.timeout("handler_timeout"))
	h.slowTimeout.store(d.timeout("handler_slow_timeout"))
	h.registeredAt = d.time("handler_registered_at")
	if d.err == nil && h.id.uuid() != id && !strings.EqualFold(h.id.uuid(), id) {
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

type member struct {
	key string
	raw json.RawMessage
}

// orderedMembers reads a JSON object (or null) keeping the document order of its members; a key given
// twice is an error.
func orderedMembers(raw json.RawMessage) ([]member, error) {
	if len(raw) == 0 || firstByte(raw) == 'n' {
		return nil, nil
	}
	if _, err := decodeObject(raw); err != nil { // shape and duplicate keys
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.Token() // '{'
	var out []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{key: t.(string), raw: v})
	}
	return out, nil
}

// orderedIDs reads {key: [id, ...]} keeping the key order; it returns the ids in that order. Errors
// start with the offending position ("[key][i]: ...") or ": ...".
func orderedIDs(raw json.RawMessage) ([]ID, error) {
	members, err := orderedMembers(raw)
	if err != nil {
		return nil, fmt.Errorf(": %w", err)
	}
	var out []ID
	for _, m := range members {
		ids, err := idList(m.raw)
		if err != nil {
			return nil, fmt.Errorf("[%s]%w", m.key, err)
		}
		out = append(out, ids...)
	}
	return out, nil
}

// idList reads a JSON array of ids (or null). Errors start with the offending position ("[i]: ...") or
// ": ...".
func idList(raw json.RawMessage) ([]ID, error) {
	if len(raw) == 0 || firstByte(raw) == 'n' {
		return nil, nil
	}
	if firstByte(raw) != '[' {
		return nil, fmt.Errorf(": must be an array of ids, got %s", jsonKind(firstByte(raw)))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf(": %w", err)
	}
	out := make([]ID, 0, len(items))
	for i, it := range items {
		var s string
		if firstByte(it) != '"' || json.Unmarshal(it, &s) != nil {
			return nil, fmt.Errorf("[%d]: must be an id string, got %s", i, jsonKind(firstByte(it)))
		}
		id, err := ParseID(s)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		out = append(out, id)
	}
	return out, nil
}
