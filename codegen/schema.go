package codegen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/types"
	"reflect"
	"sort"
	"strings"
)

// schemaDialect is the $schema of every event_result_type (draft 2020-12, as the TypeScript package
// writes it).
const schemaDialect = "https://json-schema.org/draft/2020-12/schema"

// obj is a JSON object that keeps its keys in insertion order, so the schema text is deterministic and
// laid out the way the TypeScript package lays it out.
type obj []kv

type kv struct {
	k string
	v any
}

func (o obj) set(k string, v any) obj { return append(o, kv{k, v}) }

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(e.k)
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// resultSchema derives the event_result_type JSON Schema of Go type t: the JSON that encoding/json
// writes for a value of t, described in draft 2020-12.
func resultSchema(t types.Type, qual types.Qualifier) ([]byte, error) {
	g := &schemaGen{root: t, defs: map[string]any{}, recursive: map[types.Type]bool{}, qual: qual}
	// First pass finds the named types that refer to themselves; the second writes them once, under
	// $defs (or as "#" for the root).
	if _, err := g.schema(t, nil); err != nil {
		return nil, err
	}
	g.pass2 = true
	s, err := g.schema(t, nil)
	if err != nil {
		return nil, err
	}
	root, ok := s.(obj)
	if !ok {
		root = obj{}
	}
	out := obj{{"$schema", schemaDialect}}
	out = append(out, root...)
	if len(g.defs) > 0 {
		keys := make([]string, 0, len(g.defs))
		for k := range g.defs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var defs obj
		for _, k := range keys {
			defs = defs.set(k, g.defs[k])
		}
		out = out.set("$defs", defs)
	}
	return json.Marshal(out)
}

type schemaGen struct {
	root      types.Type
	pass2     bool
	recursive map[types.Type]bool
	defs      map[string]any
	defNames  map[types.Type]string
	qual      types.Qualifier // for type names in error messages
}

func (g *schemaGen) str(t types.Type) string { return types.TypeString(t, g.qual) }

func (g *schemaGen) defName(t types.Type) string {
	if g.defNames == nil {
		g.defNames = map[types.Type]string{}
	}
	for k, v := range g.defNames {
		if types.Identical(k, t) {
			return v
		}
	}
	name := types.TypeString(t, func(*types.Package) string { return "" })
	name = strings.NewReplacer("[", "_", "]", "", ",", "_", " ", "", "*", "").Replace(name)
	base, n := name, 2
	for used := true; used; {
		used = false
		for _, v := range g.defNames {
			if v == name {
				used = true
				name = fmt.Sprintf("%s%d", base, n)
				n++
				break
			}
		}
	}
	g.defNames[t] = name
	return name
}

func onStack(stack []types.Type, t types.Type) bool {
	for _, s := range stack {
		if types.Identical(s, t) {
			return true
		}
	}
	return false
}

func (g *schemaGen) isRecursive(t types.Type) bool {
	for k := range g.recursive {
		if types.Identical(k, t) {
			return true
		}
	}
	return false
}

