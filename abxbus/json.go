package abxbus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The abxbus event JSON (D7): one flat object, payload keys next to the event_* keys, in the shape the
// TypeScript package abxbus@2.5.56 writes and accepts. Always written: event_id, event_created_at,
// event_type, event_version, event_timeout (null when unset), event_blocks_parent_completion,
// event_parent_id, event_path, event_emitted_by_handler_id, event_pending_bus_count, event_status,
// event_started_at, event_completed_at. Written only when set: event_slow_timeout, event_handler_timeout,
// event_handler_slow_timeout, event_concurrency, event_handler_concurrency, event_handler_completion,
// event_result_type, event_results. Timestamps have nine fractional digits and Z; timeouts are seconds.

// JSONPayload is the payload of an event decoded from JSON without a Go payload type (FromJSON, or a
// Registry that does not know the event type): the object's non-event keys with their raw JSON values.
// Typed handlers still receive their payload type P (decoded on demand, see Event.Payload).
type JSONPayload map[string]json.RawMessage

// resultWire holds what a result row decoded from JSON carries that an in-process row does not: the
// bus it ran on elsewhere, its children as ids, and the exact JSON of its value and error.
type resultWire struct {
	busName   string
	busID     ID
	childIDs  []ID
	rawResult json.RawMessage // nil: no "result" key
	rawError  json.RawMessage // nil: no "error" key
}

// MarshalJSON returns ToJSON's bytes, so an event (or a struct field holding one) encodes as abxbus
// event JSON with encoding/json. encoding/json compacts what a MarshalJSON method returns and, by default,
// escapes <, > and & in it: what this package encodes itself is written that way already, so json.Marshal
// gives ToJSON's exact bytes, except for JSON that a decoded event kept verbatim (a foreign
// event_result_type, a result or error that arrived as JSON), whose whitespace and escapes may differ; the
// JSON value is the same. Use ToJSON for the exact wire bytes.
func (e *BaseEvent) MarshalJSON() ([]byte, error) {
	if err := e.unusable("MarshalJSON"); err != nil {
		return nil, err
	}
	return e.ToJSON()
}

// UnmarshalJSON decodes one abxbus event JSON object into e, exactly as FromJSON would into a new
// event (the payload becomes a JSONPayload; use Registry.Decode or the typed Event's UnmarshalJSON for a
// typed payload), so json.Unmarshal into a *BaseEvent, or a struct with a *BaseEvent field, works. The
// decoded event replaces e's whole state: it has the id, status and results of the JSON and belongs to no
// bus. An event that a bus has accepted cannot be overwritten: that is an error wrapping
// ErrInvalidOption, and so is a nil e. On error e is unchanged. Not safe for concurrent use with other
// methods on the same e (as with decoding into any value).
func (e *BaseEvent) UnmarshalJSON(data []byte) error {
	return e.unmarshal("UnmarshalJSON", data, nil)
}

// unmarshal decodes data into e (see UnmarshalJSON); typ, when set, makes the decoded event typed.
func (e *BaseEvent) unmarshal(op string, data []byte, typ func(e *BaseEvent, p JSONPayload) error) error {
	if e == nil {
		return fmt.Errorf("%w: %s into a nil event", ErrInvalidOption, op)
	}
	e.mu.Lock()
	accepted, zero := len(e.buses.get()) > 0 || e.jumping, e.eventType == "" && len(e.results) == 0
	e.mu.Unlock()
	if accepted {
		return fmt.Errorf("%w: %s into %s, which a bus has accepted (decode into a new event instead)", ErrInvalidOption, op, e.label())
	}
	decode := func(into *BaseEvent) error {
		payload, err := decodeEventInto(into, data)
		if err == nil && typ != nil {
			err = typ(into, payload)
		}
		return err
	}
	if !zero {
		// Validate on a scratch event first, so that a failed decode leaves e as it was.
		if err := decode(&BaseEvent{}); err != nil {
			return err
		}
	}
	*e = BaseEvent{}
	if err := decode(e); err != nil {
		*e = BaseEvent{}
		return err
	}
	return nil
}

