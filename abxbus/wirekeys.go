package abxbus

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"unicode/utf8"
)

// SetWireKey sets a top-level key of the event's JSON that is not part of its payload type: ToJSON
// (and MarshalJSON, bridges, the WAL) writes "key": raw beside the payload fields, and an event decoded
// from that JSON returns raw from WireKey(key), as does a Reset copy. It is meant for metadata that
// travels with an event between processes without being a field of its payload, such as the W3C trace
// context ("traceparent", "tracestate") of a tracing middleware. On the wire such a key is an
// ordinary unknown payload key, which the TypeScript runtime keeps and writes back.
//
// It may be called at any time, also while the event is processed; a later call for the same key
// replaces the value, a nil raw removes a key set here. Safe for concurrent use. Errors (matching
// ErrInvalidOption): an empty key, a key or value that is not valid UTF-8, a key reserved by the wire
// format (event_*, model_*, the reserved payload names), a key that is a field of the event's
// payload, or raw that is not one JSON value.
func (e *BaseEvent) SetWireKey(key string, raw json.RawMessage) error {
	if err := e.unusable("SetWireKey"); err != nil {
		return err
	}
	switch {
	case key == "":
		return fmt.Errorf("%w: SetWireKey on %s: empty key", ErrInvalidOption, e.label())
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: SetWireKey on %s: key %q is not valid UTF-8", ErrInvalidOption, e.label(), key)
	case strings.HasPrefix(key, "event_") || strings.HasPrefix(key, "model_") || reservedPayloadNames[key]:
		return fmt.Errorf("%w: SetWireKey on %s: key %q is reserved by the event JSON format", ErrInvalidOption, e.label(), key)
	}
	if raw != nil {
		if !utf8.Valid(raw) {
			return fmt.Errorf("%w: SetWireKey(%q) on %s: value is not valid UTF-8", ErrInvalidOption, key, e.label())
		}
		var b bytes.Buffer
		if err := json.Compact(&b, raw); err != nil {
			return fmt.Errorf("%w: SetWireKey(%q) on %s: value is not JSON: %v", ErrInvalidOption, key, e.label(), err)
		}
		raw = b.Bytes()
	}
	if _, untyped := e.payload.(JSONPayload); !untyped { // a decoded key of an untyped event may be replaced
		if _, found, ok := payloadField(e, key); ok && found {
			if _, kept := e.wireExtra()[key]; !kept { // and so may an unknown key of a typed one
				return fmt.Errorf("%w: SetWireKey on %s: %q is a field of its payload", ErrInvalidOption, e.label(), key)
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.xw()
	if raw == nil {
		delete(x.wireKeys, key)
		return nil
	}
	if x.wireKeys == nil {
		x.wireKeys = make(map[string]json.RawMessage, 2)
	}
	x.wireKeys[key] = raw
	return nil
}

// WireKey returns the value of a top-level key set with SetWireKey or kept from the JSON the event was
// decoded from (an unknown payload key), or nil when the event has none. The returned bytes must not
// be modified. Safe for concurrent use.
func (e *BaseEvent) WireKey(key string) json.RawMessage {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if raw, ok := e.xr().wireKeys[key]; ok {
		return raw
	}
	if raw, ok := e.wireExtra()[key]; ok {
		return raw
	}
	if p, ok := e.payload.(JSONPayload); ok { // an untyped decoded event keeps every payload key here
		return p[key]
	}
	return nil
}

// unshadowPayload drops from the encoded payload of an untyped event the keys that extra (which holds
// the keys set by SetWireKey) writes instead; other payloads are returned as they are.
func (e *BaseEvent) unshadowPayload(payload []byte, extra map[string]json.RawMessage) []byte {
	p, ok := e.payload.(JSONPayload)
	if !ok || len(extra) == 0 {
		return payload
	}
	var drop bool
	for k := range extra {
		if _, has := p[k]; has {
			drop = true
			break
		}
	}
	if !drop {
		return payload
	}
	kept := make(JSONPayload, len(p))
	for k, v := range p {
		if _, shadowed := extra[k]; !shadowed {
			kept[k] = v
		}
	}
	out, err := json.Marshal(kept)
	if err != nil { // the values were encoded from the same map a moment ago
		return payload
	}
	return out
}

// payloadField reports whether name is a field of the event's payload (ok false: it cannot tell).
func payloadField(e *BaseEvent, name string) (v any, found, ok bool) {
	if raw, has := e.wireExtra()[name]; has {
		return raw, true, true
	}
	return fastPayloadField(e, name)
}

// wireExtraLocked is the decoded unknown keys merged with the keys set by SetWireKey (which win);
// e.mu held. It returns the decoded map itself when no key was set.
func (e *BaseEvent) wireExtraLocked() map[string]json.RawMessage {
	set := e.xr().wireKeys
	if len(set) == 0 {
		return e.wireExtra()
	}
	m := maps.Clone(e.wireExtra())
	if m == nil {
		m = make(map[string]json.RawMessage, len(set))
	}
	maps.Copy(m, set)
	return m
}
