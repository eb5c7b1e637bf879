package codegen

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"reflect"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ServiceDirective marks a Go interface as a service: abxbus-gen writes one event type per method, a
// client implementing the interface over a bus and a server adapter registering an implementation.
const ServiceDirective = "//abxbus:service"

// MethodDirective is the line, in the doc comment of a method of a service interface, that holds the
// method's event options.
const MethodDirective = "//abxbus:method"

// CallIDKey is the JSON key of the call id that a request event carries when the client waits for a
// reply from another process (abxbus.ServiceReply).
const CallIDKey = "abxbus_call_id"

// callIDField is the Go field of CallIDKey in generated request events.
const callIDField = "AbxbusCallID"

// Service is one interface marked with ServiceDirective.
type Service struct {
	GoName  string         // the interface's name
	Pos     token.Position // of the name
	Doc     string
	Methods []*Method // in source order (embedded interfaces' methods where they are embedded)

	namePos token.Pos
}

// Method is one method of a service: its request event and how the call maps onto it.
type Method struct {
	Name    string
	Service *Service
	Event   *Event // the request event: payload the parameters, result the first result
	// Embed reports that the only parameter (after ctx) is a struct type embedded in the event, so its
	// fields are the payload's; otherwise each parameter is a field of its own.
	Embed  bool
	Params []*Param
	Void   bool // the method returns only an error (the event's result is abxbus.Void)
}

// Param is one parameter of a method after its context.
type Param struct {
	Name     string // in the generated client method (the interface's name unless it would clash)
	Field    string // the event struct's field (for Embed, the embedded type's name)
	JSON     string // the field's JSON key ("" for Embed)
	TypeExpr string // as written from inside the package
}

// ServiceNames are the package-level identifiers generated for one service (exported when the
// interface is): the client type, its constructor and the server adapter.
type ServiceNames struct{ Client, NewClient, Register string }

// Names returns the generated identifiers of the service.
func (s *Service) Names() ServiceNames {
	pre := exportedLike(s.GoName)
	upper := upperFirst(s.GoName)
	return ServiceNames{Client: s.GoName + "Client", NewClient: pre("New") + upper + "Client", Register: pre("Register") + upper}
}

// GeneratedNames lists the package-level identifiers generated for the service itself (its events
// have their own).
func (s *Service) GeneratedNames() []string {
	n := s.Names()
	return []string{n.Client, n.NewClient, n.Register}
}

func upperFirst(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[size:]
}

// exportedLike returns a function that makes a prefix exported or not, as name is.
func exportedLike(name string) func(string) string {
	exported := token.IsExported(name)
	return func(prefix string) string {
		if exported {
			return prefix
		}
		r, size := utf8.DecodeRuneInString(prefix)
		return string(unicode.ToLower(r)) + prefix[size:]
	}
}

// directiveOf returns the comment of cg that is the directive name (alone or followed by a space and
// options) and the options text.
func directiveOf(cg *ast.CommentGroup, name string) (*ast.Comment, string) {
	if cg == nil {
		return nil, ""
	}
	for _, c := range cg.List {
		if c.Text == name {
			return c, ""
		}
		if rest, ok := strings.CutPrefix(c.Text, name+" "); ok {
			return c, strings.TrimSpace(rest)
		}
	}
	return nil, ""
}

// serviceDoc returns the comment group holding a type spec's doc.
func specDoc(gd *ast.GenDecl, ts *ast.TypeSpec) *ast.CommentGroup {
	if ts.Doc != nil {
		return ts.Doc
	}
	if len(gd.Specs) == 1 {
		return gd.Doc
	}
	return nil
}

// serviceExtractor reads the services of one unit.
type serviceExtractor struct {
	l        *loaded
	qual     *qualifier
	fail     func(token.Pos, string, ...any)
	consumed map[*ast.Comment]bool
	specs    map[token.Pos]*ast.TypeSpec // type specs of the unit's files by name position
}

func newServiceExtractor(l *loaded, qual *qualifier, fail func(token.Pos, string, ...any)) *serviceExtractor {
	x := &serviceExtractor{l: l, qual: qual, fail: fail, consumed: map[*ast.Comment]bool{}, specs: map[token.Pos]*ast.TypeSpec{}}
	for _, f := range l.files {
		for _, d := range f.Decls {
			if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.TYPE {
				for _, s := range gd.Specs {
					ts := s.(*ast.TypeSpec)
					x.specs[ts.Name.Pos()] = ts
				}
			}
		}
	}
	return x
}

