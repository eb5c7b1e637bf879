package codegen

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// AbxbusPath is the import path of the runtime package the declarations and the generated code use.
const AbxbusPath = "github.com/typedbus/abxbus-go/abxbus"

// TagKey is the struct tag key, on the abxbus.Returns marker field, that holds an event's options.
const TagKey = "abxbus"

// Package is the model of one package's event declarations: what the renderer needs, nothing else.
type Package struct {
	Name   string   // package name
	Path   string   // import path
	Dir    string   // directory as given
	Unit   Unit     // which files declared the events: the package's, its test files or its external test package's
	Events []*Event // in file name order, then source order (a service's request events where it is declared)
	// Services are the interfaces marked //abxbus:service, in file name order, then source order.
	Services []*Service
	// BuildConstraint is the build constraint the declaring files share (their //go:build line and the
	// GOOS/GOARCH of their names, as one //go:build expression), "" when they are always built. The
	// generated file carries it, so it is compiled exactly when the declarations are.
	BuildConstraint string
	// Imports are the packages the result types refer to (besides abxbus), sorted by path.
	Imports []Import
}

// Import is one import of the generated file.
type Import struct {
	Name string // the name the generated code uses; differs from the package name when that clashes
	Path string
	// Alias reports whether Name has to be written in the import spec.
	Alias bool
}

// Event is one declared event type.
type Event struct {
	GoName     string         // the payload type's Go name
	Pos        token.Position // of the type name
	ResultExpr string         // the result type R as written from inside the package
	EventType  string         // event_type on the wire (the Go name unless the "type" option says otherwise)
	Version    string         // event_version ("" means the runtime default)
	Options    Options        // per-event defaults
	Schema     []byte         // event_result_type as compact JSON (draft 2020-12)
	Doc        string         // the declaration's doc comment, first sentence stripped of the type name
	// Method is the service method whose request event this is (the generator declares its payload
	// type), nil for an event declared as a struct type.
	Method *Method

	namePos token.Pos
}

// Options are the per-event defaults of an event declaration; the zero value of each field means
// unset. Timeouts use Go durations; Disabled is the explicit "no timeout".
type Options struct {
	Timeout            *Duration
	HandlerTimeout     *Duration
	SlowTimeout        *Duration
	HandlerSlowTimeout *Duration
	Concurrency        string // global-serial | bus-serial | parallel
	HandlerConcurrency string // serial | parallel
	Completion         string // all | first
}

// Duration is a declared timeout: 0 means disabled (abxbus.NoTimeout).
type Duration struct{ D time.Duration }

// option describes one key of the abxbus struct tag.
type option struct {
	doc   string
	parse func(o *Options, e *Event, v string) error
}

// optionKeys are the keys of the abxbus struct tag, in the order the documentation lists them.
var optionKeys = []string{"type", "version", "timeout", "handler_timeout", "slow_timeout",
	"handler_slow_timeout", "concurrency", "handler_concurrency", "completion"}

var options = map[string]option{
	"type": {"event_type on the wire (default: the Go type name)", func(o *Options, e *Event, v string) error {
		if err := checkEventType(v); err != nil {
			return err
		}
		e.EventType = v
		return nil
	}},
	"version": {"event_version (default 0.0.1)", func(o *Options, e *Event, v string) error {
		for _, c := range v {
			if c < 0x21 || c > 0x7e || c == '"' || c == '\\' || c == '`' {
				return fmt.Errorf("version %q must be printable ASCII without spaces or quotes", v)
			}
		}
		e.Version = v
		return nil
	}},
	"timeout":              {"event_timeout: Go duration or none", durationOpt("timeout", func(o *Options) **Duration { return &o.Timeout })},
	"handler_timeout":      {"event_handler_timeout: Go duration or none", durationOpt("handler_timeout", func(o *Options) **Duration { return &o.HandlerTimeout })},
	"slow_timeout":         {"event_slow_timeout: Go duration or none", durationOpt("slow_timeout", func(o *Options) **Duration { return &o.SlowTimeout })},
	"handler_slow_timeout": {"event_handler_slow_timeout: Go duration or none", durationOpt("handler_slow_timeout", func(o *Options) **Duration { return &o.HandlerSlowTimeout })},
	"concurrency": {"event_concurrency: global-serial, bus-serial or parallel", enumOpt("concurrency", []string{"global-serial", "bus-serial", "parallel"},
		func(o *Options) *string { return &o.Concurrency })},
	"handler_concurrency": {"event_handler_concurrency: serial or parallel", enumOpt("handler_concurrency", []string{"serial", "parallel"},
		func(o *Options) *string { return &o.HandlerConcurrency })},
	"completion": {"event_handler_completion: all or first", enumOpt("completion", []string{"all", "first"},
		func(o *Options) *string { return &o.Completion })},
}

