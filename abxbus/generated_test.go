package abxbus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/typedbus/abxbus-go/abxbus"
)

type genReceipt struct {
	ID   string    `json:"id"`
	At   time.Time `json:"at"`
	Tags []string  `json:"tags,omitempty"`
	Note *string   `json:"note"`
}

// TestDecodeResult covers the decode-and-validate helper of generated code (F218, F222): valid JSON,
// JSON null, and every way a value can fail (schema mismatch, unknown key, missing key, not JSON, a
// value the schema accepts but R does not), plus a schema that does not compile.
func TestDecodeResult(t *testing.T) {
	schema := string(must[[]byte](t)(abxbus.ResultSchemaFor(reflect.TypeFor[genReceipt]())))
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	r, err := abxbus.DecodeResult[genReceipt](schema, []byte(`{"id":"r1","at":"2026-01-02T03:04:05Z","note":null}`))
	if err != nil || r.ID != "r1" || !r.At.Equal(at) || r.Note != nil {
		t.Fatalf("valid: %+v, %v", r, err)
	}
	if r, err := abxbus.DecodeResult[genReceipt](schema, []byte(" null\n")); err != nil || r.ID != "" {
		t.Fatalf("null: %+v, %v", r, err)
	}
	for _, bad := range []string{
		`{"id":1,"at":"2026-01-02T03:04:05Z","note":null}`,         // wrong type
		`{"id":"r","at":"2026-01-02T03:04:05Z","note":null,"x":1}`, // additionalProperties: false
		`{"id":"r","note":null}`,                                   // required key missing
		`["r"]`,                                                    // not an object
		`{"id":"r",`,                                               // not JSON
		`{"id":"r","at":"yesterday","note":null}`,                  // schema-valid string, not a time.Time
		`{"id":"r","at":"2026-01-02T03:04:05Z","note":null,"tags":[1]}`,     // wrong item type
		`{"id":"r","at":"2026-01-02T03:04:05Z","note":null} {"id":"again"}`, // trailing data
	} {
		_, err := abxbus.DecodeResult[genReceipt](schema, []byte(bad))
		var se *abxbus.EventHandlerResultSchemaError
		if !errors.As(err, &se) || !errors.Is(err, abxbus.ErrResultSchema) {
			t.Errorf("%s: error %v (%T), want *EventHandlerResultSchemaError", bad, err, err)
		}
	}
	if _, err := abxbus.DecodeResult[int](`{"type":`, []byte(`1`)); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Errorf("broken schema: %v, want ErrInvalidOption", err)
	}
}

func ExampleDecodeResult() {
	schema := `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","items":{"type":"integer"}}`
	v, err := abxbus.DecodeResult[[]int](schema, []byte(`[1,2,3]`))
	fmt.Println(v, err)
	_, err = abxbus.DecodeResult[[]int](schema, []byte(`[1,"two"]`))
	fmt.Println(errors.Is(err, abxbus.ErrResultSchema))
	// Output:
	// [1 2 3] <nil>
	// true
}

// FuzzDecodeResult: any input gives a typed value or an *EventHandlerResultSchemaError, never a panic;
// a value it accepts encodes back to JSON that the schema accepts too.
func FuzzDecodeResult(f *testing.F) {
	for _, seed := range []string{
		`{"id":"r1","at":"2026-01-02T03:04:05Z","note":null}`, `null`, `{"id":1}`, `[`, ``, `"x"`,
		`{"id":"r","at":"2026-01-02T03:04:05.123456789Z","note":"n","tags":["a","b"]}`, `{"id":"r","at":"x","note":null}`,
	} {
		f.Add([]byte(seed))
	}
	schema, err := abxbus.ResultSchemaFor(reflect.TypeFor[genReceipt]())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := abxbus.DecodeResult[genReceipt](string(schema), data)
		if err != nil {
			var se *abxbus.EventHandlerResultSchemaError
			if !errors.As(err, &se) {
				t.Fatalf("%q: error %v (%T), want *EventHandlerResultSchemaError", data, err, err)
			}
			return
		}
		if r.ID == "" && r.At.IsZero() {
			return // JSON null
		}
		if err := abxbus.ValidateResult(schema, r); err != nil {
			t.Fatalf("%q decoded to %+v, which does not validate: %v", data, r, err)
		}
		// issue 11 item 3: what is written is valid UTF-8 JSON and stable under decode/encode
		out, err := json.Marshal(r)
		if err != nil || !utf8.Valid(out) || !json.Valid(out) {
			t.Fatalf("%+v encodes to %q (%v)", r, out, err)
		}
		back, err := abxbus.DecodeResult[genReceipt](string(schema), out)
		if err != nil {
			t.Fatalf("our own encoding %s does not decode: %v", out, err)
		}
		if again, err := json.Marshal(back); err != nil || !bytes.Equal(again, out) {
			t.Fatalf("unstable encoding:\n%s\n%s (%v)", out, again, err)
		}
	})
}

