package abxbus_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// badIDs are malformed ids (issue 11 item 1, F227, D8): each must be refused with an error, never a
// panic and never a different id.
var badIDs = []string{
	"00000000-0000-0000-0000--00000000000",     // extra dash: read past the end before
	"01a20279-f147-73b3-ae9a-7a-1a2c-dd3d",     // dashes moved: silently reinterpreted before
	"01a20279-f147-73b3-ae9a-7a81a2cdd3d",      // 35 characters
	"01a20279-f147-73b3-ae9a-7a81a2cdd3d3a",    // 37 characters
	"01a20279f14773b3ae9a7a81a2cdd3d3",         // 32 bare hex digits
	"{01a20279-f147-73b3-ae9a-7a81a2cdd3d}",    // braces
	"urn:uuid:01a20279-f147-73b3-ae9a-7a81",    // urn prefix
	"01a20279-f147-73b3-ae9a-7a81a2cdd3dg",     // not hex
	"01a20279_f147_73b3_ae9a_7a81a2cdd3d3",     // wrong separators
	"-01a2027-f147-73b3-ae9a-7a81a2cdd3d3",     // dash first
	"01a20279-f147-73b3-ae9a-7a81a2cdd3d-",     // dash last
	"01a2027--f147-73b3-ae9a-7a81a2cdd3d3",     // dash inside a group
	" 1a20279-f147-73b3-ae9a-7a81a2cdd3d3",     // space
	"01a20279-f147-03b3-ae9a-7a81a2cdd3d3",     // version 0 (the TS peer rejects it)
	"01a20279-f147-93b3-ae9a-7a81a2cdd3d3",     // version 9
	"01a20279-f147-73b3-0e9a-7a81a2cdd3d3",     // variant 0xxx
	"01a20279-f147-73b3-ce9a-7a81a2cdd3d3",     // variant 110x
	"01a20279-f147-73b3-ae9a-7a81a2cdd3\u00e9", // non-ASCII, 36 bytes
	"",
}

var goodIDs = map[string]string{
	"01a20279-f147-73b3-ae9a-7a81a2cdd3d3": "01a20279-f147-73b3-ae9a-7a81a2cdd3d3",
	"01A20279-F147-73B3-AE9A-7A81A2CDD3D3": "01a20279-f147-73b3-ae9a-7a81a2cdd3d3", // upper case in, lower out
	"01a20279-F147-73b3-Ae9a-7a81a2cdd3d3": "01a20279-f147-73b3-ae9a-7a81a2cdd3d3",
	"9b2c3d4e-5f60-4172-8394-a5b6c7d8e9f0": "9b2c3d4e-5f60-4172-8394-a5b6c7d8e9f0", // v4
	"98dc1aae-798a-597c-8b2e-2c0511f4a81a": "98dc1aae-798a-597c-8b2e-2c0511f4a81a", // v5
	"ffffffff-ffff-ffff-ffff-ffffffffffff": "ffffffff-ffff-ffff-ffff-ffffffffffff", // Max UUID
	"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF": "ffffffff-ffff-ffff-ffff-ffffffffffff",
}

// Issue 11 item 1: ParseID accepts exactly the RFC 9562 text form.
func TestParseIDStrictIssue11Item1(t *testing.T) {
	for _, s := range badIDs {
		id, err := abxbus.ParseID(s)
		if err == nil || !errors.Is(err, abxbus.ErrInvalidID) || !strings.Contains(err.Error(), `invalid id "`) {
			t.Errorf("ParseID(%q) = %s, %v; want an ErrInvalidID error", s, id, err)
		}
	}
	for in, want := range goodIDs {
		id, err := abxbus.ParseID(in)
		if err != nil || id.String() != want {
			t.Errorf("ParseID(%q) = %s, %v; want %s", in, id, err, want)
		}
	}
	if id, err := abxbus.ParseID("00000000-0000-0000-0000-000000000000"); err != nil || !id.IsZero() {
		t.Errorf("Nil UUID: %s %v", id, err)
	}
}

