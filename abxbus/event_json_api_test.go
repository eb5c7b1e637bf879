package abxbus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Issue 12 item 3: events work with encoding/json, fmt and log/slog like ordinary Go values.

// The interfaces the standard library looks for.
var (
	_ json.Marshaler   = (*abxbus.Event[Order, string])(nil)
	_ json.Unmarshaler = (*abxbus.Event[Order, string])(nil)
	_ slog.LogValuer   = (*abxbus.Event[Order, string])(nil)
	_ fmt.Stringer     = (*abxbus.Event[Order, string])(nil)
	_ json.Marshaler   = (*abxbus.BaseEvent)(nil)
	_ json.Unmarshaler = (*abxbus.BaseEvent)(nil)
	_ slog.LogValuer   = (*abxbus.BaseEvent)(nil)
	_ fmt.Stringer     = (*abxbus.BaseEvent)(nil)
	_ slog.LogValuer   = (*abxbus.EventResult)(nil)
)

// completedOrder emits an Order with a result and returns it completed, with its bus.
func completedOrder(t *testing.T, id string) (*abxbus.Bus, *abxbus.Event[Order, string]) {
	t.Helper()
	b := orderBus(t, nil)
	e := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(tctx(t), b, Order{OrderID: id, Qty: 2}))
	if err := e.Now(tctx(t)); err != nil {
		t.Fatal(err)
	}
	return b, e
}

// json.Marshal of a typed event is its abxbus event JSON, byte for byte (a typed event used to encode
// as {}: Event is a defined type over BaseEvent and has none of its methods).
func TestTypedEventMarshalJSONIsToJSON(t *testing.T) {
	_, e := completedOrder(t, "o<1>&") // characters encoding/json escapes
	want := must[[]byte](t)(e.Base().ToJSON())
	got, err := json.Marshal(e)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("json.Marshal(typed event) = %s, %v\nwant ToJSON %s", got, err, want)
	}
	if got := must[[]byte](t)(json.Marshal(e.Base())); !bytes.Equal(got, want) {
		t.Fatalf("json.Marshal(base event) = %s\nwant ToJSON %s", got, want)
	}
	var enc bytes.Buffer // an Encoder that does not escape HTML writes the same bytes (ToJSON escapes)
	je := json.NewEncoder(&enc)
	je.SetEscapeHTML(false)
	if err := je.Encode(e); err != nil || !bytes.Equal(bytes.TrimSuffix(enc.Bytes(), []byte("\n")), want) {
		t.Fatalf("Encoder(SetEscapeHTML(false)) = %s, %v", enc.Bytes(), err)
	}
	if !strings.Contains(string(got), `"order_id":"o\u003c1\u003e\u0026"`) || !strings.Contains(string(got), `"event_results":{`) {
		t.Fatalf("json.Marshal(typed event) lacks the payload or the results: %s", got)
	}

	// A nil typed event is JSON null; MarshalJSON on it is an error, as on a nil BaseEvent.
	var none *abxbus.Event[Order, string]
	if got := must[[]byte](t)(json.Marshal(none)); string(got) != "null" {
		t.Fatalf("json.Marshal(nil typed event) = %s; want null", got)
	}
	if _, err := none.MarshalJSON(); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("nil.MarshalJSON() error = %v; want ErrInvalidOption", err)
	}
}

// A typed event in a struct field (pointer, slice, map value) encodes as its event JSON.
func TestTypedEventFieldMarshalsInsideStruct(t *testing.T) {
	_, e := completedOrder(t, "o1")
	raw := string(must[[]byte](t)(e.Base().ToJSON()))
	type envelope struct {
		Event   *abxbus.Event[Order, string]            `json:"event"`
		List    []*abxbus.Event[Order, string]          `json:"list"`
		ByID    map[string]*abxbus.Event[Order, string] `json:"by_id"`
		Missing *abxbus.Event[Order, string]            `json:"missing"`
		Base    *abxbus.BaseEvent                       `json:"base"`
		N       int                                     `json:"n"`
	}
	got := string(must[[]byte](t)(json.Marshal(envelope{Event: e, List: []*abxbus.Event[Order, string]{e},
		ByID: map[string]*abxbus.Event[Order, string]{"x": e}, Base: e.Base(), N: 7})))
	want := `{"event":` + raw + `,"list":[` + raw + `],"by_id":{"x":` + raw + `},"missing":null,"base":` + raw + `,"n":7}`
	if got != want {
		t.Fatalf("envelope JSON =\n%s\nwant\n%s", got, want)
	}
}