// service reads the service declared by ts (an interface type whose doc holds dir, the directive with
// options opts). It returns nil when the declaration has problems (each reported through fail).
func (x *serviceExtractor) service(gd *ast.GenDecl, ts *ast.TypeSpec, dir *ast.Comment, opts string) *Service {
	x.consumed[dir] = true
	name := ts.Name.Name
	it, ok := ts.Type.(*ast.InterfaceType)
	if !ok {
		x.fail(dir.Pos(), "the %s directive belongs on an interface type, and %s is not one", ServiceDirective, name)
		return nil
	}
	if ts.TypeParams != nil {
		x.fail(ts.Name.Pos(), "service %s: generic interfaces are not supported (a generated client implements one interface type; declare it without type parameters)", name)
		return nil
	}
	if ts.Assign.IsValid() {
		x.fail(ts.Name.Pos(), "service %s: declare a defined interface type, not an alias", name)
		return nil
	}
	obj, _ := x.l.info.Defs[ts.Name].(*types.TypeName)
	if obj == nil {
		x.fail(ts.Name.Pos(), "service %s: does not type-check", name)
		return nil
	}
	iface, ok := obj.Type().Underlying().(*types.Interface)
	if !ok || !iface.IsMethodSet() {
		x.fail(ts.Name.Pos(), "service %s: is a type constraint, not an interface of methods", name)
		return nil
	}
	s := &Service{GoName: name, Pos: x.l.position(ts.Name.Pos()), namePos: ts.Name.Pos(), Doc: docOf(gd, ts)}
	// The options of the directive are the defaults of every method's event.
	base := &Event{}
	if opts != "" {
		for _, reason := range parseOptions(opts, base) {
			x.fail(dir.Pos(), "service %s: %s", name, inDirective(reason, ServiceDirective))
		}
	}
	if base.EventType != "" {
		x.fail(dir.Pos(), "service %s: the type option names one event; put it on a method (%s type=...)", name, MethodDirective)
		base.EventType = ""
	}
	type found struct {
		field *ast.Field
		fn    *types.Func
		ident *ast.Ident
	}
	var methods []found
	seen := map[string]bool{}
	bad := false
	var walk func(it *ast.InterfaceType, via []string)
	walk = func(it *ast.InterfaceType, via []string) {
		for _, f := range it.Methods.List {
			if len(f.Names) > 0 {
				for _, id := range f.Names {
					fn, _ := x.l.info.Defs[id].(*types.Func)
					if fn == nil {
						x.fail(id.Pos(), "service %s: method %s does not type-check", name, id.Name)
						bad = true
						continue
					}
					if !seen[id.Name] {
						seen[id.Name] = true
						methods = append(methods, found{f, fn, id})
					}
				}
				continue
			}
			t := x.l.info.Types[f.Type].Type
			named, _ := t.(*types.Named)
			if named == nil || named.Obj().Pkg() == nil {
				x.fail(f.Type.Pos(), "service %s: embeds %s, which is not an interface of methods", name, types.ExprString(f.Type))
				bad = true
				continue
			}
			if _, ok := named.Underlying().(*types.Interface); !ok {
				x.fail(f.Type.Pos(), "service %s: embeds %s, which is not an interface of methods", name, types.ExprString(f.Type))
				bad = true
				continue
			}
			if named.Obj().Pkg() != x.l.pkg {
				x.fail(f.Type.Pos(), "service %s: embeds %s from package %s; only interfaces of this package can be embedded in a service (their methods and directives are read from source): declare the methods in %s",
					name, types.ExprString(f.Type), named.Obj().Pkg().Path(), name)
				bad = true
				continue
			}
			spec := x.specs[named.Obj().Pos()]
			sub, ok := spec.Type.(*ast.InterfaceType)
			if spec == nil || !ok || named.TypeArgs().Len() > 0 {
				x.fail(f.Type.Pos(), "service %s: embeds %s, which is not a plain interface declared in this package", name, types.ExprString(f.Type))
				bad = true
				continue
			}
			for _, v := range via {
				if v == named.Obj().Name() {
					return // a cycle is the type checker's to report
				}
			}
			walk(sub, append(via, named.Obj().Name()))
		}
	}
	walk(it, []string{name})
	if bad {
		return nil
	}
	if len(methods) == 0 {
		x.fail(ts.Name.Pos(), "service %s: has no methods", name)
		return nil
	}
	ok = true
	for _, m := range methods {
		if mm := x.method(s, base, m.field, m.ident, m.fn); mm != nil {
			s.Methods = append(s.Methods, mm)
		} else {
			ok = false
		}
	}
	if !ok {
		return nil
	}
	return s
}

