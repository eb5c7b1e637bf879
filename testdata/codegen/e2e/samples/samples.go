// Package samples makes JSON values of a Go type for the end-to-end check (issue 11 item 6): the zero
// value and a populated one (every exported field, element and key set, integers at the edge of their
// range, pointers and embedded pointers non-nil), as encoding/json writes them. Each package's E2ECheck
// validates them against its generated schema constant and records them; the test then has the
// TypeScript peer validate the same values against the same schemas.
package samples

import (
	"encoding"
	"encoding/json"
	"math"
	"os"
	"reflect"
	"sync"
	"time"
)

// Sample is one value of an event's result type and the schema it must satisfy.
type Sample struct {
	Event  string          `json:"event"`
	Kind   string          `json:"kind"` // "zero" or "populated"
	Schema json.RawMessage `json:"schema"`
	Value  json.RawMessage `json:"value"`
}

var (
	mu  sync.Mutex
	all []Sample
)

// Values returns the JSON of the zero and of a populated value of t.
func Values(t reflect.Type) (zero, populated []byte, err error) {
	if zero, err = json.Marshal(reflect.Zero(t).Interface()); err != nil {
		return nil, nil, err
	}
	v := reflect.New(t).Elem()
	fill(v, 0)
	populated, err = json.Marshal(v.Interface())
	return zero, populated, err
}

// Record keeps a sample for Write.
func Record(s Sample) {
	mu.Lock()
	defer mu.Unlock()
	all = append(all, s)
}

// Write writes every recorded sample to path as a JSON array (nothing when path is empty).
func Write(path string) error {
	if path == "" {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	data, err := json.Marshal(all)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	rawType           = reflect.TypeFor[json.RawMessage]()
	numberType        = reflect.TypeFor[json.Number]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// Integers at the edge of their range; the 64-bit kinds stay within JavaScript's safe integers, as
// zod's integer check requires.
const safe = 1<<53 - 1

func fill(v reflect.Value, depth int) {
	t := v.Type()
	switch t {
	case timeType:
		v.Set(reflect.ValueOf(time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)))
		return
	case rawType:
		v.Set(reflect.ValueOf(json.RawMessage(`{"raw":[1,"x",null]}`)))
		return
	case numberType:
		v.SetString("12.5")
		return
	}
	if t.Name() != "" && (t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)) {
		return // its zero value marshals to a valid string
	}
	switch t.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.String:
		v.SetString("s")
	case reflect.Int8:
		v.SetInt(math.MinInt8)
	case reflect.Int16:
		v.SetInt(math.MaxInt16)
	case reflect.Int32:
		v.SetInt(math.MinInt32)
	case reflect.Int, reflect.Int64:
		v.SetInt(-safe)
	case reflect.Uint8:
		v.SetUint(math.MaxUint8)
	case reflect.Uint16:
		v.SetUint(math.MaxUint16)
	case reflect.Uint32:
		v.SetUint(math.MaxUint32)
	case reflect.Uint, reflect.Uint64:
		v.SetUint(safe)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		if depth < 3 {
			p := reflect.New(t.Elem())
			fill(p.Elem(), depth+1)
			v.Set(p)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			v.Set(reflect.MakeSlice(t, 3, 3))
			for i := 0; i < 3; i++ {
				v.Index(i).SetUint(uint64(250 + i))
			}
			return
		}
		if depth < 3 {
			s := reflect.MakeSlice(t, 2, 2)
			for i := 0; i < 2; i++ {
				fill(s.Index(i), depth+1)
			}
			v.Set(s)
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fill(v.Index(i), depth+1)
		}
	case reflect.Map:
		m := reflect.MakeMap(t)
		if depth < 3 {
			k := reflect.New(t.Key()).Elem()
			fill(k, depth+1)
			e := reflect.New(t.Elem()).Elem()
			fill(e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Interface:
		if t.NumMethod() == 0 {
			v.Set(reflect.ValueOf(map[string]any{"any": []any{1.5, "x", nil}}))
		}
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	}
}