type genOrder struct {
	abxbus.Returns[genReceipt]
	Item string `json:"item"`
}

type genOther struct {
	abxbus.Returns[string]
}

// TestGeneratedEvent drives the runtime side of generated helpers (issue 12 item 9): it must behave
// like the typed functions for the same P and R, and the zero value and misuse give errors, not panics.
func TestGeneratedEvent(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "GenBus", nil)
	g := abxbus.Generated[genOrder, genReceipt]()

	if _, err := g.On(b, (func(context.Context, genOrder) (genReceipt, error))(nil), func(context.Context, any) (any, error) { return nil, nil }, nil); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("nil fn: %v", err)
	}
	fn := func(_ context.Context, p genOrder) (genReceipt, error) { return genReceipt{ID: "r-" + p.Item}, nil }
	if _, err := g.On(b, fn, func(ctx context.Context, p any) (any, error) { return fn(ctx, p.(genOrder)) }, nil); err != nil {
		t.Fatal(err)
	}
	// An untyped handler's JSON-shaped answer is converted to R, as the typed Call does.
	if _, err := b.OnType("genOrder", func(context.Context, *abxbus.BaseEvent) (any, error) {
		return map[string]any{"id": "untyped", "at": "2026-01-02T03:04:05Z", "note": nil}, nil
	}); err != nil {
		t.Fatal(err)
	}
	v, err := g.Call(ctx, b, genOrder{Item: "a"})
	if r, ok := v.(genReceipt); err != nil || !ok || r.ID != "r-a" {
		t.Fatalf("Call: %#v, %v", v, err)
	}
	typed, err := abxbus.Call(ctx, b, genOrder{Item: "a"})
	if err != nil || typed.ID != v.(genReceipt).ID {
		t.Fatalf("typed Call: %+v, %v", typed, err)
	}
	e, err := g.Await(ctx, b, genOrder{Item: "b"})
	if err != nil || e.Status() != abxbus.EventCompleted {
		t.Fatalf("Await: %v, %v", e, err)
	}
	results := must[[]genReceipt](t)((*abxbus.Event[genOrder, genReceipt])(e).Results(ctx))
	if len(results) != 2 || results[0].ID != "r-b" || results[1].ID != "untyped" {
		t.Fatalf("results: %+v", results)
	}

	// A payload of another type is refused, with the event returned and the error recorded.
	e, err = g.Emit(ctx, b, genOther{})
	if !errors.Is(err, abxbus.ErrInvalidOption) || e == nil || !errors.Is(e.Wait(ctx), abxbus.ErrInvalidOption) {
		t.Fatalf("wrong payload: %v, %v", e, err)
	}
	if _, err := g.EmitWith(ctx, b, genOrder{}, &abxbus.EventOptions{HandlerConcurrency: "sideways"}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("EmitWith invalid option: %v", err)
	}
	if _, err := g.EmitChild(ctx, genOrder{}); !errors.Is(err, abxbus.ErrNotInHandler) {
		t.Fatalf("EmitChild outside a handler: %v", err)
	}
	if v, err := g.DecodeResult(`{"type":"object"}`, []byte(`{"id":"d"}`)); err != nil || v.(genReceipt).ID != "d" {
		t.Fatalf("DecodeResult: %#v, %v", v, err)
	}
	reg := abxbus.NewRegistry()
	if err := g.Register(reg); err != nil || fmt.Sprint(reg.Types()) != "[genOrder]" {
		t.Fatalf("Register: %v %v", reg.Types(), err)
	}
	if err := g.Register(nil); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("Register(nil): %v", err)
	}

	var zero abxbus.GeneratedEvent
	if _, err := zero.Emit(ctx, b, genOrder{}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("zero Emit: %v", err)
	}
	if _, err := zero.Call(ctx, b, genOrder{}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("zero Call: %v", err)
	}
	if _, err := zero.On(b, fn, func(context.Context, any) (any, error) { return nil, nil }, nil); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("zero On: %v", err)
	}
	if err := zero.Register(reg); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("zero Register: %v", err)
	}
	if _, err := zero.DecodeResult(`{}`, []byte(`1`)); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("zero DecodeResult: %v", err)
	}
	idle(t, b)
}