func durationOpt(key string, field func(*Options) **Duration) func(*Options, *Event, string) error {
	return func(o *Options, e *Event, v string) error {
		if v == "none" || v == "0" {
			*field(o) = &Duration{}
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("%s %q is not a Go duration (like 30s or 1m30s) or none", key, v)
		}
		if d <= 0 {
			return fmt.Errorf("%s %q must be positive (use none to disable the timeout)", key, v)
		}
		*field(o) = &Duration{D: d}
		return nil
	}
}

func enumOpt(key string, allowed []string, field func(*Options) *string) func(*Options, *Event, string) error {
	return func(o *Options, e *Event, v string) error {
		for _, a := range allowed {
			if v == a {
				*field(o) = v
				return nil
			}
		}
		return fmt.Errorf("%s %q is not one of %s", key, v, strings.Join(allowed, ", "))
	}
}

// checkEventType applies the runtime's rules for event type names.
func checkEventType(t string) error {
	if t == "" || t == "*" {
		return fmt.Errorf("event type %q is not a valid event type name", t)
	}
	if len(t) > 64 {
		return fmt.Errorf("event type %q is longer than 64 characters", t)
	}
	if t[0] == '_' {
		return fmt.Errorf("event type %q must not start with '_'", t)
	}
	for i, c := range t {
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-') {
			continue
		}
		return fmt.Errorf("event type %q is not an identifier (bad character %q)", t, c)
	}
	return nil
}

// reservedPayloadNames are the JSON keys a payload may not use, besides the event_* and model_*
// prefixes (F32-F35; the runtime's checkPayloadType applies the same rules).
var reservedPayloadNames = map[string]bool{
	"bus": true, "emit": true, "now": true, "wait": true, "eventResult": true, "eventResultsList": true,
	"toString": true, "toJSON": true, "fromJSON": true,
}

