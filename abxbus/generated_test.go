package abxbus_test

import (
	"bytes"
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