// ToJSON encodes the event as abxbus event JSON, byte-compatible with the TypeScript package: the
// payload's fields (and any unknown payload keys it arrived with), the metadata, the result type's JSON
// Schema and the per-handler results keyed by handler id in registration order. A result whose value is
// an event (a forwarding handler's return) is written as null; an error as {"type", "message"} (an error
// object decoded from JSON is written back as it came; any other decoded error value, such as a plain
// string, becomes {"type": "Error", "message": ...}). Ids are written in lower case. The output is
// always valid UTF-8: bytes of Go values that are not (a json.RawMessage payload or result) are written
// as U+FFFD. It fails
// when the payload does not encode to a JSON object or a value cannot be encoded, naming the field.
// Safe for concurrent use; the event is snapshotted under its lock and encoded outside it.
func (e *BaseEvent) ToJSON() ([]byte, error) {
	if err := e.unusable("ToJSON"); err != nil {
		return nil, err
	}
	payload, err := e.payloadObject()
	if err != nil {
		return nil, err
	}
	schema, err := e.resultTypeJSON()
	if err != nil {
		return nil, err
	}
	s := e.snapshot()
	payload = e.unshadowPayload(payload, s.extra)

	var b bytes.Buffer
	b.Grow(256 + len(payload))
	b.WriteByte('{')
	first := true
	key := func(k string) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		writeJSONString(&b, k)
		b.WriteByte(':')
	}
	if inner := bytes.TrimSpace(payload[1 : len(payload)-1]); len(inner) > 0 {
		b.Write(inner)
		first = false
	}
	for _, k := range s.extraKeys {
		key(k)
		b.Write(s.extra[k])
	}
	if schema != nil {
		key("event_result_type")
		b.Write(schema)
	}
	key("event_id")
	writeJSONString(&b, s.id.uuid())
	key("event_created_at")
	writeJSONString(&b, formatNS(s.createdAt))
	key("event_type")
	writeJSONString(&b, s.eventType)
	key("event_version")
	writeJSONString(&b, s.version)
	key("event_timeout")
	writeTimeout(&b, s.opts.Timeout)
	if s.opts.SlowTimeout != 0 {
		key("event_slow_timeout")
		writeTimeout(&b, s.opts.SlowTimeout)
	}
	if s.opts.HandlerTimeout != 0 {
		key("event_handler_timeout")
		writeTimeout(&b, s.opts.HandlerTimeout)
	}
	if s.opts.HandlerSlowTimeout != 0 {
		key("event_handler_slow_timeout")
		writeTimeout(&b, s.opts.HandlerSlowTimeout)
	}
	key("event_blocks_parent_completion")
	b.WriteString(strconv.FormatBool(s.blocksParent))
	key("event_parent_id")
	writeIDOrNull(&b, s.parentID)
	key("event_path")
	b.WriteByte('[')
	for i, p := range s.path {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, p)
	}
	b.WriteByte(']')
	key("event_emitted_by_handler_id")
	writeIDOrNull(&b, s.emittedBy)
	key("event_pending_bus_count")
	b.WriteString(strconv.Itoa(s.pendingBuses))
	key("event_status")
	writeJSONString(&b, string(s.status))
	key("event_started_at")
	writeTimeOrNull(&b, s.startedAt)
	key("event_completed_at")
	writeTimeOrNull(&b, s.completedAt)
	if s.opts.Concurrency != "" {
		key("event_concurrency")
		writeJSONString(&b, string(s.opts.Concurrency))
	}
	if s.opts.HandlerConcurrency != "" {
		key("event_handler_concurrency")
		writeJSONString(&b, string(s.opts.HandlerConcurrency))
	}
	if s.opts.Completion != "" {
		key("event_handler_completion")
		writeJSONString(&b, string(s.opts.Completion))
	}
	if len(s.results) > 0 {
		key("event_results")
		b.WriteByte('{')
		for i, r := range s.results {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, r.handlerID.uuid())
			b.WriteByte(':')
			if err := r.encode(&b); err != nil {
				return nil, fmt.Errorf("abxbus: encode %s: result of %s: %w", s.label, r.handlerName, err)
			}
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return validUTF8(b.Bytes()), nil
}

// payloadObject returns the payload as a JSON object.
func (e *BaseEvent) payloadObject() ([]byte, error) {
	raw, err := e.PayloadJSON()
	if err != nil {
		return nil, err
	}
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		return []byte("{}"), nil
	}
	if len(raw) < 2 || raw[0] != '{' {
		return nil, fmt.Errorf("abxbus: encode %s: the payload must encode to a JSON object, got %.40s", e.label(), raw)
	}
	return raw, nil
}

// resultTypeJSON is event_result_type: a foreign schema verbatim, else the typed result type's schema.
func (e *BaseEvent) resultTypeJSON() (json.RawMessage, error) {
	e.mu.Lock()
	foreign, info := e.wireSchema(), e.info
	e.mu.Unlock()
	if foreign != nil {
		return foreign, nil
	}
	if info == nil {
		return nil, nil
	}
	return info.schema()
}

type eventSnap struct {
	label        string
	id           ID
	eventType    string
	version      string
	createdAt    int64
	opts         EventOptions
	blocksParent bool
	parentID     ID
	emittedBy    ID
	path         []string
	pendingBuses int
	status       EventStatus
	startedAt    int64
	completedAt  int64
	extra        map[string]json.RawMessage
	extraKeys    []string
	results      []resultSnap
}

type resultSnap struct {
	id           ID
	status       resStatus
	eventID      ID
	handlerID    ID
	handlerName  string
	filePath     string
	timeout      time.Duration
	slowTimeout  time.Duration
	registeredAt int64
	pattern      string
	busName      string
	busID        ID
	startedAt    int64
	completedAt  int64
	value        any
	null         bool
	err          error
	children     []ID
	wire         *resultWire
}