// extract builds the model from a loaded unit, reading the declarations of its own files. prior are
// the events of the units extracted before (the package's, for its test files): their event types
// and generated names count as taken. Every problem becomes an *Error; any problem means no model. A
// unit without declarations gives a nil model and no error.
func extract(l *loaded, prior []*Event) (*Package, error) {
	p := &Package{Name: l.pkg.Name(), Path: l.pkg.Path(), Dir: l.dir, Unit: l.unit}
	var errs ErrorList
	fail := func(pos token.Pos, format string, args ...any) {
		errs = append(errs, &Error{Pos: l.position(pos), Reason: fmt.Sprintf(format, args...)})
	}
	seen := map[string]*Event{}
	for _, ev := range prior {
		seen[ev.EventType] = ev
	}
	qual := newQualifier(l.pkg)
	sx := newServiceExtractor(l, qual, fail)
	declaring := map[*ast.File]*Event{} // each declaring file and its first event
	var declOrder []*ast.File
	for _, f := range l.own {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				if dir, opts := directiveOf(specDoc(gd, ts), ServiceDirective); dir != nil {
					s := sx.service(gd, ts, dir, opts)
					if s == nil {
						continue
					}
					p.Services = append(p.Services, s)
					for _, m := range s.Methods {
						ev := m.Event
						if prev, dup := seen[ev.EventType]; dup {
							fail(ev.namePos, "service method %s.%s: duplicate event type %q (also the event type of %s at %s:%d:%d)", s.GoName, m.Name, ev.EventType, prev.what(), prev.Pos.Filename, prev.Pos.Line, prev.Pos.Column)
							continue
						}
						seen[ev.EventType] = ev
						p.Events = append(p.Events, ev)
						if declaring[f] == nil {
							declaring[f] = ev
							declOrder = append(declOrder, f)
						}
					}
					continue
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				markers, result := findMarkers(l, st)
				if len(markers) == 0 {
					checkStrayTags(st, fail)
					continue
				}
				marker := markers[0]
				if len(markers) > 1 {
					fail(markers[1].Type.Pos(), "event type %s: embeds abxbus.Returns more than once (one result type per event)", ts.Name.Name)
					continue
				}
				if ts.TypeParams != nil {
					fail(ts.Name.Pos(), "event type %s: generic payload types are not supported (declare one type per event)", ts.Name.Name)
					continue
				}
				if ts.Assign.IsValid() {
					fail(ts.Name.Pos(), "event type %s: declare a defined type, not an alias", ts.Name.Name)
					continue
				}
				ev := &Event{GoName: ts.Name.Name, Pos: l.position(ts.Name.Pos()), EventType: ts.Name.Name, namePos: ts.Name.Pos()}
				ev.Doc = docOf(gd, ts)
				n := len(errs)
				parseTag(marker, ev, fail)
				checkStrayTags(st, fail, marker)
				checkPayload(l, ts, st, fail)
				resultPos := marker.Type.(*ast.IndexExpr).Index.Pos()
				if result == nil || !validType(result) {
					reason := "does not type-check"
					if te := l.firstTypeError(marker.Type.Pos(), marker.Type.End()); te != nil {
						reason += ": " + te.Msg
					}
					fail(resultPos, "event type %s: result type %s", ev.GoName, reason)
				} else {
					ev.ResultExpr = types.TypeString(result, qual.name)
					schema, err := resultSchema(result, types.RelativeTo(l.pkg))
					if err != nil {
						fail(resultPos, "event type %s: unsupported result type %s: %v", ev.GoName, types.TypeString(result, types.RelativeTo(l.pkg)), err)
					} else {
						ev.Schema = schema
					}
				}
				if obj := l.pkg.Scope().Lookup(ev.GoName); obj != nil {
					if named, ok := obj.Type().(*types.Named); ok {
						for i := 0; i < named.NumMethods(); i++ {
							if m := named.Method(i); m.Name() == "EventSpec" {
								fail(m.Pos(), "event type %s: has a hand-written EventSpec method; declare its options in the %s struct tag of the abxbus.Returns field instead", ev.GoName, TagKey)
							}
						}
					}
				}
				if prev, dup := seen[ev.EventType]; dup && len(errs) == n {
					fail(ts.Name.Pos(), "event type %s: duplicate event type %q (also declared by %s at %s:%d:%d)", ev.GoName, ev.EventType, prev.GoName, prev.Pos.Filename, prev.Pos.Line, prev.Pos.Column)
				}
				if len(errs) == n {
					seen[ev.EventType] = ev
					p.Events = append(p.Events, ev)
					if declaring[f] == nil {
						declaring[f] = ev
						declOrder = append(declOrder, f)
					}
				}
			}
		}
	}
	sx.checkStrayDirectives()
	for _, s := range p.Services {
		sx.clientParamNames(s)
	}
	if len(errs) == 0 && len(p.Events) == 0 {
		return nil, nil
	}
	if len(errs) == 0 {
		p.BuildConstraint = sharedConstraint(l, declOrder, declaring, fail)
	}
	if len(errs) == 0 {
		checkNameClashes(l, p, prior, fail)
	}
	p.Imports = qual.imports()
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	return p, nil
}

