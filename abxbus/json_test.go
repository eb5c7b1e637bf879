package abxbus_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/typedbus/abxbus-go/abxbus"
)

// wireFixtures is where the TS-made fixtures live: ../shared beside the repository.
const wireFixtures = "../../shared/interop/ts-abxbus-2.5.56"

// wireFixtureEvents loads every event object of the TS fixtures (arrays, the bus dump's history and
// the JSONL lines), by source name.
func wireFixtureEvents(t testing.TB) map[string][]json.RawMessage {
	t.Helper()
	out := map[string][]json.RawMessage{}
	for _, name := range []string{"roundtrip_events.json", "processed_events.json", "pending_events.json"} {
		data, err := os.ReadFile(filepath.Join(wireFixtures, name))
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
		var evs []json.RawMessage
		if err := json.Unmarshal(data, &evs); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = evs
	}
	f, err := os.Open(filepath.Join(wireFixtures, "jsonl_sample.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out["jsonl_sample.jsonl"] = append(out["jsonl_sample.jsonl"], append(json.RawMessage(nil), line...))
		}
	}
	return out
}

// D7: every TS-made event decodes and re-encodes with every original key equal.
func TestWireFixturesRoundtripD7(t *testing.T) {
	for name, evs := range wireFixtureEvents(t) {
		for i, raw := range evs {
			e, err := abxbus.FromJSON(raw)
			if err != nil {
				t.Fatalf("%s[%d]: %v", name, i, err)
			}
			out, err := e.ToJSON()
			if err != nil {
				t.Fatalf("%s[%d]: encode: %v", name, i, err)
			}
			var want, got map[string]any
			json.Unmarshal(raw, &want)
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%s[%d]: output is not JSON: %v\n%s", name, i, err, out)
			}
			for k, v := range want {
				if diff := cmp.Diff(v, got[k]); diff != "" {
					t.Errorf("%s[%d] key %s (-want +got):\n%s", name, i, k, diff)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok && !strings.HasPrefix(k, "event_") {
					t.Errorf("%s[%d]: extra payload key %q", name, i, k)
				}
			}
		}
	}
}

type WireOrder struct {
	abxbus.Returns[WireReceipt]
	OrderID string   `json:"order_id"`
	Items   []string `json:"items"`
}

type WireReceipt struct {
	Total float64 `json:"total"`
	Note  *string `json:"note"`
}

// Go-made events after real processing: results, errors, lineage and the typed result schema survive
// encode -> decode -> encode unchanged.
func TestWireGoEventRoundtrip(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "WireBus", nil)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) { return k.N * 2, nil }))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, o WireOrder) (WireReceipt, error) {
		v, err := abxbus.CallChild(ctx, Kid{N: 21})
		return WireReceipt{Total: float64(v)}, err
	}, abxbus.WithName("pricer")))
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, o WireOrder) (WireReceipt, error) {
		return WireReceipt{}, errors.New("stock service down")
	}, abxbus.WithName("stock")))
	e := must[*abxbus.Event[WireOrder, WireReceipt]](t)(abxbus.EmitWith(ctx, bus, WireOrder{OrderID: "o-1", Items: []string{"a"}},
		abxbus.EventOptions{HandlerTimeout: 1500 * time.Millisecond, Completion: abxbus.CompleteAll}))
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	idle(t, bus)
	first, err := e.Base().ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(first, &m); err != nil {
		t.Fatal(err)
	}
	if m["order_id"] != "o-1" || m["event_handler_timeout"] != 1.5 || m["event_handler_completion"] != "all" || m["event_timeout"] != nil {
		t.Fatalf("fields: %s", first)
	}
	wantSchema := `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"total":{"type":"number"},"note":{"anyOf":[{"type":"string"},{"type":"null"}]}},"required":["note","total"],"additionalProperties":false}`
	if got, _ := json.Marshal(m["event_result_type"]); !jsonEqual(t, got, []byte(wantSchema)) {
		t.Fatalf("event_result_type %s", got)
	}
	results := m["event_results"].(map[string]any)
	if len(results) != 2 {
		t.Fatalf("results %v", results)
	}
	for _, r := range results {
		r := r.(map[string]any)
		switch r["handler_name"] {
		case "pricer":
			if kids := r["event_children"].([]any); len(kids) != 1 || r["result"].(map[string]any)["total"] != 42.0 {
				t.Fatalf("pricer row %v", r)
			}
		case "stock":
			if errObj := r["error"].(map[string]any); errObj["message"] != "stock service down" || r["status"] != "error" {
				t.Fatalf("stock row %v", r)
			}
			if _, has := r["result"]; has {
				t.Fatalf("error row has a result: %v", r)
			}
		}
	}
	back, err := abxbus.FromJSON(first)
	if err != nil {
		t.Fatal(err)
	}
	second, err := back.ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, first, second) {
		t.Fatalf("re-encode differs:\n%s\n%s", first, second)
	}
	if back.Status() != abxbus.EventCompleted || back.CompletedAt() != e.Base().CompletedAt() {
		t.Fatalf("status/time lost: %s", back.Status())
	}
	typed, ok := abxbus.As[WireOrder, WireReceipt](back)
	if !ok {
		t.Fatal("As failed on a decoded event of the same type")
	}
	if p, err := typed.Payload(); err != nil || p.OrderID != "o-1" {
		t.Fatalf("typed payload %v %v", p, err)
	}
	if _, err := typed.Result(ctx); err == nil || !strings.Contains(err.Error(), "stock service down") {
		t.Fatalf("decoded error result: %v", err)
	}
	if r, err := typed.Result(ctx, abxbus.ResultOptions{IgnoreErrors: true}); err != nil || r.Total != 42 {
		t.Fatalf("decoded typed result %v %v", r, err)
	}
}

func jsonEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return cmp.Equal(x, y)
}

// Bad input gets an error naming the key, never a panic (D2, interop README "rejected").
func TestWireRejectsBadEvents(t *testing.T) {
	base := `"event_id":"01a20279-f147-73b3-ae9a-7a81a2cdd3d3","event_type":"X"`
	cases := map[string]string{
		`{` + base + `,"event_created_at":"2026-11-22T08:57:55.78+00:00"}`:       "event_created_at",
		`{` + base + `,"event_created_at":"2026-11-22T08:57:55.7829552711234Z"}`: "event_created_at",
		`{` + base + `,"event_created_at":"2026-11-22T08:57:55"}`:                "event_created_at",
		`{"event_id":"not-a-uuid"}`:                                              "event_id",
		`{` + base + `,"event_parent_id":"nope"}`:                                "event_parent_id",
		`{` + base + `,"event_timeout":-1}`:                                      "event_timeout",
		`{` + base + `,"event_timeout":"5"}`:                                     "event_timeout",
		`{` + base + `,"event_pending_bus_count":-1}`:                            "event_pending_bus_count",
		`{` + base + `,"event_status":"error"}`:                                  "event_status",
		`{` + base + `,"event_concurrency":"sometimes"}`:                         "event_concurrency",
		`{` + base + `,"event_path":"A#1234"}`:                                   "event_path",
		`{` + base + `,"event_results":[]}`:                                      "event_results",
		`{` + base + `,"event_version":1}`:                                       "event_version",
		`{` + base + `,"event_surprise":1}`:                                      "event_surprise",
		`{` + base + `,"model_config":{}}`:                                       "model_config",
		`{` + base + `,"event_extra_payload":{}}`:                                "event_extra_payload",
		`{` + base + `,"bus":1}`:                                                 "bus",
		`{` + base + `,"event_result_type":"str"}`:                               "event_result_type",
		`[1,2]`: "event JSON",
		`null`:  "not an object",
		`{` + base + `,"event_results":{"x":{"id":"01a20279-f147-73b3-ae9a-7a81a2cdd3d4"}}}`: "status",
	}
	for in, want := range cases {
		_, err := abxbus.FromJSON([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("FromJSON(%s) = %v, want an error naming %q", in, err, want)
		}
	}
	ok := []string{`{}`, `{"event_type":"Only"}`, `{` + base + `,"event_created_at":"2026-11-22T08:57:55Z"}`,
		`{` + base + `,"event_result_type":null,"event_timeout":null}`}
	for _, in := range ok {
		if _, err := abxbus.FromJSON([]byte(in)); err != nil {
			t.Errorf("FromJSON(%s): %v", in, err)
		}
	}
}

// The event decoder never panics; what it accepts encodes to valid UTF-8 JSON (issue 11 item 3), which
// decodes again and re-encodes to the same bytes.
func FuzzFromJSON(f *testing.F) {
	for _, evs := range wireFixtureEvents(f) {
		for _, raw := range evs {
			f.Add([]byte(raw))
		}
	}
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := abxbus.FromJSON(data)
		if err != nil {
			return
		}
		out, err := e.ToJSON()
		if err != nil {
			return // e.g. a payload that is valid JSON but not re-encodable is reported, not a panic
		}
		if !utf8.Valid(out) || !json.Valid(out) {
			t.Fatalf("output is not valid UTF-8 JSON: %q", out)
		}
		back, err := abxbus.FromJSON(out)
		if err != nil {
			t.Fatalf("re-decode of our own output failed: %v\n%s", err, out)
		}
		again, err := back.ToJSON()
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("unstable encoding:\n%s\n%s (%v)", out, again, err)
		}
	})
}