func (e *BaseEvent) snapshot() eventSnap {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := eventSnap{
		label: e.label(), id: e.id, eventType: e.eventType, version: e.versionLocked(), createdAt: e.createdAt,
		opts: *e.o(), blocksParent: e.blocksParent, parentID: e.lr().parentID, emittedBy: e.lr().emittedBy,
		path: slices.Clone(e.path.get()), pendingBuses: int(e.pendingBuses), status: e.status.public(),
		startedAt: e.startedAt, completedAt: e.completedAt, extra: e.wireExtraLocked(),
	}
	if s.version == "" {
		s.version = DefaultEventVersion
	}
	if len(e.buses.get()) == 0 && e.wire != nil {
		s.pendingBuses = e.wire.pendingBuses
	}
	for k := range s.extra {
		s.extraKeys = append(s.extraKeys, k)
	}
	slices.Sort(s.extraKeys)
	for _, r := range e.orderedResultsLocked() {
		h := r.handler
		rs := resultSnap{
			id: r.id, status: r.status, eventID: e.id, handlerID: h.id, handlerName: h.name,
			filePath: h.filePath, registeredAt: h.registeredAt, pattern: h.pattern,
			startedAt: r.startedAt, completedAt: r.completedAt, value: r.value, null: r.null, err: r.err,
			wire: r.wire,
		}
		rs.timeout, rs.slowTimeout = h.timeout.load(), h.slowTimeout.load()
		if r.bus != nil {
			rs.busName, rs.busID = r.bus.name, r.bus.id
		}
		if r.wire != nil {
			rs.busName, rs.busID = r.wire.busName, r.wire.busID
			rs.children = r.wire.childIDs
		}
		for _, c := range r.children() {
			rs.children = append(rs.children, c.id)
		}
		if rs.registeredAt == 0 {
			rs.registeredAt = e.createdAt
		}
		if rs.pattern == "" {
			rs.pattern = e.eventType
		}
		s.results = append(s.results, rs)
	}
	return s
}

func (r *resultSnap) encode(b *bytes.Buffer) error {
	b.WriteString(`{"id":`)
	writeJSONString(b, r.id.uuid())
	b.WriteString(`,"status":`)
	writeJSONString(b, string(r.status.public()))
	b.WriteString(`,"event_id":`)
	writeJSONString(b, r.eventID.uuid())
	b.WriteString(`,"handler_id":`)
	writeJSONString(b, r.handlerID.uuid())
	b.WriteString(`,"handler_name":`)
	writeJSONString(b, r.handlerName)
	b.WriteString(`,"handler_file_path":`)
	if r.filePath == "" {
		b.WriteString("null")
	} else {
		writeJSONString(b, r.filePath)
	}
	if r.timeout != 0 {
		b.WriteString(`,"handler_timeout":`)
		writeTimeout(b, r.timeout)
	}
	if r.slowTimeout != 0 {
		b.WriteString(`,"handler_slow_timeout":`)
		writeTimeout(b, r.slowTimeout)
	}
	b.WriteString(`,"handler_registered_at":`)
	writeJSONString(b, formatNS(r.registeredAt))
	b.WriteString(`,"handler_event_pattern":`)
	writeJSONString(b, r.pattern)
	b.WriteString(`,"eventbus_name":`)
	writeJSONString(b, r.busName)
	b.WriteString(`,"eventbus_id":`)
	writeJSONString(b, r.busID.uuid())
	b.WriteString(`,"started_at":`)
	writeTimeOrNull(b, r.startedAt)
	b.WriteString(`,"completed_at":`)
	writeTimeOrNull(b, r.completedAt)
	switch {
	case r.wire != nil && r.wire.rawResult != nil:
		b.WriteString(`,"result":`)
		b.Write(r.wire.rawResult)
	case r.wire != nil:
		// no result key on the way in: none on the way out
	case r.status == rsCompleted:
		b.WriteString(`,"result":`)
		if _, isEvent := r.value.(*BaseEvent); isEvent || r.value == nil || r.null {
			b.WriteString("null") // a forward reference is not data (the TS package cannot encode it)
		} else {
			v, err := json.Marshal(r.value)
			if err != nil {
				return err
			}
			b.Write(v)
		}
	}
	switch {
	case r.wire != nil && r.wire.rawError != nil:
		b.WriteString(`,"error":`)
		b.Write(r.wire.rawError)
	case r.err != nil:
		b.WriteString(`,"error":{"type":`)
		writeJSONString(b, ErrorType(r.err))
		b.WriteString(`,"message":`)
		msg := r.err.Error()
		if re, ok := r.err.(*RemoteError); ok {
			msg = re.Message
		}
		writeJSONString(b, msg)
		b.WriteByte('}')
	}
	b.WriteString(`,"event_children":[`)
	for i, c := range r.children {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(b, c.uuid())
	}
	b.WriteString("]}")
	return nil
}

// uuid is the id's wire form; unlike String, the nil UUID is written out (the TS package accepts it).
func (id ID) uuid() string {
	if id.IsZero() {
		return "00000000-0000-0000-0000-000000000000"
	}
	return id.String()
}