func (g *schemaGen) schema(t types.Type, stack []types.Type) (any, error) {
	if named, ok := t.(*types.Named); ok {
		if special, ok, err := g.namedSchema(named); ok || err != nil {
			return special, err
		}
		if it, ok := named.Underlying().(*types.Interface); ok && it.NumMethods() > 0 {
			return nil, fmt.Errorf("%s is an interface type with methods, so it has no fixed JSON form", g.str(t))
		}
		if onStack(stack, t) {
			if !g.pass2 {
				g.recursive[t] = true
				return obj{}, nil
			}
			if types.Identical(t, g.root) {
				return obj{{"$ref", "#"}}, nil
			}
			return obj{{"$ref", "#/$defs/" + g.defName(t)}}, nil
		}
		if g.pass2 && g.isRecursive(t) && !types.Identical(t, g.root) {
			name := g.defName(t)
			if _, done := g.defs[name]; !done {
				g.defs[name] = obj{} // placeholder against re-entry
				s, err := g.schema(t.Underlying(), append(stack, t))
				if err != nil {
					return nil, err
				}
				g.defs[name] = s
			}
			return obj{{"$ref", "#/$defs/" + name}}, nil
		}
		stack = append(stack, t)
		return g.schema(t.Underlying(), stack)
	}
	if a, ok := t.(*types.Alias); ok {
		return g.schema(types.Unalias(a), stack)
	}
	switch u := t.(type) {
	case *types.Basic:
		switch {
		case u.Info()&types.IsBoolean != 0:
			return obj{{"type", "boolean"}}, nil
		case u.Info()&types.IsString != 0:
			return obj{{"type", "string"}}, nil
		case u.Info()&types.IsInteger != 0:
			if u.Kind() == types.Uintptr {
				return nil, fmt.Errorf("uintptr has no JSON form")
			}
			lo, hi := integerRange(u.Kind())
			return obj{{"type", "integer"}, {"minimum", json.Number(lo)}, {"maximum", json.Number(hi)}}, nil
		case u.Info()&types.IsFloat != 0:
			return obj{{"type", "number"}}, nil
		case u.Info()&types.IsComplex != 0:
			return nil, fmt.Errorf("%s has no JSON form", u)
		}
		return nil, fmt.Errorf("%s has no JSON form", u)
	case *types.Pointer:
		s, err := g.schema(u.Elem(), stack)
		if err != nil {
			return nil, err
		}
		return nullable(s), nil
	case *types.Slice:
		// encoding/json writes a nil slice (and a nil []byte) as null.
		if isByte(u.Elem()) {
			return nullable(obj{{"type", "string"}, {"contentEncoding", "base64"}}), nil
		}
		s, err := g.schema(u.Elem(), stack)
		if err != nil {
			return nil, err
		}
		return nullable(obj{{"type", "array"}, {"items", s}}), nil
	case *types.Array:
		s, err := g.schema(u.Elem(), stack)
		if err != nil {
			return nil, err
		}
		return obj{{"type", "array"}, {"items", s}, {"minItems", u.Len()}, {"maxItems", u.Len()}}, nil
	case *types.Map:
		keys, ok := mapKeySchema(u.Key())
		if !ok {
			return nil, fmt.Errorf("map key type %s is not a string, an integer or an encoding.TextMarshaler", g.str(u.Key()))
		}
		s, err := g.schema(u.Elem(), stack)
		if err != nil {
			return nil, err
		}
		// encoding/json writes a nil map as null.
		return nullable(obj{{"type", "object"}, {"propertyNames", keys}, {"additionalProperties", s}}), nil
	case *types.Interface:
		if u.NumMethods() > 0 {
			return nil, fmt.Errorf("interface type %s has methods, so it has no fixed JSON form", g.str(t))
		}
		return obj{}, nil
	case *types.Struct:
		return g.structSchema(u, stack)
	case *types.Chan, *types.Signature:
		return nil, fmt.Errorf("%s has no JSON form", g.str(t))
	case *types.TypeParam:
		return nil, fmt.Errorf("type parameter %s has no fixed JSON form", g.str(t))
	}
	return nil, fmt.Errorf("%s has no JSON form", g.str(t))
}

// namedSchema handles named types whose JSON form is not their structure.
func (g *schemaGen) namedSchema(t *types.Named) (any, bool, error) {
	o := t.Obj()
	if o.Pkg() != nil {
		switch o.Pkg().Path() + "." + o.Name() {
		case "time.Time":
			return obj{{"type", "string"}, {"format", "date-time"}}, true, nil
		case "encoding/json.RawMessage":
			return obj{}, true, nil
		case "encoding/json.Number":
			return obj{{"type", "number"}}, true, nil
		}
	}
	if hasMethod(t, "MarshalJSON") {
		return nil, false, fmt.Errorf("%s implements json.Marshaler, so its JSON form is not known from its type", g.str(t))
	}
	if hasMethod(t, "MarshalText") {
		return obj{{"type", "string"}}, true, nil
	}
	return nil, false, nil
}

func hasMethod(t types.Type, name string) bool {
	ms := types.NewMethodSet(types.NewPointer(t))
	for i := 0; i < ms.Len(); i++ {
		if ms.At(i).Obj().Name() == name {
			return true
		}
	}
	return false
}

func isByte(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	if !ok || b.Kind() != types.Uint8 {
		return false
	}
	// encoding/json writes []T as base64 when T's kind is uint8 and *T does not implement a marshaler.
	if n, ok := t.(*types.Named); ok && (hasMethod(n, "MarshalJSON") || hasMethod(n, "MarshalText")) {
		return false
	}
	return true
}

// mapKeySchema is the propertyNames schema of a map key type as encoding/json reads and writes keys:
// string kinds as they are, then text marshalers, then integers in decimal (a sign is accepted for
// signed ones). ok is false for a key type encoding/json cannot use.
func mapKeySchema(k types.Type) (obj, bool) {
	keys := obj{{"type", "string"}}
	b, basic := k.Underlying().(*types.Basic)
	if basic && b.Info()&types.IsString != 0 {
		return keys, true
	}
	if n, ok := k.(*types.Named); ok && hasMethod(n, "MarshalText") {
		return keys, true
	}
	if basic && b.Info()&types.IsInteger != 0 && b.Kind() != types.Uintptr {
		if b.Info()&types.IsUnsigned != 0 {
			return keys.set("pattern", unsignedKeyPattern), true
		}
		return keys.set("pattern", signedKeyPattern), true
	}
	return nil, false
}

