package abxbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

type FixtureStringResultEvent struct {
	abxbus.Returns[string]
	X int `json:"x"`
}

type OtherStringEvent struct {
	abxbus.Returns[string]
}

func (OtherStringEvent) EventSpec() abxbus.EventSpec {
	return abxbus.EventSpec{Type: "FixtureStringResultEvent"}
}

// A registry decodes known types into their Go payload; unknown payload keys survive re-encoding; a
// payload that does not fit names the field; a name clash between Go types is refused.
func TestRegistryDecode(t *testing.T) {
	ctx := tctx(t)
	reg := abxbus.NewRegistry()
	if err := abxbus.Register[FixtureStringResultEvent](reg); err != nil {
		t.Fatal(err)
	}
	if err := abxbus.Register[FixtureStringResultEvent](reg); err != nil {
		t.Fatalf("registering the same type twice: %v", err)
	}
	if err := abxbus.Register[OtherStringEvent](reg); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("type name clash: %v", err)
	}
	if got := reg.Types(); len(got) != 1 || got[0] != "FixtureStringResultEvent" {
		t.Fatalf("Types() = %v", got)
	}
	in := `{"x":7,"future_unrecognized_field":{"a":[1]},"event_id":"01a20279-ee41-7239-bcbc-520d4d29ab9b","event_type":"FixtureStringResultEvent","event_created_at":"2026-11-22T08:57:55.009315247Z","event_result_type":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"string"}}`
	e, err := reg.Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	typed, ok := abxbus.As[FixtureStringResultEvent](e)
	if !ok {
		t.Fatal("not typed")
	}
	if p, _ := typed.Payload(); p.X != 7 {
		t.Fatalf("payload %+v", p)
	}
	out, err := e.ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	json.Unmarshal(out, &m)
	if string(m["future_unrecognized_field"]) != `{"a":[1]}` || string(m["x"]) != "7" {
		t.Fatalf("payload keys lost: %s", out)
	}
	// The decoded event is processed like any typed event.
	bus := newBus(t, "RegBus", nil)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p FixtureStringResultEvent) (string, error) {
		return strings.Repeat("x", p.X), nil
	}))
	fresh, err := typed.Reset()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Emit(ctx, fresh.Base()); err != nil {
		t.Fatal(err)
	}
	if v, err := fresh.Result(ctx); err != nil || v != "xxxxxxx" {
		t.Fatalf("Result = %q, %v", v, err)
	}
	if fresh.ID() == typed.ID() || fresh.Base().CreatedAt() != typed.Base().CreatedAt() {
		t.Fatal("Reset must give a new id and keep event_created_at (F162)")
	}
	_, err = reg.Decode([]byte(`{"x":"seven","event_type":"FixtureStringResultEvent"}`))
	if err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Fatalf("misfit payload: %v", err)
	}
}

// A foreign event_result_type is enforced on untyped handlers' results (F218): a mismatch records an
// EventHandlerResultSchemaError.
func TestForeignSchemaEnforcedF218(t *testing.T) {
	ctx := tctx(t)
	e, err := abxbus.FromJSON([]byte(`{"event_type":"Remote","event_result_type":{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"number"}}`))
	if err != nil {
		t.Fatal(err)
	}
	bus := newBus(t, "Foreign", nil)
	must[*abxbus.Handler](t)(bus.OnType("Remote", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return "not a number", nil }, abxbus.WithName("bad")))
	must[*abxbus.Handler](t)(bus.OnType("Remote", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return 2.5, nil }, abxbus.WithName("good")))
	if _, err := bus.Emit(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	rs := resultsByHandler(e)
	var se *abxbus.EventHandlerResultSchemaError
	if err := rs["bad"].Err(); !errors.As(err, &se) {
		t.Fatalf("bad result: %v", err)
	}
	if v, _ := rs["good"].Value(); v != 2.5 {
		t.Fatalf("good result: %v", v)
	}
}