var errorType = types.Universe.Lookup("error").Type()

// method reads one method of service s.
func (x *serviceExtractor) method(s *Service, base *Event, f *ast.Field, id *ast.Ident, fn *types.Func) *Method {
	where := s.GoName + "." + fn.Name()
	pos := id.Pos()
	n := 0 // problems found
	fail := func(p token.Pos, format string, args ...any) {
		n++
		x.fail(p, "service method %s: "+format, append([]any{where}, args...)...)
	}
	ev := &Event{GoName: s.GoName + fn.Name(), Pos: x.l.position(pos), namePos: pos,
		Version: base.Version, Options: base.Options}
	ev.EventType = ev.GoName
	if f.Doc != nil {
		ev.Doc = f.Doc.Text()
	}
	if dir, opts := directiveOf(f.Doc, MethodDirective); dir != nil {
		x.consumed[dir] = true
		// Method options override the service's: parse them onto a fresh event and copy what is set.
		own := &Event{}
		if opts == "" {
			fail(dir.Pos(), "%s without options (write %s key=value,...)", MethodDirective, MethodDirective)
		} else {
			for _, reason := range parseOptions(opts, own) {
				fail(dir.Pos(), "%s", inDirective(reason, MethodDirective))
			}
		}
		if own.EventType != "" {
			ev.EventType = own.EventType
		}
		if own.Version != "" {
			ev.Version = own.Version
		}
		mergeOptions(&ev.Options, own.Options)
	}
	if fn.Name() == "ServiceClient" {
		fail(pos, "the generated client has a ServiceClient method of its own; rename the method")
	}
	if !fn.Exported() {
		fail(pos, "is unexported; a client outside the package could not call it (export it, or leave it out of the service interface)")
		return nil
	}
	sig := fn.Type().(*types.Signature)
	ft, _ := f.Type.(*ast.FuncType)
	paramPos := func(i int) token.Pos {
		if ft == nil {
			return pos
		}
		k := 0
		for _, fl := range ft.Params.List {
			names := len(fl.Names)
			if names == 0 {
				names = 1
			}
			if i < k+names {
				if len(fl.Names) > 0 {
					return fl.Names[i-k].Pos()
				}
				return fl.Type.Pos()
			}
			k += names
		}
		return pos
	}
	resultPos := func(i int) token.Pos {
		if ft == nil || ft.Results == nil {
			return pos
		}
		k := 0
		for _, fl := range ft.Results.List {
			names := max(len(fl.Names), 1)
			if i < k+names {
				return fl.Type.Pos()
			}
			k += names
		}
		return pos
	}
	if sig.Variadic() {
		last := sig.Params().Len() - 1
		fail(paramPos(last), "variadic parameters are not supported (an event has a fixed set of fields; take a slice)")
		return nil
	}
	params := sig.Params()
	if params.Len() == 0 || !isContext(params.At(0).Type()) {
		fail(pos, "the first parameter must be a context.Context (it bounds the call)")
	}
	res := sig.Results()
	switch {
	case res.Len() == 0:
		fail(pos, "returns nothing; a service method returns error or (R, error)")
	case res.Len() > 2:
		fail(resultPos(2), "returns %d values; a service method returns error or (R, error) (put several values in a struct)", res.Len())
	case !types.Identical(res.At(res.Len()-1).Type(), errorType):
		fail(resultPos(res.Len()-1), "the last result must be error, not %s", types.TypeString(res.At(res.Len()-1).Type(), types.RelativeTo(x.l.pkg)))
	}
	if n > 0 {
		return nil
	}
	m := &Method{Name: fn.Name(), Service: s, Event: ev}
	ev.Method = m
	var result types.Type
	if res.Len() == 2 {
		result = res.At(0).Type()
		if !validType(result) {
			fail(resultPos(0), "the result type does not type-check")
			return nil
		}
		ev.ResultExpr = types.TypeString(result, x.qual.name)
	} else {
		m.Void = true
		result = types.NewStruct(nil, nil)
		ev.ResultExpr = "abxbus.Void"
	}
	schema, err := resultSchema(result, types.RelativeTo(x.l.pkg))
	if err != nil {
		fail(resultPos(0), "unsupported result type %s: %v", types.TypeString(result, types.RelativeTo(x.l.pkg)), err)
		return nil
	}
	ev.Schema = schema

	// The parameters after ctx: one struct whose fields are the payload, or one field per parameter.
	rest := make([]*types.Var, 0, params.Len())
	for i := 1; i < params.Len(); i++ {
		rest = append(rest, params.At(i))
	}
	for i, v := range rest {
		t := v.Type()
		p := paramPos(i + 1)
		what := "parameter " + v.Name()
		if v.Name() == "" || v.Name() == "_" {
			what = fmt.Sprintf("parameter %d", i+2)
		}
		if !validType(t) {
			fail(p, "%s does not type-check", what)
			continue
		}
		switch types.Unalias(t).Underlying().(type) {
		case *types.Chan:
			fail(p, "%s is a channel, which cannot travel in an event (send its values as events of their own)", what)
			continue
		case *types.Signature:
			fail(p, "%s is a function, which cannot travel in an event", what)
			continue
		}
		if _, err := resultSchema(t, types.RelativeTo(x.l.pkg)); err != nil {
			fail(p, "%s: %v", what, err)
		}
	}
	if n > 0 {
		return nil
	}
	if len(rest) == 1 && embeddable(rest[0].Type()) {
		m.Embed = true
		named := types.Unalias(rest[0].Type()).(*types.Named)
		m.Params = []*Param{{Name: rest[0].Name(), Field: named.Obj().Name(), TypeExpr: types.TypeString(rest[0].Type(), x.qual.name)}}
		st := named.Underlying().(*types.Struct)
		for _, k := range jsonKeys(st) {
			if reason := reservedKey(k.name); reason != "" {
				fail(paramPos(1), "the request type %s has field %s with %s", named.Obj().Name(), k.field, reason)
			}
		}
		if n > 0 {
			return nil
		}
		return m
	}
	fields := map[string]bool{"Returns": true, callIDField: true}
	for i, v := range rest {
		p := paramPos(i + 1)
		if v.Name() == "" || v.Name() == "_" {
			fail(p, "parameter %d has no name; name it (its name is its JSON key in the event)", i+2)
			continue
		}
		field := exportName(v.Name())
		switch {
		case reservedKey(v.Name()) != "":
			fail(p, "parameter %s: its JSON key is %s; rename the parameter", v.Name(), reservedKey(v.Name()))
		case fields[field]:
			fail(p, "parameter %s: its event field %s is taken; rename the parameter", v.Name(), field)
		}
		fields[field] = true
		m.Params = append(m.Params, &Param{Name: v.Name(), Field: field, JSON: v.Name(), TypeExpr: types.TypeString(v.Type(), x.qual.name)})
	}
	if n > 0 {
		return nil
	}
	return m
}

