package abxbus_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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
// same shape (roundtrip_events.json), for every flavour Go can express. A Go slice or map may be nil,
// which encoding/json writes as null, so its shape is TS's `.nullable()` of the same schema (issue 11
// item 6): anyOf [T, {"type": "null"}], the way zod writes it.
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
	const dialect = `{"$schema":"https://json-schema.org/draft/2020-12/schema",`
	nullableRoot := func(s string) string {
		body, ok := strings.CutPrefix(s, dialect)
		if !ok {
			t.Fatalf("no $schema first: %s", s)
		}
		return dialect + `"anyOf":[{` + body + `,{"type":"null"}]}`
	}
	nullableProps := func(s string, props ...string) string {
		for _, p := range props {
			start := strings.Index(s, `"`+p+`":{`)
			if start < 0 {
				t.Fatalf("no property %s in %s", p, s)
			}
			v := start + len(p) + 3
			depth, end := 0, v
			for i := v; i < len(s); i++ {
				if s[i] == '{' {
					depth++
				} else if s[i] == '}' {
					if depth--; depth == 0 {
						end = i + 1
						break
					}
				}
			}
			s = s[:v] + `{"anyOf":[` + s[v:end] + `,{"type":"null"}]}` + s[end:]
		}
		return s
	}
	want := map[string]string{}
	for name, s := range ts {
		want[name] = string(s)
	}
	for _, name := range []string{"TsPy_ArrayResultEvent", "TsPy_RecordResultEvent", "TsPy_ObjectCtorResultEvent", "TsPy_ArrayCtorResultEvent"} {
		want[name] = nullableRoot(want[name])
	}
	want["TsPy_RecordResultEvent"] = nullableProps(want["TsPy_RecordResultEvent"], "additionalProperties")
	want["TsPy_ScreenshotResultEvent"] = nullableProps(want["TsPy_ScreenshotResultEvent"], "tags", "confidence_scores", "metadata", "regions")
	for name, typ := range goTypes {
		got, err := abxbus.ResultSchemaFor(typ)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(got) != want[name] {
			t.Errorf("%s (%s):\n got %s\nwant %s", name, typ, got, want[name])
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

type schemaText struct{ _ string }

func (schemaText) MarshalText() ([]byte, error) { return nil, nil }

type schemaCustom struct{}

func (schemaCustom) MarshalJSON() ([]byte, error) { return []byte("1"), nil }

type schemaEmbedded struct {
	wireRegion
	Extra string `json:"extra,omitempty"`
	Skip  string `json:"-"`
	Num   int    `json:"num,string"`
}

type schemaBase struct {
	ID string `json:"id"`
	At string `json:"at"`
	*schemaDeeper
}

type schemaDeeper struct {
	Deep bool `json:"deep"`
}

type schemaInvoice struct {
	*schemaBase
	Number string `json:"number"`
}

// Every supported result shape, and clear errors for the ones without a fixed JSON form.
func TestResultSchemaShapes(t *testing.T) {
	cases := []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[int64](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807}`},
		{reflect.TypeFor[*string](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","anyOf":[{"type":"string"},{"type":"null"}]}`},
		{reflect.TypeFor[[]byte](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","anyOf":[{"type":"string","contentEncoding":"base64"},{"type":"null"}]}`},
		{reflect.TypeFor[time.Time](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"string","format":"date-time"}`},
		{reflect.TypeFor[[2]int](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"array","items":{"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807},"minItems":2,"maxItems":2}`},
		{reflect.TypeFor[map[int]bool](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","anyOf":[{"type":"object","propertyNames":{"type":"string","pattern":"^[+-]?[0-9]+$"},"additionalProperties":{"type":"boolean"}},{"type":"null"}]}`},
		{reflect.TypeFor[schemaText](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"string"}`},
		{reflect.TypeFor[json.RawMessage](), `{"$schema":"https://json-schema.org/draft/2020-12/schema"}`},
		{reflect.TypeFor[struct{}](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{},"additionalProperties":false}`},
		{reflect.TypeFor[schemaEmbedded](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"id":{"type":"string"},"label":{"type":"string"},"score":{"type":"number"},"visible":{"type":"boolean"},"extra":{"type":"string"},"num":{"type":"string"}},"required":["id","label","num","score","visible"],"additionalProperties":false}`},
		{reflect.TypeFor[schemaTree](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"value":{"type":"integer","minimum":-9223372036854775808,"maximum":9223372036854775807},"children":{"anyOf":[{"type":"array","items":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},{"type":"null"}]},"parent":{"anyOf":[{"type":"object","properties":{"to":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},"required":["to"],"additionalProperties":false},{"type":"null"}]}},"required":["parent","value"],"additionalProperties":false}`},
		{reflect.TypeFor[schemaHolder](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"node":{"$ref":"#/$defs/wireNode"}},"required":["node"],"additionalProperties":false,"$defs":{"wireNode":{"type":"object","properties":{"name":{"type":"string"},"child":{"anyOf":[{"$ref":"#/$defs/wireNode"},{"type":"null"}]}},"required":["child","name"],"additionalProperties":false}}}`},
		// Issue 11 item 6: ranges of sized integers, integer map keys, a pointer to a nil-able value (one
		// null), fields promoted through an embedded pointer (absent when it is nil, so not required).
		{reflect.TypeFor[int8](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"integer","minimum":-128,"maximum":127}`},
		{reflect.TypeFor[uint16](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"integer","minimum":0,"maximum":65535}`},
		{reflect.TypeFor[int32](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"integer","minimum":-2147483648,"maximum":2147483647}`},
		{reflect.TypeFor[uint](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"integer","minimum":0,"maximum":18446744073709551615}`},
		{reflect.TypeFor[map[uint8]string](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","anyOf":[{"type":"object","propertyNames":{"type":"string","pattern":"^[0-9]+$"},"additionalProperties":{"type":"string"}},{"type":"null"}]}`},
		{reflect.TypeFor[map[schemaText]int8](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","anyOf":[{"type":"object","propertyNames":{"type":"string"},"additionalProperties":{"type":"integer","minimum":-128,"maximum":127}},{"type":"null"}]}`},
		{reflect.TypeFor[*[]string](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","anyOf":[{"type":"array","items":{"type":"string"}},{"type":"null"}]}`},
		{reflect.TypeFor[schemaInvoice](), `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"id":{"type":"string"},"at":{"type":"string"},"deep":{"type":"boolean"},"number":{"type":"string"}},"required":["number"],"additionalProperties":false}`},
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

type schemaLine struct {
	SKU string `json:"sku"`
	Qty uint8  `json:"qty"`
}

type schemaBill struct {
	*schemaBase
	Lines  []schemaLine       `json:"lines"`
	Totals map[string]float64 `json:"totals"`
	PDF    []byte             `json:"pdf"`
	ByQty  map[int16][]string `json:"by_qty"`
	Nested [][]int            `json:"nested"`
}

// Issue 11 item 6 (F218, F220): what encoding/json writes for a value is valid under the value's own
// schema: nil slices, maps and []byte are written null, a nil embedded pointer drops its promoted
// fields; sized integers and integer map keys are bounded the way Go reads them back.
func TestResultSchemaAcceptsWhatEncodingJSONWritesIssue11Item6(t *testing.T) {
	typ := reflect.TypeFor[schemaBill]()
	schema := must[json.RawMessage](t)(abxbus.ResultSchemaFor(typ))
	good := []any{
		schemaBill{},
		schemaBill{schemaBase: &schemaBase{ID: "b", schemaDeeper: &schemaDeeper{Deep: true}}, Lines: []schemaLine{{"s", 255}},
			Totals: map[string]float64{"x": 1}, PDF: []byte{1, 2}, ByQty: map[int16][]string{-32768: nil, 7: {"a"}}, Nested: [][]int{nil, {1}}},
		[]schemaBill(nil),
	}
	for _, v := range good {
		data := must[[]byte](t)(json.Marshal(v))
		s := schema
		if _, isSlice := v.([]schemaBill); isSlice {
			s = must[json.RawMessage](t)(abxbus.ResultSchemaFor(reflect.TypeFor[[]schemaBill]()))
		}
		if err := abxbus.ValidateResult(s, json.RawMessage(data)); err != nil {
			t.Errorf("%s rejected by its own schema: %v", data, err)
		}
	}
	// What Go would not read back is rejected.
	for _, bad := range []string{
		`{"lines":[{"sku":"s","qty":256}],"totals":null,"pdf":null,"by_qty":null,"nested":null}`,
		`{"lines":[{"sku":"s","qty":-1}],"totals":null,"pdf":null,"by_qty":null,"nested":null}`,
		`{"lines":null,"totals":null,"pdf":null,"by_qty":{"x":[]},"nested":null}`,
		`{"lines":null,"totals":null,"pdf":null,"by_qty":{"1.5":[]},"nested":null}`,
	} {
		var into schemaBill
		if json.Unmarshal([]byte(bad), &into) == nil {
			t.Fatalf("%s: Go reads it, so it is not a bad value", bad)
		}
		err := abxbus.ValidateResult(schema, json.RawMessage(bad))
		var se *abxbus.EventHandlerResultSchemaError
		if !errors.As(err, &se) {
			t.Errorf("%s accepted (%v)", bad, err)
		}
	}
}