func writeJSONString(b *bytes.Buffer, s string) {
	if isPlainJSON(s) {
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
		return
	}
	q, _ := json.Marshal(s) // a string always encodes
	b.Write(q)
}

// isPlainJSON reports whether s needs no escaping in JSON (the common case for ids, names and times).
func isPlainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// writeTimeout writes a timeout in seconds: null when unset (0), 0 for NoTimeout.
func writeTimeout(b *bytes.Buffer, d time.Duration) {
	if d == 0 {
		b.WriteString("null")
		return
	}
	b.WriteString(strconv.FormatFloat(timeoutSeconds(d), 'f', -1, 64))
}

func writeIDOrNull(b *bytes.Buffer, id ID) {
	if id.IsZero() {
		b.WriteString("null")
		return
	}
	writeJSONString(b, id.String())
}

func writeTimeOrNull(b *bytes.Buffer, ns int64) {
	if ns == 0 {
		b.WriteString("null")
		return
	}
	writeJSONString(b, formatNS(ns))
}

// ---- decoding ----

// FromJSON decodes one abxbus event JSON object (as written by this package, the TypeScript or the
// Python runtime) into an untyped event: the payload becomes a JSONPayload of the object's non-event
// keys, status, timestamps, lineage and results are kept (terminal results stay terminal), and a
// foreign event_result_type is kept verbatim and enforced on the results of untyped handlers. Use a
// Registry to decode known event types into their Go payload types.
//
// Errors name the offending key: unknown event_* or model_* keys, event_extra_payload, reserved names
// (bus, emit, wait, now, ...), wrong types, timestamps that are not UTC with Z, ids that are not in the
// form ParseID accepts (these errors match ErrInvalidID), negative timeouts or counts, values outside
// the enums, result rows with unknown or missing keys or two rows for one handler, and an input that is
// not a JSON object. Bad input never panics.
//
// Strictness, so that nothing is lost or read twice without a word: keys are case-sensitive (in a typed
// payload too: a key that differs from a field's JSON name only in case stays an unknown key), and an
// object with the same key twice, at any depth, is an error naming the key and where it is. Invalid
// UTF-8 is replaced by U+FFFD, byte by byte, in keys and values alike (what encoding/json does to the
// strings it decodes, and what Node does when it reads such a file), so a decoded event is valid UTF-8
// and ToJSON writes what was decoded. Timeouts beyond MaxTimeout (up to and past the float64 range) are
// MaxTimeout; a positive timeout too small for a nanosecond is 1 ns.
func FromJSON(data []byte) (*BaseEvent, error) {
	e, _, err := decodeEvent(data)
	return e, err
}

// eventKeys are the metadata keys of an event object, with their decoders.
var eventKeys = map[string]bool{
	"event_id": true, "event_created_at": true, "event_type": true, "event_version": true,
	"event_timeout": true, "event_slow_timeout": true, "event_handler_timeout": true,
	"event_handler_slow_timeout": true, "event_blocks_parent_completion": true, "event_parent_id": true,
	"event_path": true, "event_emitted_by_handler_id": true, "event_pending_bus_count": true,
	"event_status": true, "event_started_at": true, "event_completed_at": true, "event_concurrency": true,
	"event_handler_concurrency": true, "event_handler_completion": true, "event_result_type": true,
	"event_results": true,
}

// decodeEvent decodes the metadata and results of an event object; the payload keys are returned
// separately (and stored on the event as a JSONPayload).
func decodeEvent(data []byte) (*BaseEvent, JSONPayload, error) {
	e := &BaseEvent{}
	payload, err := decodeEventInto(e, data)
	if err != nil {
		return nil, nil, err
	}
	return e, payload, nil
}

