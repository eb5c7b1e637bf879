package abxbus_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

type wireRegion struct {
	ID      string  `json:"id"`
	Label   string  `json:"label"`
	Score   float64 `json:"score"`
	Visible bool    `json:"visible"`
}

type wireScreenshot struct {
	ImageURL         string             `json:"image_url"`
	Width            float64            `json:"width"`
	Height           float64            `json:"height"`
	Tags             []string           `json:"tags"`
	IsAnimated       bool               `json:"is_animated"`
	ConfidenceScores []float64          `json:"confidence_scores"`
	Metadata         map[string]float64 `json:"metadata"`
	Regions          []wireRegion       `json:"regions"`
}

type wireNode struct {
	Name  string    `json:"name"`
	Child *wireNode `json:"child"`
}

// F217: the schema derived from a Go type equals, byte for byte, the one the TS package writes for the
// same shape (roundtrip_events.json), for every flavour Go can express.
func TestResultSchemaMatchesTypeScriptF217(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(wireFixtures, "roundtrip_events.json"))
	if err != nil {
		t.Fatal(err)
	}
	var evs []struct {
		Type   string          `json:"event_type"`
		Schema json.RawMessage `json:"event_result_type"`
	}
	if err := json.Unmarshal(data, &evs); err != nil {
		t.Fatal(err)
	}
	ts := map[string]json.RawMessage{}
	for _, e := range evs {
		var c bytes.Buffer
		if err := json.Compact(&c, e.Schema); err != nil {
			t.Fatal(err)
		}
		ts[e.Type] = c.Bytes()
	}
	goTypes := map[string]reflect.Type{
		"TsPy_NumberResultEvent":     reflect.TypeFor[float64](),
		"TsPy_StringResultEvent":     reflect.TypeFor[string](),
		"TsPy_BooleanResultEvent":    reflect.TypeFor[bool](),
		"TsPy_ArrayResultEvent":      reflect.TypeFor[[]string](),
		"TsPy_RecordResultEvent":     reflect.TypeFor[map[string][]float64](),
		"TsPy_ObjectCtorResultEvent": reflect.TypeFor[map[string]any](),
		"TsPy_ArrayCtorResultEvent":  reflect.TypeFor[[]any](),
		"TsPy_ScreenshotResultEvent": reflect.TypeFor[wireScreenshot](),
		"TsPy_RecursiveNodeEvent":    reflect.TypeFor[wireNode](),
	}
	for name, typ := range goTypes {
		got, err := abxbus.ResultSchemaFor(typ)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(got) != string(ts[name]) {
			t.Errorf("%s (%s):\n got %s\nwant %s", name, typ, got, ts[name])
		}
	}
}

type schemaTree struct {
	Value    int           `json:"value"`
	Children []*schemaTree `json:"children,omitempty"`
	Parent   *schemaLink   `json:"parent"`
}

type schemaLink struct {
	To *schemaTree `json:"to"`
}

type schemaHolder struct {
	Node wireNode `json:"node"`
}

type schemaText struct{ s string }

func (schemaText) MarshalText() ([]byte, error) { return nil, nil }

type schemaCustom struct{}

func (schemaCustom) MarshalJSON() ([]byte, error) { return []byte("1"), nil }

type schemaEmbedded struct {
	wireRegion
	Extra string `json:"extra,omitempty"`
	Skip  string `json:"-"`
	Num   int    `json:"num,string"`
}

// Every supported result shape, and clear errors for the ones without a fixed JSON form.
func TestResultSchemaShapes(t *testing.T) {
	cases := []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[int64](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"integer"}`},
		{reflect.TypeFor[*string](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","anyOf":[{"type":"string"},{"type":"null"}]}`},
		{reflect.TypeFor[[]byte](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"string","contentEncoding":"base64"}`},
		{reflect.TypeFor[time.Time](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"string","format":"date-time"}`},
		{reflect.TypeFor[[2]int](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","items":{"type":"integer"},"minItems":2,"maxItems":2}`},
		{reflect.TypeFor[map[int]bool](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","propertyNames":{"type":"string"},"additionalProperties":{"type":"boolean"}}`},
		{reflect.TypeFor[schemaText](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"string"}`},
		{reflect.TypeFor[json.RawMessage](), `{"$schema":"https://json-schema.org/draft/2020-12/schema"}`},
		{reflect.TypeFor[struct{}](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{},"additionalProperties":false}`},
		{reflect.TypeFor[schemaEmbedded](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"id":{"type":"string"},"label":{"type":"string"},"score":{"type":"number"},"visible":{"type":"boolean"},"extra":{"type":"string"},"num":{"type":"string"}},"required":["id","label","num","score","visible"],"additionalProperties":false}`},
		{reflect.TypeFor[schemaTree](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},"parent":{"anyOf":[{"type":"object","properties":{"to":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},"required":["to"],"additionalProperties":false},{"type":"null"}]}},"required":["parent","value"],"additionalProperties":false}`},
		{reflect.TypeFor[schemaHolder](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"node":{"$ref":"#/$defs/wireNode"}},"required":["node"],"additionalProperties":false,"$defs":{"wireNode":{"type":"object","properties":{"name":{"type":"string"},"child":{"anyOf":[{"$ref":"#/$defs/wireNode"},{"type":"null"}]}},"required":["child","name"],"additionalProperties":false}}}`},
	}
	for _, c := range cases {
		got, err := abxbus.ResultSchemaFor(c.typ)
		if err != nil || string(got) != c.want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", c.typ, got, err, c.want)
		}
	}
	for _, bad := range []reflect.Type{reflect.TypeFor[chan int](), reflect.TypeFor[func()](), reflect.TypeFor[complex128](),
		reflect.TypeFor[schemaCustom](), reflect.TypeFor[error](), reflect.TypeFor[map[[2]int]int]()} {
		if _, err := abxbus.ResultSchemaFor(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// F218-F223: the TS schemas accept and reject exactly the values the TS package does
// (roundtrip_cases.json), through the maintained validator.
func TestValidateResultTypeScriptCasesF222(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(wireFixtures, "roundtrip_cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]struct {
		Valid   []json.RawMessage `json:"valid_results"`
		Invalid []json.RawMessage `json:"invalid_results"`
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	evData, _ := os.ReadFile(filepath.Join(wireFixtures, "roundtrip_events.json"))
	var evs []struct {
		Type   string          `json:"event_type"`
		Schema json.RawMessage `json:"event_result_type"`
	}
	json.Unmarshal(evData, &evs)
	if len(evs) != len(cases) {
		t.Fatalf("%d events, %d cases", len(evs), len(cases))
	}
	for _, e := range evs {
		c := cases[e.Type]
		for _, v := range c.Valid {
			if err := abxbus.ValidateResult(e.Schema, v); err != nil {
				t.Errorf("%s: %s rejected: %v", e.Type, v, err)
			}
		}
		for _, v := range c.Invalid {
			err := abxbus.ValidateResult(e.Schema, v)
			var se *abxbus.EventHandlerResultSchemaError
			if !errorsAs(err, &se) {
				t.Errorf("%s: %s accepted (%v)", e.Type, v, err)
			}
		}
	}
	if err := abxbus.ValidateResult(json.RawMessage(`{"type": 12}`), 1); err == nil {
		t.Error("a broken schema compiled")
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