// JSON that a decoded event keeps verbatim (a foreign event_result_type here) is compacted and
// HTML-escaped by encoding/json: the bytes may differ from ToJSON's, the JSON value does not.
func TestMarshalJSONOfVerbatimJSONIsSameValue(t *testing.T) {
	in := `{"event_type":"Foreign","note":"x","event_result_type": {"type": "string", "description": "<b>"}}`
	e := must[*abxbus.BaseEvent](t)(abxbus.FromJSON([]byte(in)))
	a := must[[]byte](t)(e.ToJSON())
	b := must[[]byte](t)(json.Marshal(e))
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(va, vb) {
		t.Fatalf("json.Marshal and ToJSON differ as JSON values:\n%s\n%s", b, a)
	}
}

// json.Unmarshal into a typed event decodes the abxbus JSON into a new event of type P: the payload is
// a P (not a JSONPayload), the id, status and results are those of the JSON, and re-encoding gives the
// same bytes. Unknown payload keys survive, as with Registry.Decode.
func TestTypedEventUnmarshalJSONRoundTrip(t *testing.T) {
	_, e := completedOrder(t, "o1")
	raw := must[[]byte](t)(e.Base().ToJSON())

	var back *abxbus.Event[Order, string]
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if back == nil || back == e || back.ID() != e.ID() || back.Status() != abxbus.EventCompleted {
		t.Fatalf("decoded = %v (status %s); want a new completed event with id %s", back, back.Status(), e.ID())
	}
	if p, ok := back.Base().Payload().(Order); !ok || p.OrderID != "o1" || p.Qty != 2 {
		t.Fatalf("decoded payload = %#v; want the Order itself", back.Base().Payload())
	}
	if v, err := back.Result(tctx(t)); err != nil || v != "ok:o1" {
		t.Fatalf("decoded Result = %q, %v; want ok:o1", v, err)
	}
	if again := must[[]byte](t)(json.Marshal(back)); !bytes.Equal(again, raw) {
		t.Fatalf("re-encoded =\n%s\nwant\n%s", again, raw)
	}
	reg := abxbus.NewRegistry()
	if err := abxbus.Register[Order](reg); err != nil {
		t.Fatal(err)
	}
	viaReg := must[*abxbus.BaseEvent](t)(reg.Decode(raw))
	if a, b := must[[]byte](t)(viaReg.ToJSON()), must[[]byte](t)(back.Base().ToJSON()); !bytes.Equal(a, b) {
		t.Fatalf("Registry.Decode and UnmarshalJSON differ:\n%s\n%s", a, b)
	}

	// Inside a struct, with an unknown payload key kept.
	in := `{"event":{"event_type":"Order","order_id":"o9","qty":3,"gift_note":"hi"},"n":1}`
	var env struct {
		Event *abxbus.Event[Order, string] `json:"event"`
		Base  *abxbus.BaseEvent            `json:"base"`
		N     int                          `json:"n"`
	}
	if err := json.Unmarshal([]byte(in), &env); err != nil {
		t.Fatal(err)
	}
	if p, err := env.Event.Payload(); err != nil || p.OrderID != "o9" || p.Qty != 3 || env.N != 1 || env.Base != nil {
		t.Fatalf("envelope = %+v, payload %+v, %v", env, p, err)
	}
	if out := string(must[[]byte](t)(json.Marshal(env.Event))); !strings.Contains(out, `"gift_note":"hi"`) {
		t.Fatalf("unknown payload key lost: %s", out)
	}

	// The decoded event is an ordinary unemitted event: a bus processes it with the typed handler.
	b := orderBus(t, nil)
	fresh := must[[]byte](t)(json.Marshal(struct {
		Type    string `json:"event_type"`
		OrderID string `json:"order_id"`
	}{"Order", "o10"}))
	var ev *abxbus.Event[Order, string]
	if err := json.Unmarshal(fresh, &ev); err != nil {
		t.Fatal(err)
	}
	must[*abxbus.BaseEvent](t)(b.Emit(tctx(t), ev.Base()))
	if v, err := ev.Result(tctx(t)); err != nil || v != "ok:o10" {
		t.Fatalf("emitted decoded event: Result = %q, %v", v, err)
	}
}

// json.Unmarshal into a *BaseEvent is FromJSON.
func TestBaseEventUnmarshalJSONRoundTrip(t *testing.T) {
	_, e := completedOrder(t, "o1")
	raw := must[[]byte](t)(e.Base().ToJSON())
	var back *abxbus.BaseEvent
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	viaFrom := must[*abxbus.BaseEvent](t)(abxbus.FromJSON(raw))
	if _, ok := back.Payload().(abxbus.JSONPayload); !ok || back.ID() != e.ID() {
		t.Fatalf("decoded payload %T, id %s; want a JSONPayload and id %s", back.Payload(), back.ID(), e.ID())
	}
	if a, b := must[[]byte](t)(back.ToJSON()), must[[]byte](t)(viaFrom.ToJSON()); !bytes.Equal(a, b) || !bytes.Equal(a, raw) {
		t.Fatalf("UnmarshalJSON, FromJSON and the original differ:\n%s\n%s\n%s", a, b, raw)
	}
	if err := json.Unmarshal([]byte(`{"event_type":"Order","event_bogus":1}`), &back); err == nil || !strings.Contains(err.Error(), "event_bogus") {
		t.Fatalf("bad JSON error = %v; want one naming event_bogus", err)
	}
}