// inDirective rewords an option parser's reason for options given in a directive.
func inDirective(reason, directive string) string {
	return strings.Replace(reason, "in "+TagKey+" tag", "in "+directive, 1)
}

// mergeOptions copies the options set in from into to.
func mergeOptions(to *Options, from Options) {
	for _, d := range []struct{ dst, src **Duration }{{&to.Timeout, &from.Timeout}, {&to.HandlerTimeout, &from.HandlerTimeout},
		{&to.SlowTimeout, &from.SlowTimeout}, {&to.HandlerSlowTimeout, &from.HandlerSlowTimeout}} {
		if *d.src != nil {
			*d.dst = *d.src
		}
	}
	for _, s := range []struct{ dst, src *string }{{&to.Concurrency, &from.Concurrency}, {&to.HandlerConcurrency, &from.HandlerConcurrency},
		{&to.Completion, &from.Completion}} {
		if *s.src != "" {
			*s.dst = *s.src
		}
	}
}

func isContext(t types.Type) bool {
	named, ok := types.Unalias(t).(*types.Named)
	return ok && named.Obj().Pkg() != nil && named.Obj().Pkg().Path() == "context" && named.Obj().Name() == "Context"
}

// embeddable reports whether a lone request parameter of type t becomes the payload itself: a defined,
// non-generic struct type without JSON or text encoding methods of its own (which, promoted to the
// event, would replace its encoding), that is not an event type, whose name is not a field the event
// needs.
func embeddable(t types.Type) bool {
	named, ok := types.Unalias(t).(*types.Named)
	if !ok || named.TypeArgs().Len() > 0 || named.TypeParams().Len() > 0 {
		return false
	}
	if _, ok := named.Underlying().(*types.Struct); !ok {
		return false
	}
	if n := named.Obj().Name(); n == "Returns" || n == callIDField {
		return false
	}
	for _, m := range []string{"MarshalJSON", "UnmarshalJSON", "MarshalText", "UnmarshalText", "EventSpec", "abxbusResult"} {
		if hasMethod(named, m) {
			return false
		}
	}
	return true
}