// Issue 11 item 1: every way an id reaches the library names the field it came in.
func TestMalformedIDsNameTheFieldIssue11Item1(t *testing.T) {
	const good = "01a20279-f147-73b3-ae9a-7a81a2cdd3d3"
	const hid = "98dc1aae-798a-597c-8b2e-2c0511f4a81a"
	row := func(id, handler, bus, child string) string {
		return `{"` + handler + `":{"id":"` + id + `","status":"completed","event_id":"` + good + `","handler_id":"` + handler +
			`","handler_name":"h","eventbus_name":"B","eventbus_id":"` + bus + `","event_children":["` + child + `"]}}`
	}
	reg := abxbus.NewRegistry()
	if err := abxbus.Register[Ping](reg); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, bad := range badIDs {
		if bad == "" {
			continue // an empty optional id means "none"
		}
		q := `"` + bad + `"`
		events := map[string]string{
			"event_id":                    `{"event_type":"Ping","event_id":` + q + `}`,
			"event_parent_id":             `{"event_type":"Ping","event_id":"` + good + `","event_parent_id":` + q + `}`,
			"event_emitted_by_handler_id": `{"event_type":"Ping","event_id":"` + good + `","event_emitted_by_handler_id":` + q + `}`,
			"event_results[" + hid + "].id": `{"event_type":"Ping","event_id":"` + good + `","event_results":` +
				row(bad, hid, good, good) + `}`,
			"event_results[" + hid + "].eventbus_id": `{"event_type":"Ping","event_id":"` + good + `","event_results":` +
				row(good, hid, bad, good) + `}`,
			"event_results[" + hid + "].event_children[0]": `{"event_type":"Ping","event_id":"` + good + `","event_results":` +
				row(good, hid, good, bad) + `}`,
		}
		for field, in := range events {
			want := field + `: invalid id "` + bad + `"`
			for how, decode := range map[string]func([]byte) (*abxbus.BaseEvent, error){
				"FromJSON": abxbus.FromJSON, "Registry.Decode": reg.Decode,
			} {
				if _, err := decode([]byte(in)); err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, abxbus.ErrInvalidID) {
					t.Errorf("%s(%s) = %v; want an error containing %q", how, in, err, want)
				}
			}
			hist := `{"name":"B","event_history":{"` + good + `":` + in + `}}`
			if field == "event_id" {
				hist = `{"name":"B","event_history":{` + q + `:` + in + `}}`
			}
			if _, err := abxbus.BusFromJSON([]byte(hist), reg, nil); err == nil || !strings.Contains(err.Error(), `invalid id "`+bad+`"`) {
				t.Errorf("BusFromJSON(history %s) = %v; want it to name the bad id", field, err)
			}
		}
		buses := map[string]string{
			"id":                         `{"name":"B","id":` + q + `}`,
			"handlers[" + bad + "]":      `{"name":"B","handlers":{` + q + `:{"id":` + q + `,"event_pattern":"Ping"}}}`,
			"handlers[" + hid + "].id":   `{"name":"B","handlers":{"` + hid + `":{"id":` + q + `,"event_pattern":"Ping"}}}`,
			"handlers_by_key[Ping][0]":   `{"name":"B","handlers_by_key":{"Ping":[` + q + `]}}`,
			"pending_event_queue[0]":     `{"name":"B","pending_event_queue":[` + q + `]}`,
			"event_history[" + bad + "]": `{"name":"B","event_history":{` + q + `:{"event_type":"Ping","event_id":"` + good + `"}}}`,
		}
		for field, in := range buses {
			want := field + `: invalid id "` + bad + `"`
			if _, err := abxbus.BusFromJSON([]byte(in), reg, nil); err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, abxbus.ErrInvalidID) {
				t.Errorf("BusFromJSON(%s) = %v; want an error containing %q", in, err, want)
			}
		}
		if _, err := abxbus.New("B", &abxbus.Options{ID: bad}); err == nil || !errors.Is(err, abxbus.ErrInvalidOption) ||
			!errors.Is(err, abxbus.ErrInvalidID) || !strings.Contains(err.Error(), "bus id") {
			t.Errorf("New(Options{ID: %q}) = %v", bad, err)
		}
		b := newBus(t, "B", nil)
		_, err := abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return 1, nil }, abxbus.WithHandlerID(bad))
		if err == nil || !errors.Is(err, abxbus.ErrInvalidOption) || !errors.Is(err, abxbus.ErrInvalidID) || !strings.Contains(err.Error(), "handler id") {
			t.Errorf("WithHandlerID(%q) = %v", bad, err)
		}
		if e, err := abxbus.Emit(ctx, b, Ping{N: 1}); err != nil || e.Base().Status() == "" {
			t.Errorf("bus unusable after a refused id: %v", err)
		}
		b.Destroy(true)
	}
}

// FuzzParseID: ParseID never panics; what it accepts is 36 characters, prints in lower case and parses
// back to the same id (issue 11 item 1).
func FuzzParseID(f *testing.F) {
	for _, s := range badIDs {
		f.Add(s)
	}
	for s := range goodIDs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := abxbus.ParseID(s)
		if err != nil {
			if !errors.Is(err, abxbus.ErrInvalidID) {
				t.Fatalf("ParseID(%q): %v does not match ErrInvalidID", s, err)
			}
			return
		}
		if len(s) != 36 {
			t.Fatalf("ParseID accepted %q (%d bytes)", s, len(s))
		}
		out := id.String()
		if id.IsZero() {
			out = "00000000-0000-0000-0000-000000000000"
		}
		if out != strings.ToLower(s) {
			t.Fatalf("ParseID(%q).String() = %q", s, out)
		}
		back, err := abxbus.ParseID(out)
		if err != nil || back != id {
			t.Fatalf("ParseID(%q) = %v, %v; want %v", out, back, err, id)
		}
	})
}
