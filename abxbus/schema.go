package abxbus

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaDialect is the $schema of every event_result_type this package writes (JSON Schema draft
// 2020-12, as the TypeScript package writes it).
const SchemaDialect = "https://json-schema.org/draft/2020-12/schema"

var schemaCache sync.Map // reflect.Type -> schemaEntry

type schemaEntry struct {
	schema json.RawMessage
	err    error
}

// ResultSchemaFor derives the event_result_type JSON Schema of Go type t: a description of the JSON that
// encoding/json writes for a value of t, in the shape the TypeScript package (zod 4 toJSONSchema) writes:
// "$schema" first, structs as objects with their JSON field names, a sorted "required" list of the fields
// without omitempty/omitzero and "additionalProperties": false (fields promoted through an embedded
// pointer are never required: a nil one drops them); maps as records ("propertyNames" plus
// "additionalProperties"; integer keys with a decimal "pattern"); slices and arrays as arrays ([]byte
// as a base64 string); integers as "integer" with the "minimum"/"maximum" of their size (int and uint
// as 64 bits), floats as "number"; time.Time as a date-time string; types implementing
// encoding.TextMarshaler as strings; interfaces without methods as {} (any value). What encoding/json
// may write as null (pointers, slices, maps, []byte) is "anyOf": [T, {"type": "null"}], the way the
// TypeScript package writes a nullable type, so json.Marshal of any value of t, the zero value
// included, matches the schema. A type that refers to itself is written once: the root as
// {"$ref": "#"}, others under "$defs".
//
// Types whose JSON form is not known from the type (channels, functions, complex numbers, interfaces
// with methods, json.Marshaler implementations) give an error naming the field. The result is cached
// per type; the abxbus-gen generator writes the same text for the same type. Safe for concurrent use.
func ResultSchemaFor(t reflect.Type) (json.RawMessage, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: ResultSchemaFor(nil)", ErrInvalidOption)
	}
	if v, ok := schemaCache.Load(t); ok {
		e := v.(schemaEntry)
		return e.schema, e.err
	}
	s, err := deriveSchema(t)
	if err != nil {
		err = fmt.Errorf("abxbus: result type %s has no JSON Schema: %w", t, err)
	}
	schemaCache.Store(t, schemaEntry{s, err})
	return s, err
}

// schema returns the typed event's event_result_type, or nil when its result type is Void or has no JSON
// Schema (see ResultSchemaFor): such events are written without one.
func (info *typeInfo) schema() (json.RawMessage, error) {
	if info.resultType == voidType {
		return nil, nil // a notification: no result type, as the TypeScript package writes it
	}
	s, err := ResultSchemaFor(info.resultType)
	if err != nil {
		return nil, nil
	}
	return s, nil
}

// ordered is a JSON object that keeps its keys in insertion order.
type ordered []orderedKV

type orderedKV struct {
	k string
	v any
}

func (o ordered) set(k string, v any) ordered { return append(o, orderedKV{k, v}) }