// Patterns of the integer map keys encoding/json accepts (strconv.ParseInt / ParseUint in base 10).
const (
	signedKeyPattern   = "^[+-]?[0-9]+$"
	unsignedKeyPattern = "^[0-9]+$"
)

// integerRange is the range of an integer kind as JSON number text; int and uint are taken as 64 bits
// wide, as the runtime does, so the schema text does not depend on the target platform.
func integerRange(k types.BasicKind) (lo, hi string) {
	switch k {
	case types.Int8:
		return "-128", "127"
	case types.Int16:
		return "-32768", "32767"
	case types.Int32:
		return "-2147483648", "2147483647"
	case types.Int, types.Int64:
		return "-9223372036854775808", "9223372036854775807"
	case types.Uint8:
		return "0", "255"
	case types.Uint16:
		return "0", "65535"
	case types.Uint32:
		return "0", "4294967295"
	}
	return "0", "18446744073709551615"
}

// nullable is s or null, the schema of a value encoding/json may write as null (a nil pointer, slice
// or map); a schema that already admits null is returned as it is.
func nullable(s any) any {
	if o, ok := s.(obj); ok && len(o) == 1 && o[0].k == "anyOf" {
		if alts, ok := o[0].v.([]any); ok && len(alts) == 2 {
			if n, ok := alts[1].(obj); ok && len(n) == 1 && n[0].k == "type" && n[0].v == "null" {
				return s
			}
		}
	}
	return obj{{"anyOf", []any{s, obj{{"type", "null"}}}}}
}

type structField struct {
	name     string
	typ      types.Type
	optional bool
	depth    int
	tagged   bool
}

// structSchema writes the object schema of a struct as encoding/json sees it: exported fields, json
// tag names, embedded structs flattened (the shallowest field wins; a tie without a unique tagged
// field drops the name), `-` skipped, omitempty/omitzero fields not required.
func (g *schemaGen) structSchema(s *types.Struct, stack []types.Type) (any, error) {
	var fields []structField
	// viaPointer: the fields are promoted through an embedded pointer, which encoding/json skips (all
	// its fields absent) when it is nil, so none of them is required.
	var collect func(s *types.Struct, depth int, viaPointer bool)
	collect = func(s *types.Struct, depth int, viaPointer bool) {
		for i := 0; i < s.NumFields(); i++ {
			f := s.Field(i)
			tag := reflect.StructTag(s.Tag(i)).Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type()
			if f.Embedded() {
				et := ft
				if p, ok := et.(*types.Pointer); ok {
					et = p.Elem()
				}
				if !f.Exported() {
					if _, isStruct := et.Underlying().(*types.Struct); !isStruct {
						continue
					}
				}
				if es, ok := et.Underlying().(*types.Struct); ok && name == "" {
					if n, ok := et.(*types.Named); !ok || !hasMethod(n, "MarshalJSON") {
						_, isPtr := ft.(*types.Pointer)
						collect(es, depth+1, viaPointer || isPtr)
						continue
					}
				}
			} else if !f.Exported() {
				continue
			}
			tagged := name != ""
			if name == "" {
				name = f.Name()
			}
			optional := viaPointer
			for _, o := range strings.Split(opts, ",") {
				if o == "omitempty" || o == "omitzero" {
					optional = true
				}
				if o == "string" {
					if b, ok := ft.Underlying().(*types.Basic); ok && b.Info()&(types.IsBoolean|types.IsNumeric|types.IsString) != 0 {
						ft = types.Typ[types.String]
					}
				}
			}
			fields = append(fields, structField{name: name, typ: ft, optional: optional, depth: depth, tagged: tagged})
		}
	}
	collect(s, 0, false)
	// Resolve duplicate names the way encoding/json does.
	byName := map[string][]int{}
	for i, f := range fields {
		byName[f.name] = append(byName[f.name], i)
	}
	keep := make([]bool, len(fields))
	for _, idx := range byName {
		best := -1
		ambiguous := false
		for _, i := range idx {
			switch {
			case best < 0 || fields[i].depth < fields[best].depth:
				best, ambiguous = i, false
			case fields[i].depth == fields[best].depth:
				if fields[i].tagged && !fields[best].tagged {
					best, ambiguous = i, false
				} else if fields[i].tagged == fields[best].tagged {
					ambiguous = true
				}
			}
		}
		if !ambiguous {
			keep[best] = true
		}
	}
	props := obj{}
	var required []string
	for i, f := range fields {
		if !keep[i] {
			continue
		}
		fs, err := g.schema(f.typ, stack)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.name, err)
		}
		props = props.set(f.name, fs)
		if !f.optional {
			required = append(required, f.name)
		}
	}
	sort.Strings(required)
	out := obj{{"type", "object"}, {"properties", props}}
	if len(required) > 0 {
		out = out.set("required", required)
	}
	return out.set("additionalProperties", false), nil
}