// decodeEventInto is decodeEvent into the zero event e (its result rows point to e). On error e is
// left partly written.
func decodeEventInto(e *BaseEvent, data []byte) (JSONPayload, error) {
	data = validUTF8(data)
	obj, err := decodeObject(data)
	if err == nil {
		err = checkDuplicateKeys(data)
	}
	if err != nil {
		return nil, fmt.Errorf("abxbus: event JSON: %w", err)
	}
	d := eventDecoder{obj: obj}
	e.results = e.resultsBuf[:0]
	e.runs = e.runsBuf[:0]

	payload := JSONPayload{}
	for k, v := range obj {
		switch {
		case eventKeys[k]:
		case k == "event_extra_payload" || strings.HasPrefix(k, "event_") || strings.HasPrefix(k, "model_"):
			return nil, fmt.Errorf("abxbus: event JSON: unknown key %q (event_* and model_* names are reserved)", k)
		case reservedPayloadNames[k]:
			return nil, fmt.Errorf("abxbus: event JSON: payload key %q is a reserved name", k)
		default:
			payload[k] = v
		}
	}

	e.eventType = d.str("event_type", "BaseEvent")
	if d.err == nil && e.eventType != "BaseEvent" {
		if err := checkEventType(e.eventType); err != nil {
			d.fail("event_type", err.Error())
		}
	}
	e.wireW().version = d.str("event_version", DefaultEventVersion)
	e.id = d.id("event_id", true)
	e.createdAt = d.time("event_created_at")
	e.opts = &EventOptions{}
	e.opts.Timeout = d.timeout("event_timeout")
	e.opts.SlowTimeout = d.timeout("event_slow_timeout")
	e.opts.HandlerTimeout = d.timeout("event_handler_timeout")
	e.opts.HandlerSlowTimeout = d.timeout("event_handler_slow_timeout")
	e.blocksParent = d.boolean("event_blocks_parent_completion")
	if p, by := d.id("event_parent_id", false), d.id("event_emitted_by_handler_id", false); !p.IsZero() || !by.IsZero() {
		e.linW().parentID, e.lin.emittedBy = p, by
	}
	e.path.set(append(e.path.get(), d.strings("event_path")...))
	e.wireW().pendingBuses = d.count("event_pending_bus_count")
	e.status = parseEvStatus(d.enum("event_status", string(EventPending), "pending", "started", "completed"))
	e.startedAt = d.time("event_started_at")
	e.completedAt = d.time("event_completed_at")
	e.opts.Concurrency = EventConcurrency(d.enum("event_concurrency", "", string(GlobalSerial), string(BusSerial), string(Parallel)))
	e.opts.HandlerConcurrency = HandlerConcurrency(d.enum("event_handler_concurrency", "", string(HandlersSerial), string(HandlersParallel)))
	e.opts.Completion = Completion(d.enum("event_handler_completion", "", string(CompleteAll), string(CompleteFirst)))
	if raw, ok := obj["event_result_type"]; ok && d.err == nil {
		switch t := firstByte(raw); t {
		case 'n':
		case '{', 't', 'f':
			e.wireW().resultSchema = slices.Clone(raw)
		default:
			d.fail("event_result_type", "must be a JSON Schema (an object or a boolean) or null")
		}
	}
	if raw, ok := obj["event_results"]; ok && d.err == nil && firstByte(raw) != 'n' {
		d.results(e, raw)
	}
	if d.err != nil {
		return nil, d.err
	}
	if _, given := obj["event_id"]; !given {
		e.id = newIDAt(now())
	}
	if e.createdAt == 0 {
		e.createdAt = now()
	} else {
		observeTime(e.createdAt)
	}
	if e.status == evCompleted {
		e.completedFlag.Store(true)
	}
	for _, r := range e.results {
		if r.validLocked() {
			e.hasValid = true
		}
	}
	e.payload = payload
	return payload, nil
}

