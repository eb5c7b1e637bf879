package abxbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/typedbus/abxbus-go/abxbus"
)

type viewQuote struct {
	abxbus.Returns[viewPrice]
	Sku string `json:"sku"`
}

type viewPrice struct {
	Cents int `json:"cents"`
}

type viewAny struct {
	abxbus.Returns[any]
	N int `json:"n"`
}

// The typed view of an untyped event (F218, F221 context: values that reach the typed accessors as
// JSON-shaped data): Payload decodes the map into P, Result and Results convert each value to R through
// JSON, and a value that does not fit R is an EventHandlerResultSchemaError with the values converted
// before it.
func TestTypedViewOfUntypedEventConverts(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "View", nil)
	results := []any{map[string]any{"cents": 150}, map[string]any{"cents": 275}}
	for _, v := range results {
		must[*abxbus.Handler](t)(bus.OnType("viewQuote", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			return v, nil
		}))
	}
	b := must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("viewQuote", map[string]any{"sku": "A-1"}))
	must[*abxbus.BaseEvent](t)(bus.Emit(ctx, b))
	e, ok := abxbus.As[viewQuote](b)
	if !ok {
		t.Fatal("As: the map payload should decode into viewQuote")
	}
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := e.Payload()
	if err != nil || p.Sku != "A-1" {
		t.Fatalf("Payload = %+v, %v", p, err)
	}
	first, err := e.Result(ctx)
	if err != nil || first != (viewPrice{Cents: 150}) {
		t.Fatalf("Result = %+v, %v", first, err)
	}
	all, err := e.Results(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]viewPrice{{150}, {275}}, all); diff != "" {
		t.Fatalf("Results (-want +got):\n%s", diff)
	}

	// A value that does not fit: the error, with the values before it.
	bad := newBus(t, "ViewBad", nil)
	for _, v := range []any{map[string]any{"cents": 1}, "not a price"} {
		must[*abxbus.Handler](t)(bad.OnType("viewQuote", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			return v, nil
		}))
	}
	b2 := must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("viewQuote", map[string]any{"sku": "B"}))
	must[*abxbus.BaseEvent](t)(bad.Emit(ctx, b2))
	e2, _ := abxbus.As[viewQuote](b2)
	got, err := e2.Results(ctx)
	if !errors.Is(err, abxbus.ErrResultSchema) || !cmp.Equal([]viewPrice{{1}}, got) {
		t.Fatalf("Results = %v, %v; want [{1}] and a result schema error", got, err)
	}
	if r, err := e2.Result(ctx, abxbus.ResultOptions{Include: func(r *abxbus.EventResult) bool {
		v, _ := r.Value()
		_, isString := v.(string)
		return isString
	}}); !errors.Is(err, abxbus.ErrResultSchema) || r != (viewPrice{}) {
		t.Fatalf("Result of a value that does not fit = %+v, %v; want the zero value and a result schema error", r, err)
	}

	// A payload that does not decode: the error and the zero P.
	b3 := must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("viewQuote", map[string]any{"sku": 7}))
	if p, err := (*abxbus.Event[viewQuote, viewPrice])(b3).Payload(); err == nil || p != (viewQuote{}) {
		t.Fatalf("Payload of a payload that does not fit = %+v, %v", p, err)
	}
}

// For an interface result type the typed accessors keep the handlers' values as they are (no JSON
// round trip that would turn an int into a float64), as the type assertion to R does.
func TestTypedViewInterfaceResultKeepsValues(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "ViewAny", nil)
	for _, v := range []any{7, "seven"} {
		must[*abxbus.Handler](t)(bus.OnType("viewAny", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			return v, nil
		}))
	}
	b := must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("viewAny", map[string]any{"n": 1}))
	must[*abxbus.BaseEvent](t)(bus.Emit(ctx, b))
	e, ok := abxbus.As[viewAny](b)
	if !ok {
		t.Fatal("As failed")
	}
	all, err := e.Results(ctx)
	if err != nil || !cmp.Equal([]any{7, "seven"}, all) {
		t.Fatalf("Results = %#v, %v", all, err)
	}
	first, err := e.Result(ctx)
	if err != nil || first != 7 {
		t.Fatalf("Result = %#v, %v", first, err)
	}
}

// json.Unmarshal into a typed event of a payload type that does not declare its result type: an error
// naming both Go types, and the event unchanged.
func TestTypedUnmarshalUndeclared(t *testing.T) {
	type plain struct {
		N int `json:"n"`
	}
	var e abxbus.Event[plain, int]
	err := json.Unmarshal([]byte(`{"event_type":"plain","n":1}`), &e)
	if !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("err = %v, want ErrInvalidOption", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "plain") || !strings.Contains(msg, "Returns[int]") {
		t.Fatalf("err %q does not name the types", msg)
	}
}