// findMarkers returns the embedded abxbus.Returns[R] fields of st and the R of the first.
func findMarkers(l *loaded, st *ast.StructType) ([]*ast.Field, types.Type) {
	var out []*ast.Field
	var result types.Type
	for _, f := range st.Fields.List {
		if len(f.Names) != 0 {
			continue
		}
		if r, ok := returnsArg(l, f.Type); ok {
			if len(out) == 0 {
				result = r
			}
			out = append(out, f)
		}
	}
	return out, result
}

// returnsArg reports whether the embedded field type expression is abxbus.Returns[R] and gives R
// (nil when R does not type-check).
func returnsArg(l *loaded, x ast.Expr) (types.Type, bool) {
	idx, ok := x.(*ast.IndexExpr)
	if !ok {
		return nil, false
	}
	sel, ok := idx.X.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Returns" {
		return nil, false
	}
	if tv, ok := l.info.Types[x]; ok {
		if named, ok := tv.Type.(*types.Named); ok && named.Obj().Pkg() != nil && named.Obj().Pkg().Path() == AbxbusPath && named.Obj().Name() == "Returns" {
			if named.TypeArgs().Len() == 1 {
				return named.TypeArgs().At(0), true
			}
		}
	}
	// The marker did not type-check; recognise it by its import so the error can say why.
	if id, ok := sel.X.(*ast.Ident); ok {
		if pn, ok := l.info.Uses[id].(*types.PkgName); ok && pn.Imported().Path() == AbxbusPath {
			return l.info.Types[idx.Index].Type, true
		}
	}
	return nil, false
}

func validType(t types.Type) bool {
	if t == nil {
		return false
	}
	b, ok := t.(*types.Basic)
	return !ok || b.Kind() != types.Invalid
}

// parseTag reads the options from the marker field's abxbus struct tag.
func parseTag(marker *ast.Field, ev *Event, fail func(token.Pos, string, ...any)) {
	if marker.Tag == nil {
		return
	}
	raw, err := strconv.Unquote(marker.Tag.Value)
	if err != nil {
		fail(marker.Tag.Pos(), "event type %s: struct tag does not parse: %v", ev.GoName, err)
		return
	}
	val, ok := reflect.StructTag(raw).Lookup(TagKey)
	if !ok {
		if strings.Contains(raw, TagKey+":") {
			fail(marker.Tag.Pos(), "event type %s: malformed struct tag %s (want %s:\"key=value,...\")", ev.GoName, marker.Tag.Value, TagKey)
		}
		return
	}
	for _, reason := range parseOptions(val, ev) {
		fail(marker.Tag.Pos(), "event type %s: %s", ev.GoName, reason)
	}
}