// Decoding errors name what is wrong; the receiver is left as it was.
func TestTypedEventUnmarshalJSONErrors(t *testing.T) {
	var e *abxbus.Event[Order, string]
	err := json.Unmarshal([]byte(`{"event_type":"Shipment","order_id":"o1"}`), &e)
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), `"Shipment"`) || !strings.Contains(err.Error(), `"Order"`) {
		t.Fatalf("wrong event type: %v; want an error naming both types", err)
	}
	err = json.Unmarshal([]byte(`{"order_id":"o1"}`), &e) // no event_type: BaseEvent
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), `"BaseEvent"`) {
		t.Fatalf("missing event type: %v", err)
	}
	err = json.Unmarshal([]byte(`{"event_type":"Order","qty":"three"}`), &e)
	if err == nil || !strings.Contains(err.Error(), "qty") {
		t.Fatalf("payload misfit: %v; want an error naming qty", err)
	}
	if err := json.Unmarshal([]byte(`[1]`), &e); err == nil {
		t.Fatal("array: no error")
	}

	// A constructed, unemitted event is replaced; a failed decode leaves it alone.
	own := abxbus.NewEvent(Order{OrderID: "mine"})
	id := own.ID()
	if err := own.UnmarshalJSON([]byte(`{"event_type":"Shipment"}`)); err == nil {
		t.Fatal("wrong type into a constructed event: no error")
	}
	if p, _ := own.Payload(); own.ID() != id || p.OrderID != "mine" {
		t.Fatalf("failed decode changed the event: %v %+v", own, p)
	}
	if err := own.UnmarshalJSON([]byte(`{"event_type":"Order","order_id":"theirs"}`)); err != nil {
		t.Fatal(err)
	}
	if p, _ := own.Payload(); own.ID() == id || p.OrderID != "theirs" {
		t.Fatalf("decode into a constructed event: %v %+v", own, p)
	}

	// An event a bus accepted is not overwritten.
	_, done := completedOrder(t, "o1")
	before := must[[]byte](t)(done.Base().ToJSON())
	err = done.UnmarshalJSON([]byte(`{"event_type":"Order","order_id":"other"}`))
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "accepted") {
		t.Fatalf("decode into an emitted event: %v; want a refusal", err)
	}
	if err := done.Base().UnmarshalJSON([]byte(`{"event_type":"Order"}`)); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("BaseEvent decode into an emitted event: %v; want a refusal", err)
	}
	if after := must[[]byte](t)(done.Base().ToJSON()); !bytes.Equal(before, after) {
		t.Fatalf("refused decode changed the event:\n%s\n%s", before, after)
	}
	var nilBase *abxbus.BaseEvent
	if err := nilBase.UnmarshalJSON([]byte(`{}`)); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("nil receiver: %v", err)
	}

	// Event type parameters that do not form a declaration.
	var odd *abxbus.Event[Order, int] // Order declares Returns[string]
	if err := json.Unmarshal([]byte(`{"event_type":"Order"}`), &odd); !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "Returns[int]") {
		t.Fatalf("mismatched type parameters: %v", err)
	}
}

