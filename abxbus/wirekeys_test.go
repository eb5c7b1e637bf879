package abxbus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

type WireKeyed struct {
	abxbus.Returns[string]
	Name string `json:"name"`
}

const tp = `"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`

// TestWireKeyRoundTrip: a key set with SetWireKey is written as a top-level key beside the payload and
// comes back from WireKey after FromJSON (untyped), Registry.Decode (typed) and Reset; replacing it
// on a decoded event writes it once.
func TestWireKeyRoundTrip(t *testing.T) {
	e := abxbus.NewEvent(WireKeyed{Name: "n"}).Base()
	if err := e.SetWireKey("traceparent", json.RawMessage(tp)); err != nil {
		t.Fatal(err)
	}
	if err := e.SetWireKey("tracestate", json.RawMessage(` "a=1" `)); err != nil {
		t.Fatal(err)
	}
	js, err := e.ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(js, &obj); err != nil {
		t.Fatal(err)
	}
	if string(obj["traceparent"]) != tp || string(obj["tracestate"]) != `"a=1"` || string(obj["name"]) != `"n"` {
		t.Fatalf("JSON %s lacks the wire keys", js)
	}
	if got := string(e.WireKey("traceparent")); got != tp {
		t.Fatalf("WireKey on the sender = %s", got)
	}

	untyped, err := abxbus.FromJSON(js)
	if err != nil {
		t.Fatal(err)
	}
	reg := abxbus.NewRegistry()
	if err := abxbus.Register[WireKeyed](reg); err != nil {
		t.Fatal(err)
	}
	typed, err := reg.Decode(js)
	if err != nil {
		t.Fatal(err)
	}
	reset, err := e.Reset()
	if err != nil {
		t.Fatal(err)
	}
	for name, ev := range map[string]*abxbus.BaseEvent{"FromJSON": untyped, "Registry.Decode": typed, "Reset": reset} {
		if got := string(ev.WireKey("traceparent")); got != tp {
			t.Errorf("%s: WireKey = %s, want %s", name, got, tp)
		}
		// Replace it (the receiver continues the trace with its own span) and re-encode: once, new value.
		if err := ev.SetWireKey("traceparent", json.RawMessage(`"new"`)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out, err := ev.ToJSON()
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(out, []byte(`"traceparent"`)); n != 1 || !bytes.Contains(out, []byte(`"traceparent":"new"`)) {
			t.Errorf("%s: re-encoded JSON has traceparent %d times: %s", name, n, out)
		}
		if _, err := abxbus.FromJSON(out); err != nil {
			t.Errorf("%s: re-encoded JSON does not decode: %v", name, err)
		}
	}
	// Removing a key set here.
	if err := e.SetWireKey("tracestate", nil); err != nil {
		t.Fatal(err)
	}
	if out, _ := e.ToJSON(); bytes.Contains(out, []byte("tracestate")) || e.WireKey("tracestate") != nil {
		t.Fatalf("tracestate still there: %s", out)
	}
}

func TestSetWireKeyErrors(t *testing.T) {
	e := abxbus.NewEvent(WireKeyed{Name: "n"}).Base()
	for key, raw := range map[string]string{
		"":           `1`,
		"event_x":    `1`,
		"model_x":    `1`,
		"emit":       `1`,
		"name":       `"payload field"`,
		"traceparen": `{not json`,
	} {
		if err := e.SetWireKey(key, json.RawMessage(raw)); !errors.Is(err, abxbus.ErrInvalidOption) {
			t.Errorf("SetWireKey(%q, %s) = %v, want ErrInvalidOption", key, raw, err)
		} else if key != "" && !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name the key", err)
		}
	}
	if out, _ := e.ToJSON(); bytes.Contains(out, []byte("model_x")) {
		t.Fatal("a refused key was written")
	}
}

// TestSetWireKeyWhileProcessing: setting keys while handlers run and the event is encoded elsewhere is
// race-free (run under -race).
func TestSetWireKeyWhileProcessing(t *testing.T) {
	ctx := context.Background()
	bus, _ := abxbus.New("Wire", nil)
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, p WireKeyed) (string, error) {
		e := abxbus.EventFromContext(ctx)
		_ = e.SetWireKey("seen_by", json.RawMessage(`"handler"`))
		_, _ = e.ToJSON()
		return p.Name, nil
	})
	var wg sync.WaitGroup
	for i := range 20 {
		e, _ := abxbus.Emit(ctx, bus, WireKeyed{Name: "x"})
		wg.Go(func() {
			_ = e.Base().SetWireKey("traceparent", json.RawMessage(tp))
			_, _ = e.Base().ToJSON()
			_ = e.Base().WireKey("seen_by")
		})
		_ = i
	}
	wg.Wait()
	if err := bus.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range bus.History() {
		if string(e.WireKey("seen_by")) != `"handler"` {
			t.Fatalf("%s: seen_by = %s", e, e.WireKey("seen_by"))
		}
	}
}

// FuzzWireKey: whatever key and value SetWireKey accepts, the event still encodes, its JSON decodes
// (as the other runtimes' JSON does), and the decoded event returns the value from WireKey.
func FuzzWireKey(f *testing.F) {
	f.Add("traceparent", []byte(tp))
	f.Add("tracestate", []byte(`"a=1,b=2"`))
	f.Add("x", []byte(`{"nested": [1, 2, {"k": null}]}`))
	f.Add("name", []byte(`1`))
	f.Add("é", []byte(`"\u00e9\ud800"`))
	f.Add("k", []byte("\"\xff\""))
	f.Fuzz(func(t *testing.T, key string, raw []byte) {
		e := abxbus.NewEvent(WireKeyed{Name: "n"}).Base()
		if err := e.SetWireKey(key, raw); err != nil {
			if !errors.Is(err, abxbus.ErrInvalidOption) {
				t.Fatalf("SetWireKey error %v does not match ErrInvalidOption", err)
			}
			return
		}
		js, err := e.ToJSON()
		if err != nil {
			t.Fatalf("ToJSON after SetWireKey(%q, %q): %v", key, raw, err)
		}
		if !json.Valid(js) {
			t.Fatalf("ToJSON wrote invalid JSON: %s", js)
		}
		back, err := abxbus.FromJSON(js)
		if err != nil {
			t.Fatalf("FromJSON of %s: %v", js, err)
		}
		var want, got any
		_ = json.Unmarshal(e.WireKey(key), &want)
		if err := json.Unmarshal(back.WireKey(key), &got); err != nil {
			t.Fatalf("decoded WireKey(%q) = %q: %v (JSON %s)", key, back.WireKey(key), err, js)
		}
		if wb, _ := json.Marshal(want); string(wb) != string(mustJSON(got)) {
			t.Fatalf("WireKey(%q) after the round trip = %s, want %s", key, back.WireKey(key), e.WireKey(key))
		}
	})
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

// A wire key travels with the event's JSON beside its payload, and the receiving side reads it back.
func ExampleBaseEvent_SetWireKey() {
	e := abxbus.NewEvent(WireKeyed{Name: "ada"}).Base()
	_ = e.SetWireKey("traceparent", json.RawMessage(`"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`))
	js, _ := e.ToJSON()
	received, _ := abxbus.FromJSON(js)
	fmt.Println(string(received.WireKey("traceparent")))
	// Output: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
}
