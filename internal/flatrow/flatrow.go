// Package flatrow is the row codec that the SQLite and Postgres bridges share with the TypeScript
// bridges of abxbus: an event JSON object spread over one table row whose columns are event_payload
// (the whole event JSON) and one TEXT column per top-level event_* key, each holding the JSON text of
// its value (JSON-in-TEXT: a string is stored with its quotes), SQL NULL for a null value.
//
// Decoding merges a row back into an event JSON object as the TypeScript listener does: it starts
// from event_payload when that parses to an object, then every non-NULL event_* column replaces its
// key with the column's JSON value, or with the raw text as a JSON string when the text is not JSON.
package flatrow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// PayloadColumn is the column that holds the whole event JSON.
const PayloadColumn = "event_payload"

// BaseColumns are the columns the TypeScript bridges create at start (event_id first, the primary
// key), then the ones a plain TypeScript event adds on its first emit. A bridge creates all of them
// at start, so that a TypeScript emitter started earlier never has to add one that another process
// added meanwhile (TS issues ALTER TABLE ADD COLUMN without IF NOT EXISTS from a stale cache).
var BaseColumns = []string{
	"event_id", "event_created_at", "event_type", PayloadColumn,
	"event_blocks_parent_completion", "event_completed_at", "event_concurrency",
	"event_emitted_by_handler_id", "event_handler_completion", "event_handler_concurrency",
	"event_handler_slow_timeout", "event_handler_timeout", "event_parent_id", "event_path",
	"event_pending_bus_count", "event_result_type", "event_slow_timeout", "event_started_at",
	"event_status", "event_timeout", "event_version", "event_results",
}

// Column is one column of a row: its name and its text, or Null for SQL NULL.
type Column struct {
	Name  string
	Value string
	Null  bool
}

// ValidIdentifier reports whether s is a table, channel or column name the TypeScript bridges accept:
// ^[A-Za-z_][A-Za-z0-9_]*$.
func ValidIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Encode spreads the event JSON object event over columns, sorted by name (the order in which the
// TypeScript bridges list them in their INSERT). Errors: event is not a JSON object, or one of its
// event_* keys is not a valid identifier (it cannot be a column).
func Encode(event []byte) ([]Column, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(event, &obj); err != nil {
		return nil, fmt.Errorf("flatrow: the event is not a JSON object: %w", err)
	}
	if obj == nil {
		return nil, errors.New("flatrow: the event is null, not a JSON object")
	}
	var whole bytes.Buffer
	if err := json.Compact(&whole, event); err != nil {
		return nil, fmt.Errorf("flatrow: %w", err)
	}
	cols := make([]Column, 0, len(obj)+1)
	cols = append(cols, Column{Name: PayloadColumn, Value: whole.String()})
	var buf bytes.Buffer
	for k, raw := range obj {
		if !strings.HasPrefix(k, "event_") || k == PayloadColumn {
			continue
		}
		if !ValidIdentifier(k) {
			return nil, fmt.Errorf("flatrow: event key %q cannot be a column: use only [A-Za-z0-9_]", k)
		}
		buf.Reset()
		if err := json.Compact(&buf, raw); err != nil {
			return nil, fmt.Errorf("flatrow: key %s: %w", k, err)
		}
		if buf.String() == "null" {
			cols = append(cols, Column{Name: k, Null: true})
			continue
		}
		cols = append(cols, Column{Name: k, Value: buf.String()})
	}
	sort.Slice(cols, func(i, j int) bool { return cols[i].Name < cols[j].Name })
	return cols, nil
}

// Decode merges the columns of a row into an event JSON object, as the TypeScript listener does:
// event_payload, when it parses to an object, is the start; every non-NULL event_* column overrides
// its key with its JSON value (or its text as a string when it is not JSON). Columns whose name does
// not start with "event_" are ignored. The result is a JSON object, possibly not a valid event (the
// caller's event decoder says why). Error: the merged object has no event_type (event_payload is not
// an event object and no event_type column is set).
func Decode(cols []Column) ([]byte, error) {
	obj := map[string]json.RawMessage{}
	for _, c := range cols {
		if c.Name != PayloadColumn || c.Null {
			continue
		}
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(c.Value), &m) == nil && m != nil {
			obj = m
		}
	}
	for _, c := range cols {
		if c.Name == PayloadColumn || c.Null || !strings.HasPrefix(c.Name, "event_") {
			continue
		}
		if json.Valid([]byte(c.Value)) {
			obj[c.Name] = json.RawMessage(c.Value)
			continue
		}
		s, err := json.Marshal(c.Value)
		if err != nil {
			return nil, fmt.Errorf("flatrow: column %s: %w", c.Name, err)
		}
		obj[c.Name] = s
	}
	if _, ok := obj["event_type"]; !ok {
		return nil, errors.New("flatrow: the row holds no event: no event_type column and event_payload is not an event JSON object")
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("flatrow: %w", err)
	}
	return out, nil
}