// String is the `Type#abcd` label; LogValue is a short slog group without the payload.
func TestEventStringAndLogValue(t *testing.T) {
	b, e := completedOrder(t, "secret-order")
	id := e.ID().String()
	label := "Order#" + id[len(id)-4:]
	if got := fmt.Sprint(e); got != label {
		t.Fatalf("fmt.Sprint(typed event) = %q; want %q", got, label)
	}
	if got := fmt.Sprintf("%v|%s", e.Base(), e); got != label+"|"+label {
		t.Fatalf("fmt of base and typed = %q", got)
	}
	var none *abxbus.Event[Order, string]
	if got := fmt.Sprint(none); got != "<nil>" {
		t.Fatalf("fmt.Sprint(nil typed event) = %q", got)
	}

	// A child emitted from a handler has a parent id.
	var child *abxbus.BaseEvent
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Parent) (string, error) {
		c, err := abxbus.EmitChildOf(ctx, Shipment{OrderID: "child"})
		child = c.Base()
		return "", err
	}))
	parent := must[*abxbus.Event[Parent, string]](t)(abxbus.Emit(tctx(t), b, Parent{Name: "p"}))
	if err := parent.Now(tctx(t)); err != nil {
		t.Fatal(err)
	}
	idle(t, b)

	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	results := e.EventResults()
	logger.Info("done", "event", e, "child", child, "result", results[0], "nil_event", none)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	wantEvent := map[string]any{"type": "Order", "id": id, "status": "completed", "bus": b.Label()}
	if !reflect.DeepEqual(rec["event"], wantEvent) {
		t.Fatalf("logged event = %v; want %v (line %s)", rec["event"], wantEvent, buf.Bytes())
	}
	wantChild := map[string]any{"type": "Shipment", "id": child.ID().String(), "status": "completed",
		"parent_id": parent.ID().String(), "bus": b.Label()}
	if !reflect.DeepEqual(rec["child"], wantChild) {
		t.Fatalf("logged child = %v; want %v", rec["child"], wantChild)
	}
	wantResult := map[string]any{"handler": results[0].HandlerName(), "id": results[0].ID().String(), "status": "completed",
		"event": label, "bus": b.Label()}
	if !reflect.DeepEqual(rec["result"], wantResult) {
		t.Fatalf("logged result = %v; want %v", rec["result"], wantResult)
	}
	if rec["nil_event"] != "<nil>" || strings.Contains(buf.String(), "secret-order") {
		t.Fatalf("nil event logged as %v, or the payload leaked: %s", rec["nil_event"], buf.Bytes())
	}

	// An unemitted event has no bus; a failed result logs its error.
	buf.Reset()
	fresh := abxbus.NewEvent(Order{OrderID: "x"})
	must[*abxbus.Handler](t)(b.OnType("Side", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return nil, errors.New("side failed")
	}))
	side := must[*abxbus.Event[Side, string]](t)(abxbus.Emit(tctx(t), b, Side{Tag: "t"}))
	if err := side.Now(tctx(t)); err != nil {
		t.Fatal(err)
	}
	logger.Info("x", "fresh", fresh, "failed", side.EventResults()[0])
	rec = nil
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if got := rec["fresh"].(map[string]any); got["status"] != "pending" || got["bus"] != nil || got["parent_id"] != nil {
		t.Fatalf("logged fresh event = %v", got)
	}
	if got := rec["failed"].(map[string]any); got["status"] != "error" || got["error"] != "side failed" {
		t.Fatalf("logged failed result = %v", got)
	}
}

// The typed decoder (json.Unmarshal into *Event[P, R]) never panics and agrees with the registry's: an
// input one accepts the other accepts, with the same re-encoding, and what it accepts re-encodes to
// bytes it decodes again to the same event (issue 12 item 3).
func FuzzTypedEventUnmarshalJSON(f *testing.F) {
	f.Add([]byte(`{"order_id":"o1","qty":2,"event_id":"0192b3c4-d5e6-7f00-8a00-000000000001","event_created_at":"2026-12-02T06:41:22.218906293Z","event_type":"Order","event_status":"completed","event_results":{}}`))
	f.Add([]byte(`{"event_type":"Order","order_id":"x","qty":1}`))
	f.Add([]byte(`{"event_type":"Order","qty":"two"}`))
	f.Add([]byte(`{"event_type":"Other"}`))
	f.Add([]byte(`null`))
	reg := abxbus.NewRegistry()
	if err := abxbus.Register[Order](reg); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var typed *abxbus.Event[Order, string]
		err := json.Unmarshal(data, &typed)
		viaReg, regErr := reg.Decode(data)
		if err != nil || typed == nil {
			if d := bytes.TrimSpace(data); regErr == nil && viaReg.Type() == "Order" && len(d) > 0 && d[0] == '{' {
				t.Fatalf("Registry.Decode accepted what UnmarshalJSON refused (%v):\n%s", err, data)
			}
			return
		}
		out, err := json.Marshal(typed)
		if err != nil {
			return // an accepted value that cannot be re-encoded is reported, not a panic
		}
		if regErr != nil {
			t.Fatalf("UnmarshalJSON accepted what Registry.Decode refused (%v):\n%s", regErr, data)
		}
		if viaReg.Type() != "Order" {
			t.Fatalf("UnmarshalJSON accepted an event of type %q:\n%s", viaReg.Type(), data)
		}
		// Missing ids and timestamps are generated afresh by each decode: compare our own output, which
		// has them, through the registry.
		if e2, err := reg.Decode(out); err != nil {
			t.Fatalf("Registry.Decode refused UnmarshalJSON's output (%v):\n%s", err, out)
		} else if fromReg, err := e2.ToJSON(); err != nil || !bytes.Equal(fromReg, out) {
			t.Fatalf("Registry.Decode and UnmarshalJSON re-encode differently (%v):\n%s\n%s", err, fromReg, out)
		}
		var back *abxbus.Event[Order, string]
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("re-decode of our own output failed: %v\n%s", err, out)
		}
		if again, err := json.Marshal(back); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("unstable encoding:\n%s\n%s (%v)", out, again, err)
		}
	})
}