// reservedKey says why a payload JSON key is not available to a request's fields, or "".
func reservedKey(k string) string {
	switch {
	case k == CallIDKey:
		return fmt.Sprintf("the JSON name %q, which the request event uses for its call id", k)
	case strings.HasPrefix(k, "event_"):
		return fmt.Sprintf("the reserved JSON name %q (event_* is event metadata)", k)
	case strings.HasPrefix(k, "model_"):
		return fmt.Sprintf("the reserved JSON name %q (model_* is reserved)", k)
	case reservedPayloadNames[k]:
		return fmt.Sprintf("the reserved JSON name %q", k)
	}
	return ""
}

type jsonKey struct{ name, field string }

// jsonKeys lists the JSON keys of a struct's exported fields as encoding/json writes them, following
// untagged embedded structs.
func jsonKeys(s *types.Struct) []jsonKey {
	var out []jsonKey
	var walk func(s *types.Struct, depth int)
	walk = func(s *types.Struct, depth int) {
		if depth > 16 {
			return
		}
		for i := 0; i < s.NumFields(); i++ {
			f := s.Field(i)
			tag := reflect.StructTag(s.Tag(i)).Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			if f.Embedded() && name == "" {
				ft := f.Type()
				if p, ok := ft.(*types.Pointer); ok {
					ft = p.Elem()
				}
				if es, ok := ft.Underlying().(*types.Struct); ok {
					walk(es, depth+1)
					continue
				}
			}
			if !f.Exported() {
				continue
			}
			if name == "" {
				name = f.Name()
			}
			out = append(out, jsonKey{name, f.Name()})
		}
	}
	walk(s, 0)
	return out
}

// initialisms are the parameter names whose field name is all upper case (id gives ID).
var initialisms = map[string]bool{"id": true, "ids": false, "url": true, "uri": true, "ip": true, "api": true, "uuid": true,
	"json": true, "http": true, "sql": true, "tcp": true, "udp": true, "html": true, "xml": true}

// exportName is the event field name of a parameter: its name with the first letter upper case (or
// the whole name for an initialism: id gives ID, userID gives UserID).
func exportName(name string) string {
	if initialisms[name] {
		return strings.ToUpper(name)
	}
	if name == "ids" {
		return "IDs"
	}
	return upperFirst(name)
}

// clientParamNames sets the client method's parameter names: the interface's, except where a name
// would hide something the generated method body uses (its locals, the file's imports, the package's
// names, predeclared identifiers) or is missing.
func (x *serviceExtractor) clientParamNames(s *Service) {
	locals := map[string]bool{"ctx": true, "c": true, "callID": true, "v": true, "r": true, "err": true}
	for _, m := range s.Methods {
		for i, p := range m.Params {
			n := p.Name
			if n == "" || n == "_" || locals[n] || x.qual.used[n] || x.l.pkg.Scope().Lookup(n) != nil || types.Universe.Lookup(n) != nil {
				n = fmt.Sprintf("arg%d", i+1)
			}
			p.Name = n
		}
	}
}

// checkStrayDirectives reports abxbus: directives the unit's files hold where none belongs (or
// unknown ones).
func (x *serviceExtractor) checkStrayDirectives() {
	for _, f := range x.l.own {
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				if !strings.HasPrefix(c.Text, "//abxbus:") || x.consumed[c] {
					continue
				}
				word, _, _ := strings.Cut(c.Text, " ")
				switch word {
				case ServiceDirective:
					x.fail(c.Pos(), "the %s directive belongs in the doc comment of an interface type declaration", ServiceDirective)
				case MethodDirective:
					x.fail(c.Pos(), "the %s directive belongs in the doc comment of a method of an interface marked %s", MethodDirective, ServiceDirective)
				default:
					x.fail(c.Pos(), "unknown directive %s (known: %s, %s)", word, ServiceDirective, MethodDirective)
				}
			}
		}
	}
}