func (o ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(&b, e.k)
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

type schemaGen struct {
	root      reflect.Type
	pass2     bool
	recursive map[reflect.Type]bool
	defs      map[string]any
	defNames  map[reflect.Type]string
}

func deriveSchema(t reflect.Type) (json.RawMessage, error) {
	g := &schemaGen{root: t, recursive: map[reflect.Type]bool{}, defs: map[string]any{}, defNames: map[reflect.Type]string{}}
	// The first pass finds the named types that refer to themselves; the second writes them once.
	if _, err := g.schema(t, nil); err != nil {
		return nil, err
	}
	g.pass2 = true
	s, err := g.schema(t, nil)
	if err != nil {
		return nil, err
	}
	root, _ := s.(ordered)
	out := ordered{{"$schema", SchemaDialect}}
	out = append(out, root...)
	if len(g.defs) > 0 {
		keys := make([]string, 0, len(g.defs))
		for k := range g.defs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var defs ordered
		for _, k := range keys {
			defs = defs.set(k, g.defs[k])
		}
		out = out.set("$defs", defs)
	}
	return json.Marshal(out)
}

// defName is the $defs key of a recursive named type: its name without package paths, brackets of type
// arguments turned into underscores (Tree[int] -> Tree_int), made unique with a number.
func (g *schemaGen) defName(t reflect.Type) string {
	if n, ok := g.defNames[t]; ok {
		return n
	}
	name := stripPkgPaths(t.Name())
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

// stripPkgPaths turns "Tree[example.com/x.Node,int]" into "Tree[Node,int]".
func stripPkgPaths(s string) string {
	var out strings.Builder
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || strings.ContainsRune("[],* ", rune(s[i])) {
			tok := s[start:i]
			if j := strings.LastIndexByte(tok, '.'); j >= 0 {
				tok = tok[j+1:]
			}
			out.WriteString(tok)
			if i < len(s) {
				out.WriteByte(s[i])
			}
			start = i + 1
		}
	}
	return out.String()
}

var (
	timeType          = reflect.TypeFor[time.Time]()
	rawMessageType    = reflect.TypeFor[json.RawMessage]()
	numberType        = reflect.TypeFor[json.Number]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func implements(t, iface reflect.Type) bool {
	return t.Implements(iface) || reflect.PointerTo(t).Implements(iface)
}

func onStack(stack []reflect.Type, t reflect.Type) bool {
	for _, s := range stack {
		if s == t {
			return true
		}
	}
	return false
}

func (g *schemaGen) schema(t reflect.Type, stack []reflect.Type) (any, error) {
	named := t.Name() != "" && t.PkgPath() != ""
	if named {
		switch t {
		case timeType:
			return ordered{{"type", "string"}, {"format", "date-time"}}, nil
		case rawMessageType:
			return ordered{}, nil
		case numberType:
			return ordered{{"type", "number"}}, nil
		}
		if t.Kind() != reflect.Interface {
			if implements(t, jsonMarshalerType) {
				return nil, fmt.Errorf("%s implements json.Marshaler, so its JSON form is not known from its type", t)
			}
			if implements(t, textMarshalerType) {
				return ordered{{"type", "string"}}, nil
			}
		}
		if t.Kind() == reflect.Interface && t.NumMethod() > 0 {
			return nil, fmt.Errorf("%s is an interface type with methods, so it has no fixed JSON form", t)
		}
		if onStack(stack, t) {
			if !g.pass2 {
				g.recursive[t] = true
				return ordered{}, nil
			}
			if t == g.root {
				return ordered{{"$ref", "#"}}, nil
			}
			return ordered{{"$ref", "#/$defs/" + g.defName(t)}}, nil
		}
		if g.pass2 && g.recursive[t] && t != g.root {
			name := g.defName(t)
			if _, done := g.defs[name]; !done {
				g.defs[name] = ordered{} // placeholder against re-entry
				s, err := g.structural(t, append(stack, t))
				if err != nil {
					return nil, err
				}
				g.defs[name] = s
			}
			return ordered{{"$ref", "#/$defs/" + name}}, nil
		}
		stack = append(stack, t)
	}
	return g.structural(t, stack)
}

// structural is the schema of t's underlying form.
func (g *schemaGen) structural(t reflect.Type, stack []reflect.Type) (any, error) {
	switch t.Kind() {
	case reflect.Bool:
		return ordered{{"type", "boolean"}}, nil
	case reflect.String:
		return ordered{{"type", "string"}}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		lo, hi := integerRange(t.Kind())
		return ordered{{"type", "integer"}, {"minimum", json.Number(lo)}, {"maximum", json.Number(hi)}}, nil
	case reflect.Float32, reflect.Float64:
		return ordered{{"type", "number"}}, nil
	case reflect.Pointer:
		s, err := g.schema(t.Elem(), stack)
		if err != nil {
			return nil, err
		}
		return nullable(s), nil
	case reflect.Slice:
		// encoding/json writes a nil slice (and a nil []byte) as null.
		if isByteElem(t.Elem()) {
			return nullable(ordered{{"type", "string"}, {"contentEncoding", "base64"}}), nil
		}
		s, err := g.schema(t.Elem(), stack)
		if err != nil {
			return nil, err
		}
		return nullable(ordered{{"type", "array"}, {"items", s}}), nil
	case reflect.Array:
		s, err := g.schema(t.Elem(), stack)
		if err != nil {
			return nil, err
		}
		return ordered{{"type", "array"}, {"items", s}, {"minItems", t.Len()}, {"maxItems", t.Len()}}, nil
	case reflect.Map:
		// Keys as encoding/json reads and writes them: string kinds as they are, then TextMarshalers,
		// then integers in decimal (a sign is accepted for signed ones).
		k := t.Key()
		keys := ordered{{"type", "string"}}
		switch {
		case k.Kind() == reflect.String:
		case k.Name() != "" && implements(k, textMarshalerType):
		case k.Kind() >= reflect.Int && k.Kind() <= reflect.Int64:
			keys = keys.set("pattern", signedKeyPattern)
		case k.Kind() >= reflect.Uint && k.Kind() <= reflect.Uint64:
			keys = keys.set("pattern", unsignedKeyPattern)
		default:
			return nil, fmt.Errorf("map key type %s is not a string, an integer or an encoding.TextMarshaler", k)
		}
		s, err := g.schema(t.Elem(), stack)
		if err != nil {
			return nil, err
		}
		// encoding/json writes a nil map as null.
		return nullable(ordered{{"type", "object"}, {"propertyNames", keys}, {"additionalProperties", s}}), nil
	case reflect.Interface:
		if t.NumMethod() > 0 {
			return nil, fmt.Errorf("interface type %s has methods, so it has no fixed JSON form", t)
		}
		return ordered{}, nil
	case reflect.Struct:
		return g.structSchema(t, stack)
	}
	return nil, fmt.Errorf("%s has no JSON form", t)
}

// Patterns of the integer map keys encoding/json accepts (strconv.ParseInt / ParseUint in base 10).
const (
	signedKeyPattern   = "^[+-]?[0-9]+$"
	unsignedKeyPattern = "^[0-9]+$"
)

// integerRange is the range of an integer kind as JSON number text; int and uint are taken as 64 bits
// wide on every platform, so the schema text does not depend on where it was derived.
func integerRange(k reflect.Kind) (lo, hi string) {
	switch k {
	case reflect.Int8:
		return "-128", "127"
	case reflect.Int16:
		return "-32768", "32767"
	case reflect.Int32:
		return "-2147483648", "2147483647"
	case reflect.Int, reflect.Int64:
		return "-9223372036854775808", "9223372036854775807"
	case reflect.Uint8:
		return "0", "255"
	case reflect.Uint16:
		return "0", "65535"
	case reflect.Uint32:
		return "0", "4294967295"
	}
	return "0", "18446744073709551615"
}

// nullable is s or null, the schema of a value encoding/json may write as null (a nil pointer, slice
// or map); a schema that already admits null is returned as it is.
func nullable(s any) any {
	if o, ok := s.(ordered); ok && len(o) == 1 && o[0].k == "anyOf" {
		if alts, ok := o[0].v.([]any); ok && len(alts) == 2 {
			if n, ok := alts[1].(ordered); ok && len(n) == 1 && n[0].k == "type" && n[0].v == "null" {
				return s
			}
		}
	}
	return ordered{{"anyOf", []any{s, ordered{{"type", "null"}}}}}
}

// isByteElem mirrors encoding/json: []T is base64 when T's kind is uint8 and T has no marshaler.
func isByteElem(t reflect.Type) bool {
	if t.Kind() != reflect.Uint8 {
		return false
	}
	return t.Name() == "" || t.PkgPath() == "" || !implements(t, jsonMarshalerType) && !implements(t, textMarshalerType)
}

type schemaField struct {
	name     string
	typ      reflect.Type
	optional bool
	depth    int
	tagged   bool
}

// structSchema describes a struct as encoding/json writes it: exported fields by JSON name, embedded
// structs flattened (the shallowest field wins; a tie without a unique tagged field drops the name),
// `-` skipped, omitempty/omitzero fields not required.
func (g *schemaGen) structSchema(t reflect.Type, stack []reflect.Type) (any, error) {
	var fields []schemaField
	// viaPointer: the fields are promoted through an embedded pointer, which encoding/json skips (all
	// its fields absent) when it is nil, so none of them is required.
	var collect func(t reflect.Type, depth int, viaPointer bool)
	collect = func(t reflect.Type, depth int, viaPointer bool) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type
			if f.Anonymous {
				et := ft
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if !f.IsExported() && et.Kind() != reflect.Struct {
					continue
				}
				if et.Kind() == reflect.Struct && name == "" && (et.Name() == "" || !implements(et, jsonMarshalerType)) {
					collect(et, depth+1, viaPointer || ft.Kind() == reflect.Pointer)
					continue
				}
			} else if !f.IsExported() {
				continue
			}
			tagged := name != ""
			if name == "" {
				name = f.Name
			}
			optional := viaPointer
			for _, o := range strings.Split(opts, ",") {
				switch o {
				case "omitempty", "omitzero":
					optional = true
				case "string":
					switch ft.Kind() {
					case reflect.Bool, reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32,
						reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
						reflect.Float32, reflect.Float64:
						ft = reflect.TypeFor[string]()
					}
				}
			}
			fields = append(fields, schemaField{name: name, typ: ft, optional: optional, depth: depth, tagged: tagged})
		}
	}
	collect(t, 0, false)
	byName := map[string][]int{}
	var order []string
	for i, f := range fields {
		if _, seen := byName[f.name]; !seen {
			order = append(order, f.name)
		}
		byName[f.name] = append(byName[f.name], i)
	}
	keep := make([]bool, len(fields))
	for _, name := range order {
		idx := byName[name]
		best, ambiguous := -1, false
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
	props := ordered{}
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
	out := ordered{{"type", "object"}, {"properties", props}}
	if len(required) > 0 {
		out = out.set("required", required)
	}
	return out.set("additionalProperties", false), nil
}

// ---- validation ----

// Limits on an event_result_type schema before it is compiled. Schemas arrive from other processes and
// languages, so they are bounded: at most maxSchemaBytes of JSON text, nested at most maxSchemaDepth
// arrays/objects deep, with at most maxSchemaObjects JSON objects (the validator's compile time grows
// with the square of the number of subschemas: 2000 objects take about a tenth of a second). Nothing
// outside the schema text is ever read (see compileSchema), and the cost of each check is bounded
// (see schemaCost).
const (
	maxSchemaBytes   = 1 << 20
	maxSchemaDepth   = 256
	maxSchemaObjects = 2000
)

var (
	compiledSchemas sync.Map     // eventType + "\x00" + string(schema) -> compiledEntry
	compiledCount   atomic.Int64 // entries stored since the cache was last emptied
)

// maxCompiledSchemas bounds the compiled-schema cache: schemas arrive from the wire, and each distinct
// text would otherwise stay in memory for good. When it is full the cache is emptied.
const maxCompiledSchemas = 1024

type compiledEntry struct {
	s    *jsonschema.Schema
	cost *schemaCost
	err  error
}

// schemaLocation is the neutral base URL a schema is compiled at: it names the event type (or just
// "event_result_type"), never a file or a host, and shows in validation messages.
func schemaLocation(eventType string) string {
	if eventType == "" {
		return "abxbus:///event_result_type"
	}
	return "abxbus:///event_result_type/" + url.PathEscape(eventType)
}

// schemaSubject names the schema in error messages.
func schemaSubject(eventType string) string {
	if eventType == "" {
		return "event_result_type"
	}
	return fmt.Sprintf("event_result_type of event %q", eventType)
}

// refusingLoader is the compiler's only loader: a schema may refer only to itself ("#", "#/$defs/...",
// an "$id" or anchor declared in the same document) and to the JSON Schema meta-schemas the validator
// carries built in. Any other reference (file://, http://, a relative path) fails here without touching
// the file system or the network.
type refusingLoader struct{}

func (refusingLoader) Load(u string) (any, error) {
	return nil, errors.New("only references within the schema itself are followed")
}

// jsonShape reports the deepest nesting of arrays and objects in the JSON text b and the number of
// objects in it (strings skipped).
func jsonShape(b []byte) (maxDepth, objects int) {
	depth, max, inStr, esc := 0, 0, false, false
	for _, c := range b {
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			if c == '{' {
				objects++
			}
			depth++
			if depth > max {
				max = depth
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return max, objects
}

// compileSchema compiles an event_result_type for eventType ("" when not known), cached by both.
// It never reads a file or the network, and refuses schemas over the size and depth limits.
func compileSchema(eventType string, schema json.RawMessage) (compiledEntry, error) {
	key := eventType + "\x00" + string(schema)
	if v, ok := compiledSchemas.Load(key); ok {
		e := v.(compiledEntry)
		return e, e.err
	}
	var e compiledEntry
	e.s, e.err = compileSchemaUncached(eventType, schema)
	if e.err != nil {
		e.err = fmt.Errorf("%w: %v", ErrInvalidOption, e.err)
	} else {
		e.cost = newSchemaCost(e.s)
	}
	if compiledCount.Add(1) > maxCompiledSchemas {
		compiledSchemas.Clear()
		compiledCount.Store(1)
	}
	v, _ := compiledSchemas.LoadOrStore(key, e)
	e = v.(compiledEntry)
	return e, e.err
}

func compileSchemaUncached(eventType string, schema json.RawMessage) (*jsonschema.Schema, error) {
	subject := schemaSubject(eventType)
	if len(schema) > maxSchemaBytes {
		return nil, fmt.Errorf("%s is %d bytes of JSON, over the limit of %d", subject, len(schema), maxSchemaBytes)
	}
	d, objects := jsonShape(schema)
	if d > maxSchemaDepth {
		return nil, fmt.Errorf("%s nests %d levels deep, over the limit of %d", subject, d, maxSchemaDepth)
	}
	if objects > maxSchemaObjects {
		return nil, fmt.Errorf("%s has %d JSON objects, over the limit of %d", subject, objects, maxSchemaObjects)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("%s is not JSON: %v", subject, err)
	}
	loc := schemaLocation(eventType)
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refusingLoader{})
	if err := c.AddResource(loc, doc); err != nil {
		return nil, fmt.Errorf("%s is not a usable JSON Schema: %v", subject, err)
	}
	s, err := c.Compile(loc)
	if err != nil {
		var le *jsonschema.LoadURLError
		if errors.As(err, &le) {
			return nil, fmt.Errorf("%s refers to %s, outside the schema: only references within the schema itself are followed (\"#\", \"#/$defs/...\", or an \"$id\" declared in the same document)",
				subject, describeRef(doc, loc, le.URL))
		}
		return nil, fmt.Errorf("%s is not a usable JSON Schema: %v", subject, err)
	}
	return s, nil
}

// describeRef names the reference that resolved to the refused URL target: the "$ref" (or "$schema",
// "$dynamicRef", "$recursiveRef") text as written when one is found, with what it resolved to.
func describeRef(doc any, loc, target string) string {
	base, _ := url.Parse(loc)
	var found string
	var walk func(v any)
	walk = func(v any) {
		if found != "" {
			return
		}
		switch v := v.(type) {
		case map[string]any:
			for _, k := range []string{"$ref", "$dynamicRef", "$recursiveRef", "$schema"} {
				r, ok := v[k].(string)
				if !ok {
					continue
				}
				u, err := url.Parse(r)
				if err != nil {
					continue
				}
				res := base.ResolveReference(u)
				res.Fragment = ""
				if r == target || res.String() == target || strings.TrimSuffix(r, "#") == target {
					found = fmt.Sprintf("%s %q", k, r)
					return
				}
			}
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	if found == "" {
		return fmt.Sprintf("%q", target)
	}
	if strings.Contains(found, fmt.Sprintf("%q", target)) {
		return found
	}
	return fmt.Sprintf("%s (%s)", found, target)
}

// ValidateResult checks value (a Go value, encoded to JSON first, or raw JSON as json.RawMessage)
// against an event_result_type JSON Schema, with a maintained validator
// (github.com/santhosh-tekuri/jsonschema/v6, draft 2020-12 by default). A mismatch, or a value that does
// not encode, is an *EventHandlerResultSchemaError naming the problem; a schema that does not compile is
// an error wrapping ErrInvalidOption.
//
// The schema is treated as untrusted input: it may refer only to itself ("#", "#/$defs/...", or an "$id"
// or anchor declared in the same document) and to the standard JSON Schema meta-schemas; a reference to
// anything else (a file, a URL, a relative path) is an error naming the reference, and nothing outside
// the schema text is ever read. Schemas over 1 MiB of JSON, nested more than 256 arrays/objects deep or
// with more than 2000 JSON objects are refused, and so is a check that could take more than about a
// million subschema evaluations (a schema that applies the same subschema several times over at each
// level of a nested value): such refusals wrap ErrInvalidOption and name the limit. Compiled schemas
// are cached by their text. Safe for concurrent use.
func ValidateResult(schema json.RawMessage, value any) error {
	return validateResult("", "", schema, value)
}

// validateResult is ValidateResult for the event_result_type of eventType and the value returned by
// the handler who ("Bus#ab12.name#cd34(Type#ef56)"; "" for none), which error messages name.
func validateResult(eventType, who string, schema json.RawMessage, value any) error {
	c, err := compileSchema(eventType, schema)
	if err != nil {
		return err
	}
	subject := "result"
	if who != "" {
		subject = "handler " + who + " returned a value that"
	}
	raw, ok := value.(json.RawMessage)
	if !ok {
		if raw, err = json.Marshal(value); err != nil {
			return &EventHandlerResultSchemaError{Message: fmt.Sprintf("%s does not encode to JSON (%T): %v", subject, value, err)}
		}
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return &EventHandlerResultSchemaError{Message: fmt.Sprintf("%s is not JSON: %v", subject, err)}
	}
	if err := c.cost.checkCost(schemaSubject(eventType), inst); err != nil {
		return err
	}
	if err := c.s.Validate(inst); err != nil {
		if who != "" {
			subject = "handler " + who + " returned " + previewJSON(raw) + ", which"
		} else {
			subject = "result " + previewJSON(raw)
		}
		return &EventHandlerResultSchemaError{Message: fmt.Sprintf("%s does not match %s: %s", subject, schemaSubject(eventType), validationMessage(err, schemaLocation(eventType)))}
	}
	return nil
}

// previewJSON is raw for a message, cut after 60 bytes.
func previewJSON(raw []byte) string {
	if len(raw) <= 60 {
		return string(raw)
	}
	return string(raw[:60]) + "..."
}

// maxReportedProblems bounds the validator's tree of reasons a message shows: a value can fail a
// schema in exponentially many ways, and the full tree can be megabytes of text.
const maxReportedProblems = 32

// validationMessage says what in the value was wrong: the validator's reasons ("at '/id': got string,
// want integer"), one a line joined with "; ", keeping the first maxReportedProblems entries of its tree
// and saying how many were left out. The location the schema was compiled under (loc, an internal name)
// is left out: the reasons name places in the value, and "#/$defs/..." places in the schema.
func validationMessage(err error, loc string) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	return tidyValidation(validationTree(ve), loc)
}

// tidyValidation drops the validator's first line ("jsonschema validation failed with '<loc>#'"), which
// names no problem, and the internal location from references, and puts the reasons on one line.
func tidyValidation(text, loc string) string {
	lines := strings.Split(text, "\n")
	if len(lines) > 1 && strings.HasPrefix(lines[0], "jsonschema validation failed") {
		lines = lines[1:]
	}
	for i, l := range lines {
		l = strings.TrimSpace(l)
		l = strings.TrimPrefix(l, "- ")
		l = strings.ReplaceAll(l, loc, "")
		if rest, ok := strings.CutPrefix(l, "at '': "); ok {
			l = "at the top level: " + rest
		}
		lines[i] = l
	}
	return strings.Join(lines, "; ")
}

// validationTree is the validator's text for ve, pruned to maxReportedProblems reasons.
func validationTree(ve *jsonschema.ValidationError) string {
	var count func(e *jsonschema.ValidationError) int
	count = func(e *jsonschema.ValidationError) int {
		n := 1
		for _, c := range e.Causes {
			n += count(c)
		}
		return n
	}
	total := count(ve)
	if total <= maxReportedProblems {
		return ve.Error()
	}
	budget := maxReportedProblems
	var prune func(e *jsonschema.ValidationError) *jsonschema.ValidationError
	prune = func(e *jsonschema.ValidationError) *jsonschema.ValidationError {
		c := *e
		c.Causes = nil
		for _, x := range e.Causes {
			if budget <= 0 {
				break
			}
			budget--
			c.Causes = append(c.Causes, prune(x))
		}
		return &c
	}
	return fmt.Sprintf("%s\n(%d more reasons left out)", prune(ve).Error(), total-1-maxReportedProblems+budget)
}
