package flatrow

import (
	"encoding/json"
	"reflect"
	"testing"
)

// The TS row encoding (F252, F253): event_* columns hold JSON text, null is SQL NULL, event_payload
// holds the whole event; decoding lets columns win over event_payload and keeps raw text.
func TestEncodeDecodeTSRow(t *testing.T) {
	ev := []byte(`{"label":"ping_0","seq":0,"event_id":"01a202d9-86fe-7064-9a15-f616bf750ee8",` +
		`"event_created_at":"2026-11-22T10:42:20.029964563Z","event_type":"IPCPingEvent","event_timeout":null,` +
		`"event_path":[], "event_pending_bus_count":0}`)
	cols, err := Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Column{}
	var names []string
	for _, c := range cols {
		got[c.Name] = c
		names = append(names, c.Name)
	}
	want := []string{"event_created_at", "event_id", "event_path", "event_payload", "event_pending_bus_count", "event_timeout", "event_type"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("columns %v, want %v", names, want)
	}
	if c := got["event_id"]; c.Value != `"01a202d9-86fe-7064-9a15-f616bf750ee8"` {
		t.Errorf("event_id column %q, want the JSON-quoted id", c.Value)
	}
	if !got["event_timeout"].Null || got["event_path"].Value != "[]" || got["event_pending_bus_count"].Value != "0" {
		t.Errorf("columns %+v", got)
	}
	if p := got["event_payload"].Value; !json.Valid([]byte(p)) || len(p) != len(ev)-1 {
		t.Errorf("event_payload %q is not the compact event", p)
	}
	cols = append(cols, Column{Name: "event_type", Value: "ColumnWins"}, Column{Name: "rowid", Value: "7"})
	out, err := Decode(cols)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if m["event_type"] != "ColumnWins" || m["label"] != "ping_0" || m["rowid"] != nil || m["event_timeout"] != nil {
		t.Errorf("decoded %s", out)
	}
}

func TestEncodeRefuses(t *testing.T) {
	for _, in := range []string{`[1]`, `null`, `"x"`, `{`, `{"event_bad-key":1}`} {
		if _, err := Encode([]byte(in)); err == nil {
			t.Errorf("Encode(%s): no error", in)
		}
	}
}

func TestDecodeNoEvent(t *testing.T) {
	for _, p := range []string{"this is not json {", "[1,2,3]", `{"a":1}`} {
		if out, err := Decode([]Column{{Name: PayloadColumn, Value: p}, {Name: "event_id", Null: true}}); err == nil {
			t.Errorf("Decode(payload %q) = %s, want an error", p, out)
		}
	}
}

func TestDecodeNonObjectPayload(t *testing.T) {
	out, err := Decode([]Column{{Name: PayloadColumn, Value: "not json"}, {Name: "event_type", Value: `"X"`}})
	if err != nil || string(out) != `{"event_type":"X"}` {
		t.Fatalf("Decode = %s, %v", out, err)
	}
}

func TestValidIdentifier(t *testing.T) {
	for s, want := range map[string]bool{"abxbus_events": true, "_x9": true, "9x": false, "": false, "a-b": false, "MixedCase": true} {
		if ValidIdentifier(s) != want {
			t.Errorf("ValidIdentifier(%q) != %v", s, want)
		}
	}
}

// FuzzRoundTrip: Encode and Decode never panic on outside input, and a row that Encode made decodes
// to the same JSON value.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte(`{"event_id":"x","event_type":"A","a":1,"event_path":["b"],"event_timeout":null}`), "event_type", `"B"`)
	f.Add([]byte(`{}`), "event_payload", `{"event_type":"Z"}`)
	f.Add([]byte(`[]`), "other", "\xff")
	f.Fuzz(func(t *testing.T, event []byte, name, value string) {
		if out, err := Decode([]Column{{Name: name, Value: value}, {Name: PayloadColumn, Value: string(event)}}); err == nil && !json.Valid(out) {
			t.Fatalf("Decode gave invalid JSON %q", out)
		}
		cols, err := Encode(event)
		if err != nil {
			return
		}
		var a, b any
		if err := json.Unmarshal(event, &a); err != nil {
			t.Fatal(err)
		}
		out, err := Decode(cols)
		if err != nil {
			if _, typed := a.(map[string]any)["event_type"]; !typed {
				return // not an event: refused
			}
			t.Fatalf("Decode of an encoded row: %v", err)
		}
		if err := json.Unmarshal(out, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the event:\n in  %s\n out %s", event, out)
		}
	})
}