func firstByte(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// eventDecoder reads typed fields out of a decoded object, recording the first error with its key.
type eventDecoder struct {
	obj  map[string]json.RawMessage
	err  error
	ctx  string // prefix for error messages ("event_results[<id>].")
	what string // what is decoded, for error messages; "" is "event JSON"
}

func (d *eventDecoder) fail(key, msg string) { d.failErr(key, errors.New(msg)) }

// failErr records err (kept for errors.Is/As) as the first error, naming key.
func (d *eventDecoder) failErr(key string, err error) {
	if d.err == nil {
		what := d.what
		if what == "" {
			what = "event JSON"
		}
		d.err = fmt.Errorf("abxbus: %s: %s%s: %w", what, d.ctx, key, err)
	}
}

func (d *eventDecoder) raw(key string) (json.RawMessage, bool) {
	if d.err != nil {
		return nil, false
	}
	v, ok := d.obj[key]
	if !ok || len(v) == 0 || firstByte(v) == 'n' {
		return nil, false
	}
	return v, true
}

func (d *eventDecoder) str(key, def string) string {
	v, ok := d.raw(key)
	if !ok {
		return def
	}
	v = bytes.TrimSpace(v)
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && bytes.IndexByte(v[1:len(v)-1], '\\') < 0 {
		return string(v[1 : len(v)-1]) // already validated JSON: no escapes, no decoding needed
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		d.fail(key, "must be a string")
	}
	return s
}

func (d *eventDecoder) id(key string, required bool) ID {
	s := d.str(key, "")
	if s == "" {
		if _, present := d.obj[key]; present && required && d.err == nil {
			d.failErr(key, badID("", "must not be empty or null"))
		}
		return ID{}
	}
	id, err := ParseID(s)
	if err != nil {
		d.failErr(key, err)
	}
	return id
}

func (d *eventDecoder) time(key string) int64 {
	s := d.str(key, "")
	if s == "" || d.err != nil {
		return 0
	}
	t, err := ParseTimestamp(s)
	if err != nil {
		d.fail(key, err.Error())
		return 0
	}
	ns, ok := timeNS(t)
	if !ok {
		d.fail(key, fmt.Sprintf("timestamp %q is later than %s, the latest time this package can hold", s, FormatTimestamp(maxNSTime)))
	}
	return ns
}

// timeout decodes a timeout in seconds: null or absent is unset (0), 0 is NoTimeout.
func (d *eventDecoder) timeout(key string) time.Duration {
	v, ok := d.raw(key)
	if !ok {
		return 0
	}
	v = bytes.TrimSpace(v)
	f, err := strconv.ParseFloat(string(v), 64)
	underflow := false
	if err != nil && errors.Is(err, strconv.ErrRange) && json.Valid(v) {
		err = nil // a valid JSON number beyond float64: ±Inf
	}
	if f == 0 && err == nil {
		mantissa, _, _ := strings.Cut(strings.ToLower(string(v)), "e")
		underflow = strings.ContainsAny(mantissa, "123456789") // non-zero, below float64: read as 0
	}
	if err != nil || math.IsNaN(f) {
		d.fail(key, "must be a number of seconds or null")
		return 0
	}
	if f < 0 || underflow && v[0] == '-' {
		d.fail(key, "must be >= 0")
		return 0
	}
	if underflow {
		f = math.SmallestNonzeroFloat64 // a positive value below float64: the shortest timeout, not "disabled"
	}
	switch {
	case math.IsInf(f, 1):
		return MaxTimeout // more seconds than float64 holds: the longest timeout
	case f == 0:
		return NoTimeout
	}
	return secondsToDuration(f)
}

func (d *eventDecoder) boolean(key string) bool {
	v, ok := d.raw(key)
	if !ok {
		return false
	}
	switch string(bytes.TrimSpace(v)) {
	case "true":
		return true
	case "false":
		return false
	}
	d.fail(key, "must be a boolean")
	return false
}

func (d *eventDecoder) count(key string) int {
	v, ok := d.raw(key)
	if !ok {
		return 0
	}
	var n int
	if err := json.Unmarshal(v, &n); err != nil || n < 0 {
		d.fail(key, "must be a non-negative integer")
	}
	return n
}

func (d *eventDecoder) strings(key string) []string {
	v, ok := d.raw(key)
	if !ok {
		return nil
	}
	var ss []string
	if err := json.Unmarshal(v, &ss); err != nil {
		d.fail(key, "must be an array of strings")
	}
	return ss
}

func (d *eventDecoder) enum(key, def string, allowed ...string) string {
	s := d.str(key, def)
	if d.err == nil && s != def && !slices.Contains(allowed, s) {
		d.fail(key, fmt.Sprintf("%q is not one of %s", s, strings.Join(allowed, ", ")))
	}
	return s
}

// resultKeys are the keys an EventResult object may have (the TS schema is strict).
var resultKeys = map[string]bool{
	"id": true, "status": true, "event_id": true, "handler_id": true, "handler_name": true,
	"handler_file_path": true, "handler_timeout": true, "handler_slow_timeout": true,
	"handler_registered_at": true, "handler_event_pattern": true, "eventbus_name": true,
	"eventbus_id": true, "started_at": true, "completed_at": true, "result": true, "error": true,
	"event_children": true,
}

var requiredResultKeys = []string{"id", "status", "event_id", "handler_id", "handler_name", "eventbus_name", "eventbus_id", "event_children"}

func (d *eventDecoder) results(e *BaseEvent, raw json.RawMessage) {
	if firstByte(raw) != '{' {
		d.fail("event_results", "must be an object keyed by handler id")
		return
	}
	// Keep the wire order: decode the keys in sequence.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		d.fail("event_results", err.Error())
		return
	}
	for dec.More() { // (a key given twice was refused by checkDuplicateKeys)
		tok, err := dec.Token()
		if err != nil {
			d.fail("event_results", err.Error())
			return
		}
		key, _ := tok.(string)
		var row map[string]json.RawMessage
		if err := dec.Decode(&row); err != nil || row == nil {
			var te *json.UnmarshalTypeError
			switch {
			case err == nil:
				d.fail("event_results["+key+"]", "not an object (got null)")
			case errors.As(err, &te):
				d.fail("event_results["+key+"]", "not an object (got "+jsonKind(kindByte(te.Value))+")")
			default:
				d.fail("event_results", err.Error())
			}
			return
		}
		d.result(e, key, row)
		if d.err != nil {
			return
		}
	}
}