// parseOptions applies the options of an abxbus tag value ("key=value,key=value") to ev and returns
// one reason per problem.
func parseOptions(val string, ev *Event) []string {
	var errs []string
	seen := map[string]bool{}
	for _, item := range strings.Split(val, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			errs = append(errs, fmt.Sprintf("empty option in %s tag %q", TagKey, val))
			continue
		}
		key, v, ok := strings.Cut(item, "=")
		key, v = strings.TrimSpace(key), strings.TrimSpace(v)
		opt, known := options[key]
		switch {
		case !known:
			errs = append(errs, fmt.Sprintf("unknown option %q in %s tag (known: %s)", key, TagKey, strings.Join(optionKeys, ", ")))
		case !ok || v == "":
			errs = append(errs, fmt.Sprintf("option %q needs a value (%s=...)", key, key))
		case seen[key]:
			errs = append(errs, fmt.Sprintf("option %q is given twice", key))
		default:
			seen[key] = true
			if err := opt.parse(&ev.Options, ev, v); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	return errs
}

// checkStrayTags reports abxbus tags on fields other than the marker: options live in one place.
func checkStrayTags(st *ast.StructType, fail func(token.Pos, string, ...any), marker ...*ast.Field) {
	for _, f := range st.Fields.List {
		if f.Tag == nil || len(marker) > 0 && f == marker[0] {
			continue
		}
		raw, err := strconv.Unquote(f.Tag.Value)
		if err != nil {
			continue
		}
		if _, ok := reflect.StructTag(raw).Lookup(TagKey); ok {
			fail(f.Tag.Pos(), "the %s struct tag belongs on the embedded abxbus.Returns[R] field of an event type", TagKey)
		}
	}
}

// checkPayload applies the payload rules of the runtime (checkPayloadType, F32-F35) to the struct's
// JSON keys, following embedded structs, and reports clashes at the field of the declaration.
func checkPayload(l *loaded, ts *ast.TypeSpec, st *ast.StructType, fail func(token.Pos, string, ...any)) {
	obj, ok := l.info.Defs[ts.Name].(*types.TypeName)
	if !ok {
		return
	}
	s, ok := obj.Type().Underlying().(*types.Struct)
	if !ok {
		return
	}
	// Map each top-level types.Var to its AST position (fields in order).
	var fieldPos []token.Pos
	for _, f := range st.Fields.List {
		if len(f.Names) == 0 {
			fieldPos = append(fieldPos, f.Type.Pos())
		}
		for _, n := range f.Names {
			fieldPos = append(fieldPos, n.Pos())
		}
	}
	var walk func(s *types.Struct, top int, depth int)
	walk = func(s *types.Struct, top int, depth int) {
		if depth > 16 {
			return
		}
		for i := 0; i < s.NumFields(); i++ {
			f := s.Field(i)
			at := top
			if depth == 0 {
				at = i
			}
			pos := token.NoPos
			if at < len(fieldPos) {
				pos = fieldPos[at]
			}
			tag := reflect.StructTag(s.Tag(i)).Get("json")
			name, _, _ := strings.Cut(tag, ",")
			if tag == "-" {
				continue
			}
			if f.Embedded() && name == "" {
				ft := f.Type()
				if p, ok := ft.(*types.Pointer); ok {
					ft = p.Elem()
				}
				if es, ok := ft.Underlying().(*types.Struct); ok {
					walk(es, at, depth+1)
					continue
				}
			}
			if !f.Exported() {
				continue
			}
			if name == "" {
				name = f.Name()
			}
			switch {
			case strings.HasPrefix(name, "event_"):
				fail(pos, "event type %s: payload field %s uses the reserved JSON name %q (event_* is event metadata)", ts.Name.Name, f.Name(), name)
			case strings.HasPrefix(name, "model_"):
				fail(pos, "event type %s: payload field %s uses the reserved JSON name %q (model_* is reserved)", ts.Name.Name, f.Name(), name)
			case reservedPayloadNames[name]:
				fail(pos, "event type %s: payload field %s uses the reserved JSON name %q", ts.Name.Name, f.Name(), name)
			}
		}
	}
	walk(s, 0, 0)
}

// docOf returns the declaration's doc comment text.
func docOf(gd *ast.GenDecl, ts *ast.TypeSpec) string {
	if ts.Doc != nil {
		return ts.Doc.Text()
	}
	if len(gd.Specs) == 1 && gd.Doc != nil {
		return gd.Doc.Text()
	}
	return ""
}

// sharedConstraint returns the build constraint of the declaring files, which must all have the same
// one: a generated file carries a single constraint, and neither choice for files that differ is
// right (the declarations' conjunction drops the helpers of events whose files build more widely, a
// disjunction compiles helpers of events that are not there).
func sharedConstraint(l *loaded, files []*ast.File, first map[*ast.File]*Event, fail func(token.Pos, string, ...any)) string {
	var want string
	var wantFile *ast.File
	for i, f := range files {
		name := l.fset.File(f.Pos()).Name()
		x, err := fileConstraint(f, name)
		if err != nil {
			fail(f.Package, "bad build constraint %v", err)
			return ""
		}
		got := ""
		if x != nil {
			got = x.String()
		}
		if i == 0 {
			want, wantFile = got, f
			continue
		}
		if got != want {
			describe := func(c string) string {
				if c == "" {
					return "no build constraint"
				}
				return "build constraint " + c
			}
			ev, other := first[f], first[wantFile]
			fail(ev.namePos, "event type %s is declared in a file with %s, but event type %s (%s) in a file with %s; "+
				"the generated file can carry only one build constraint: declare the events of this %s in files with the same one "+
				"(a build configuration of its own can be generated separately with -tags and -output)",
				ev.GoName, describe(got), other.GoName, fmt.Sprintf("%s:%d:%d", filepath.Base(other.Pos.Filename), other.Pos.Line, other.Pos.Column), describe(want), l.unit)
		}
	}
	return want
}

// checkNameClashes reports generated identifiers that the package already declares, or that the
// generated files of prior units declare.
func checkNameClashes(l *loaded, p *Package, prior []*Event, fail func(token.Pos, string, ...any)) {
	owner := map[string]string{} // generated name -> what it is generated for
	claim := func(n, what string, pos token.Pos) {
		if prev, ok := owner[n]; ok && prev != what {
			fail(pos, "the generator writes %s for %s and for %s; rename one", n, what, prev)
			return
		}
		owner[n] = what
	}
	for _, ev := range p.Events {
		for _, n := range ev.GeneratedNames() {
			claim(n, ev.what(), ev.namePos)
		}
	}
	for _, s := range p.Services {
		for _, n := range s.GeneratedNames() {
			claim(n, "service "+s.GoName, s.namePos)
		}
	}
	for _, n := range p.packageNames() {
		claim(n, "the package event registry", token.NoPos)
	}
	for _, ev := range p.Events {
		for _, pe := range prior {
			for _, n := range pe.GeneratedNames() {
				if owner[n] == ev.what() {
					fail(ev.namePos, "the generator writes %s for %s, and also for %s of the package; rename one", n, ev.what(), pe.what())
				}
			}
		}
	}
	names := make([]string, 0, len(owner))
	for n := range owner {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if obj := l.pkg.Scope().Lookup(n); obj != nil {
			fail(obj.Pos(), "%s is declared here, but the generator writes %s for %s; rename one", n, n, owner[n])
		}
	}
}

// what describes the event in messages: its event type, or the service method it is the request of.
func (ev *Event) what() string {
	if ev.Method != nil {
		return "service method " + ev.Method.Service.GoName + "." + ev.Method.Name
	}
	return "event type " + ev.GoName
}

// qualifier names the packages that result types refer to, from inside the generated file. A name
// that would clash with the generated file's own imports or with its parameter names gets a number.
type qualifier struct {
	self   *types.Package
	byPath map[string]Import
	used   map[string]bool
}

// generatedLocals are the names the generated code declares or imports itself.
var generatedLocals = []string{"abxbus", "context", "time", "ctx", "bus", "p", "e", "fn", "opts", "data",
	"err", "reg", "ev", "r", "v", "c", "callID", "impl"}

func newQualifier(self *types.Package) *qualifier {
	q := &qualifier{self: self, byPath: map[string]Import{}, used: map[string]bool{}}
	for _, n := range generatedLocals {
		q.used[n] = true
	}
	return q
}

func (q *qualifier) name(p *types.Package) string {
	if p == q.self || p.Path() == q.self.Path() {
		return ""
	}
	switch p.Path() {
	case AbxbusPath:
		return "abxbus"
	case "context":
		return "context"
	case "time":
		return "time"
	}
	if im, ok := q.byPath[p.Path()]; ok {
		return im.Name
	}
	name := p.Name()
	for i := 2; q.used[name]; i++ {
		name = fmt.Sprintf("%s%d", p.Name(), i)
	}
	q.used[name] = true
	q.byPath[p.Path()] = Import{Name: name, Path: p.Path(), Alias: name != p.Name()}
	return name
}

// imports returns the packages named so far (time included when used), sorted by path.
func (q *qualifier) imports() []Import {
	out := make([]Import, 0, len(q.byPath))
	for _, im := range q.byPath {
		out = append(out, im)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}