func (d *eventDecoder) result(e *BaseEvent, key string, row map[string]json.RawMessage) {
	rd := eventDecoder{obj: row, ctx: "event_results[" + key + "]."}
	for k := range row {
		if !resultKeys[k] {
			rd.fail(k, "unknown result key")
		}
	}
	for _, k := range requiredResultKeys {
		if _, ok := row[k]; !ok {
			rd.fail(k, "missing")
		}
	}
	h := &Handler{}
	r := &EventResult{ev: e, handler: h, wire: &resultWire{}}
	r.id = rd.id("id", true)
	r.status = parseResStatus(ResultStatus(rd.enum("status", "", string(ResultPending), string(ResultStarted), string(ResultCompleted), string(ResultError))))
	if rd.err == nil && r.status == rsInvalid {
		rd.fail("status", "must be one of pending, started, completed, error")
	}
	if eid := rd.id("event_id", true); rd.err == nil && !e.id.IsZero() && eid != e.id {
		rd.fail("event_id", fmt.Sprintf("%s is not the event's id %s", eid, e.id))
	}
	h.id = rd.id("handler_id", true)
	if rd.err == nil && key != h.id.uuid() && !strings.EqualFold(key, h.id.uuid()) {
		rd.fail("handler_id", fmt.Sprintf("%s differs from its key", h.id.uuid()))
	}
	if rd.err == nil && slices.ContainsFunc(e.results, func(o *EventResult) bool { return o.handler.id == h.id }) {
		rd.fail("handler_id", fmt.Sprintf("%s has more than one result row", h.id.uuid()))
	}
	h.name = rd.str("handler_name", "")
	h.filePath = rd.str("handler_file_path", "")
	h.timeout.store(rd.timeout("handler_timeout"))
	h.slowTimeout.store(rd.timeout("handler_slow_timeout"))
	h.registeredAt = rd.time("handler_registered_at")
	h.pattern = rd.str("handler_event_pattern", "")
	r.wire.busName = rd.str("eventbus_name", "")
	r.wire.busID = rd.id("eventbus_id", true)
	r.startedAt = rd.time("started_at")
	r.completedAt = rd.time("completed_at")
	if v, ok := row["event_children"]; ok && rd.err == nil {
		var ids []string
		if err := json.Unmarshal(v, &ids); err != nil || ids == nil {
			rd.fail("event_children", "must be an array of event ids")
		}
		for i, s := range ids {
			id, err := ParseID(s)
			if err != nil {
				rd.failErr(fmt.Sprintf("event_children[%d]", i), err)
				break
			}
			r.wire.childIDs = append(r.wire.childIDs, id)
		}
	}
	if v, ok := row["result"]; ok {
		r.wire.rawResult = slices.Clone(v)
		if firstByte(v) == 'n' {
			r.null = true
		} else {
			r.value = json.RawMessage(r.wire.rawResult)
		}
	} else {
		r.null = true
	}
	if v, ok := row["error"]; ok && firstByte(v) != 'n' {
		if firstByte(v) == '{' {
			r.wire.rawError = slices.Clone(v) // an object is kept as it came (it may carry more than type and message)
		} // anything else (a plain string, ...) is written back as {"type", "message"}
		r.err = remoteErrorOf(v)
	}
	if rd.err != nil {
		d.err = rd.err
		return
	}
	if r.status == rsError && r.err == nil {
		r.err = &RemoteError{Type: "Error", Message: "handler failed (no error recorded)"}
	}
	e.results = append(e.results, r)
}

// remoteErrorOf reads a wire error: {"type","message"}, a plain string, or anything else (kept as text).
func remoteErrorOf(raw json.RawMessage) *RemoteError {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return &RemoteError{Message: s}
	}
	var o struct {
		Type    *string `json:"type"`
		Message *string `json:"message"`
		Name    *string `json:"name"`
	}
	if json.Unmarshal(raw, &o) == nil && (o.Type != nil || o.Message != nil || o.Name != nil) {
		re := &RemoteError{}
		if o.Type != nil {
			re.Type = *o.Type
		} else if o.Name != nil {
			re.Type = *o.Name
		}
		if o.Message != nil {
			re.Message = *o.Message
		}
		return re
	}
	return &RemoteError{Message: string(raw)}
}

// ParseTimestamp parses a wire timestamp: UTC with Z and 0-9 fractional digits, in the years 1991-2499
// (the TS package rejects offsets, a missing zone, more than nine digits and other years; so does this).
// It returns the time in UTC without a monotonic clock reading, so it is == to the time the timestamp
// was made from (FormatTimestamp is the reverse). "" is the zero Time, as FormatTimestamp writes it.
func ParseTimestamp(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	bad := func(why string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("timestamp %q %s", s, why)
	}
	if len(s) < 20 || s[len(s)-1] != 'Z' {
		return bad("must be UTC ending in Z (YYYY-MM-DDTHH:MM:SS[.fffffffff]Z)")
	}
	if len(s) > 20 {
		if s[19] != '.' {
			return bad("must be UTC ending in Z (YYYY-MM-DDTHH:MM:SS[.fffffffff]Z)")
		}
		frac := s[20 : len(s)-1]
		if len(frac) > 9 {
			return bad("has more than 9 fractional digits")
		}
		for i := 0; i < len(frac); i++ {
			if frac[i] < '0' || frac[i] > '9' {
				return bad("has a malformed fraction")
			}
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return bad("is not a valid date-time")
	}
	if y := t.Year(); y <= 1990 || y >= 2500 {
		return bad("is outside the years 1991-2499")
	}
	return t.UTC(), nil
}

// validUTF8 returns data with every byte that does not belong to a valid UTF-8 sequence replaced by
// U+FFFD, one replacement per byte, exactly as encoding/json replaces them when it decodes a string; it
// returns data itself when it is valid (the common case, no allocation). Applied to whole JSON texts:
// invalid bytes can only be valid JSON inside strings, so object keys and every kept raw value get the
// same replacement, and what is decoded is what is written back.
func validUTF8(data []byte) []byte {
	if utf8.Valid(data) {
		return data
	}
	out := make([]byte, 0, len(data)+16)
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, data[i:i+size]...)
		}
		i += size
	}
	return out
}

// decodeObject decodes a JSON object into its members. A value that is not an object is an error saying
// what it is. Duplicate keys are found by checkDuplicateKeys, which the entry points run on the whole text.
func decodeObject(raw []byte) (map[string]json.RawMessage, error) {
	if c := firstByte(raw); c != '{' {
		if !json.Valid(raw) {
			var v json.RawMessage
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, err
			}
		}
		return nil, fmt.Errorf("not an object (got %s)", jsonKind(c))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// kindByte is the first byte of a JSON value of the kind encoding/json names in its type errors.
func kindByte(kind string) byte {
	switch kind {
	case "array":
		return '['
	case "string":
		return '"'
	case "bool":
		return 't'
	case "object":
		return '{'
	}
	return '0'
}

// jsonKind names the kind of JSON value that starts with c.
func jsonKind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case 0:
		return "nothing"
	}
	return "a number"
}

// checkDuplicateKeys reports the first object, at any depth of the valid JSON text raw, that has a key
// more than once (keys compared after unescaping, exactly: "a" and "\u0061" are the same key, "a" and "A"
// are not). The error names the key and where the object is. One pass, no allocation for keys without
// escapes.
func checkDuplicateKeys(raw []byte) error {
	var sc dupScanner
	sc.data = raw
	sc.value()
	if sc.dup == "" {
		return nil
	}
	where := ""
	if len(sc.path) > 0 {
		where = " in " + strings.TrimPrefix(strings.Join(sc.path, ""), ".")
	}
	return fmt.Errorf("key %q appears more than once%s", sc.dup, where)
}

type dupScanner struct {
	data []byte
	i    int
	dup  string   // the duplicated key, once found
	path []string // where it was found: ".key" and "[i]" segments (without the leading dot)
}

func (sc *dupScanner) skipSpace() {
	for sc.i < len(sc.data) {
		switch sc.data[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// str scans a string starting at its quote; it returns its raw contents and whether it has escapes.
func (sc *dupScanner) str() ([]byte, bool) {
	start, esc := sc.i+1, false
	for sc.i++; sc.i < len(sc.data); sc.i++ {
		switch sc.data[sc.i] {
		case '\\':
			esc = true
			sc.i++
		case '"':
			sc.i++
			return sc.data[start : sc.i-1], esc
		}
	}
	return sc.data[start:], esc
}

// value scans one value; it returns false once a duplicate is found.
func (sc *dupScanner) value() bool {
	sc.skipSpace()
	if sc.i >= len(sc.data) {
		return true
	}
	switch sc.data[sc.i] {
	case '{':
		return sc.object()
	case '[':
		sc.i++
		for n := 0; ; n++ {
			sc.skipSpace()
			if sc.i >= len(sc.data) || sc.data[sc.i] == ']' {
				sc.i++
				return true
			}
			if !sc.value() {
				sc.path = append([]string{"[" + strconv.Itoa(n) + "]"}, sc.path...)
				return false
			}
			sc.skipSpace()
			if sc.i < len(sc.data) && sc.data[sc.i] == ',' {
				sc.i++
			}
		}
	case '"':
		sc.str()
	default:
		for sc.i < len(sc.data) && !strings.ContainsRune(",]} \t\n\r", rune(sc.data[sc.i])) {
			sc.i++
		}
	}
	return true
}

func (sc *dupScanner) object() bool {
	sc.i++
	var small [16][2]int // the first keys without escapes, as offsets into data: no allocation
	n := 0
	var many map[string]struct{} // beyond that, or once a key has escapes
	for {
		sc.skipSpace()
		if sc.i >= len(sc.data) || sc.data[sc.i] == '}' {
			sc.i++
			return true
		}
		q := sc.i
		k, esc := sc.str()
		if esc {
			var u string
			if json.Unmarshal(sc.data[q:sc.i], &u) == nil {
				k = []byte(u)
			}
		}
		seen := false
		if many == nil && !esc && n < len(small) {
			for _, o := range small[:n] {
				if bytes.Equal(sc.data[o[0]:o[1]], k) {
					seen = true
					break
				}
			}
			small[n] = [2]int{q + 1, q + 1 + len(k)}
			n++
		} else {
			if many == nil {
				many = make(map[string]struct{}, 2*len(small))
				for _, o := range small[:n] {
					many[string(sc.data[o[0]:o[1]])] = struct{}{}
				}
			}
			_, seen = many[string(k)]
			many[string(k)] = struct{}{}
		}
		if seen {
			sc.dup = string(k)
			return false
		}
		sc.skipSpace()
		sc.i++ // ':'
		if !sc.value() {
			sc.path = append([]string{"." + string(k)}, sc.path...)
			return false
		}
		sc.skipSpace()
		if sc.i < len(sc.data) && sc.data[sc.i] == ',' {
			sc.i++
		}
	}
}
