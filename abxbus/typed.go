package abxbus

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
)

// Returns is the marker that declares an event type and its result type in one Go type: embed it in the
// payload struct.
//
//	type UserCreated struct {
//		abxbus.Returns[UserID]
//		Email string `json:"email"`
//	}
//
// The marker has no fields and adds nothing to the JSON. The event type name is the Go type name
// ("UserCreated") unless the payload type has an EventSpec method saying otherwise.
type Returns[R any] struct{}

func (Returns[R]) abxbusResult(*R) {}

// Void is the result type of a notification: an event that announces something and expects no answer.
// Declare it with Returns[Void] (the same as Returns[struct{}]: Void is an alias) and register handlers
// with OnNotify (or On with handlers that return Void{}, nil):
//
//	type UserLoggedIn struct {
//		abxbus.Returns[abxbus.Void]
//		UserID string `json:"user_id"`
//	}
//
// A void handler's result is a completed result without a value, written "result": null (the
// TypeScript package leaves the key out for a handler that returns undefined; both read as no value).
// It never counts as a valid result, so Results is empty and First never returns early. The event JSON
// carries no event_result_type, like a TypeScript event declared without a result schema (which does
// not validate its handlers' results); ResultSchemaFor(Void) still describes the empty object.
//
// Call on a notification returns (Void{}, nil) once every handler has succeeded, also when no handler
// is registered (a notification nobody subscribes to is not an error), and the handler errors
// otherwise, with the usual error policy.
type Void = struct{}

var voidType = reflect.TypeFor[Void]()

// isVoid is the null check of Void results: every Void value is JSON null.
func isVoid(v any) bool {
	if v == nil {
		return true
	}
	_, ok := v.(Void)
	return ok
}

// Payload is the constraint satisfied by payload types that embed Returns[R]. It lets the typed
// functions infer R from the payload: Emit(ctx, bus, UserCreated{...}) is an *Event[UserCreated, UserID].
type Payload[R any] interface {
	abxbusResult(*R)
}

// EventSpec holds per-event-type declarations. A payload type may declare them with a method
// `func (T) EventSpec() abxbus.EventSpec` (the generator writes one from struct tags); it is called once
// per type on the zero value.
type EventSpec struct {
	// Type overrides the event type name (default: the Go type name).
	Type string
	// Version is event_version (default "0.0.1").
	Version string
	// Defaults are applied to every new event of the type, like fields set at construction.
	Defaults EventOptions
}

// Event is the typed view of an event record: P is the payload type, R the result type. It has no state
// of its own: *Event[P, R] and *BaseEvent are the same record (Base converts for free), so typed and
// untyped code can share events. Its methods are short forwards to the untyped record (the typed ones
// add a type assertion), so that each payload type a program uses adds little compiled code.
type Event[P any, R any] BaseEvent

// typeInfo is what the typed layer learned once about a payload type.
type typeInfo struct {
	eventType   string
	version     string
	defaults    EventOptions
	payloadType reflect.Type
	resultType  reflect.Type
	isNull      func(any) bool
	err         error
}

var typeInfos sync.Map // reflect.Type (payload) -> *typeInfo

// reservedPayloadNames are JSON keys a payload may not use (F33, and the names the TypeScript runtime
// reserves).
var reservedPayloadNames = map[string]bool{
	"bus": true, "emit": true, "now": true, "wait": true, "eventResult": true, "eventResultsList": true,
	"toString": true, "toJSON": true, "fromJSON": true,
}

func infoOf[P Payload[R], R any]() *typeInfo {
	return infoFor(reflect.TypeFor[P](), reflect.TypeFor[R]())
}

// infoFor is infoOf for the payload type pt declaring the result type rt (the caller vouches that pt
// embeds Returns[rt]). It is not generic, so that code instantiated per event type stays small.
func infoFor(pt, rt reflect.Type) *typeInfo {
	if v, ok := typeInfos.Load(pt); ok {
		return v.(*typeInfo)
	}
	info := &typeInfo{payloadType: pt, resultType: rt, version: DefaultEventVersion}
	info.isNull = nullCheckFor(rt)
	if err := checkPayloadKind(pt); err != nil {
		// (before EventSpec: calling it on a nil pointer would panic). The event still gets a type name,
		// so that its Emit, Now and Wait report this error.
		info.err = err
		if info.eventType = pt.String(); pt.Kind() == reflect.Pointer && pt.Elem().Name() != "" {
			info.eventType, _, _ = strings.Cut(pt.Elem().Name(), "[")
		}
		v, _ := typeInfos.LoadOrStore(pt, info)
		return v.(*typeInfo)
	}
	info.eventType = pt.Name()
	if i := strings.IndexByte(info.eventType, '['); i >= 0 {
		info.eventType = info.eventType[:i]
	}
	if s, ok := reflect.Zero(pt).Interface().(interface{ EventSpec() EventSpec }); ok {
		spec := s.EventSpec()
		if spec.Type != "" {
			info.eventType = spec.Type
		}
		if spec.Version != "" {
			info.version = spec.Version
		}
		info.defaults = spec.Defaults
		if err := info.defaults.check(); err != nil {
			info.err = fmt.Errorf("event type %s: %w", pt, err)
		}
	}
	if info.err == nil {
		if err := checkEventType(info.eventType); err != nil {
			info.err = fmt.Errorf("payload type %s: %w", pt, err)
		}
	}
	if info.err == nil {
		info.err = checkPayloadType(pt)
	}
	v, _ := typeInfos.LoadOrStore(pt, info)
	return v.(*typeInfo)
}

// checkPayloadKind rejects a pointer (or interface) payload type with a message naming the fix. The
// Payload constraint cannot: a pointer's method set includes its element's methods, so *T satisfies it
// whenever T does.
func checkPayloadKind(pt reflect.Type) error {
	switch pt.Kind() {
	case reflect.Pointer:
		return fmt.Errorf("%w: payload type %s is a pointer; pass the value %s (events are values)", ErrInvalidOption, pt, pt.Elem())
	case reflect.Interface:
		return fmt.Errorf("%w: payload type %s is an interface; pass a value of the event's struct type", ErrInvalidOption, pt)
	}
	return nil
}

// checkPayloadType rejects payload types that cannot be a flat event object: non-structs, and JSON keys
// that collide with event_* metadata, model_* or reserved names (F32-F35).
func checkPayloadType(t reflect.Type) error {
	if t.Kind() != reflect.Struct {
		return fmt.Errorf("%w: payload type %s must be a struct (it is encoded as the flat event object)", ErrInvalidOption, t)
	}
	var walk func(t reflect.Type) error
	walk = func(t reflect.Type) error {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			if name == "-" && tag == "-" {
				continue
			}
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					if err := walk(ft); err != nil {
						return err
					}
					continue
				}
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			switch {
			case strings.HasPrefix(name, "event_"):
				return fmt.Errorf("%w: payload field %s.%s uses the reserved JSON name %q (event_* is event metadata)", ErrInvalidOption, t, f.Name, name)
			case strings.HasPrefix(name, "model_"):
				return fmt.Errorf("%w: payload field %s.%s uses the reserved JSON name %q (model_* is reserved)", ErrInvalidOption, t, f.Name, name)
			case reservedPayloadNames[name]:
				return fmt.Errorf("%w: payload field %s.%s uses the reserved JSON name %q", ErrInvalidOption, t, f.Name, name)
			}
		}
		return nil
	}
	return walk(t)
}

// nullCheckFor returns how to tell a JSON-null value of type t (nil pointers, maps, slices, interfaces).
func nullCheckFor(t reflect.Type) func(any) bool {
	if t == voidType {
		return isVoid
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Func, reflect.Chan:
		return anyIsNull
	}
	return func(v any) bool { return v == nil }
}

// NewEvent creates the typed event for payload p, applying the type's EventSpec defaults. An invalid
// declaration (see Returns, EventSpec) is recorded on the event and reported by Emit, Bus.Emit, Now and
// Wait. A pointer payload (NewEvent(&CreateUser{...})) is such an error: events are values, pass
// CreateUser{...}. The type system cannot refuse it, as a pointer has its element's methods, so every
// typed function (Emit, Call, On, Register, Find, ...) refuses it at run time, with an error wrapping
// ErrInvalidOption.
func NewEvent[P Payload[R], R any](p P) *Event[P, R] {
	info := infoOf[P, R]()
	e := &Event[P, R]{}
	b := e.Base()
	b.init(info.eventType, p, info)
	if info.err != nil {
		b.xw().emitErr = info.err
	}
	return e
}

// Base returns the untyped core record (the same object).
func (e *Event[P, R]) Base() *BaseEvent { return (*BaseEvent)(e) }

// Payload returns the typed payload. For an event that arrived untyped (JSON from a bridge or another
// runtime) the payload is decoded into P; an error names the field that does not fit.
func (e *Event[P, R]) Payload() (P, error) {
	if b := (*BaseEvent)(e); b != nil {
		if p, ok := b.payload.(P); ok {
			return p, nil
		}
	}
	var p P
	err := (*BaseEvent)(e).decodePayloadInto("Payload", &p)
	return p, err
}

// ID returns the event id.
func (e *Event[P, R]) ID() ID { return (*BaseEvent)(e).ID() }

// String returns `Type#abcd`: the event type and the last four hex digits of the id ("<nil>" for a nil
// event), the label messages use.
func (e *Event[P, R]) String() string { return (*BaseEvent)(e).String() }

// LogValue makes an event a compact log/slog group: see BaseEvent.LogValue.
func (e *Event[P, R]) LogValue() slog.Value { return (*BaseEvent)(e).LogValue() }

// MarshalJSON encodes the event as abxbus event JSON, so json.Marshal of an *Event[P, R] (or of a struct
// with such a field) gives the bytes of BaseEvent.ToJSON (see BaseEvent.MarshalJSON).
func (e *Event[P, R]) MarshalJSON() ([]byte, error) { return (*BaseEvent)(e).MarshalJSON() }

// UnmarshalJSON decodes one abxbus event JSON object into e as an event of type P: the payload is
// decoded into P (keys P does not have are kept and written back by ToJSON, as Registry.Decode does) and
// results are checked against R when the event is processed. Errors: an event_type other than P's
// event type (the error names both), a payload that does not fit P (naming the field), an invalid
// declaration of P, the decoding errors of FromJSON, and those of BaseEvent.UnmarshalJSON (an event a
// bus has accepted is not overwritten). On error e is unchanged.
func (e *Event[P, R]) UnmarshalJSON(data []byte) error {
	_, declared := any((*P)(nil)).(Payload[R])
	return (*BaseEvent)(e).unmarshalTyped(data, declared, (*P)(nil), (*R)(nil))
}

// Now processes the event immediately and waits for it; see BaseEvent.Now.
func (e *Event[P, R]) Now(ctx context.Context, opts ...WaitOption) error {
	return (*BaseEvent)(e).Now(ctx, opts...)
}

// Wait waits for completion in queue order; see BaseEvent.Wait.
func (e *Event[P, R]) Wait(ctx context.Context, opts ...WaitOption) error {
	return (*BaseEvent)(e).Wait(ctx, opts...)
}

// Result waits for the event to complete and returns the first value that passes the filter, typed,
// with the error policy of BaseEvent.Result (see ResultOptions; First returns early on request). It
// returns the zero R when nothing passes the filter and RequireResult is not set.
func (e *Event[P, R]) Result(ctx context.Context, opts ...ResultOptions) (R, error) {
	v, err := (*BaseEvent)(e).Result(ctx, opts...)
	if r, ok := v.(R); ok && err == nil {
		return r, nil
	}
	var r R
	if err == nil && v != nil {
		err = convertResultInto(v, &r)
	}
	return r, err
}

// Results waits for the event to complete and returns every value that passes the filter, typed, in
// handler registration order, with the error policy of BaseEvent.Result (see ResultsList).
func (e *Event[P, R]) Results(ctx context.Context, opts ...ResultOptions) ([]R, error) {
	var out []R
	err := (*BaseEvent)(e).resultsInto(ctx, opts, &out)
	return out, err
}

// EventResults returns a snapshot of the per-handler results (no waiting).
func (e *Event[P, R]) EventResults() []*EventResult { return (*BaseEvent)(e).Results() }

// Status returns the event status.
func (e *Event[P, R]) Status() EventStatus { return (*BaseEvent)(e).Status() }

// decodePayloadInto is the slow path of Payload for op: it decodes the payload of e (JSON-shaped data)
// into dst, a pointer to the payload type, and leaves *dst zero on error.
func (e *BaseEvent) decodePayloadInto(op string, dst any) error {
	if err := e.unusable(op); err != nil {
		return err
	}
	d := reflect.ValueOf(dst).Elem()
	v, err := decodePayloadAs(e, d.Type())
	setAny(d, v)
	return err
}

// convertResultInto is the slow path of Event.Result: it converts v to the result type (dst points to
// one), leaving *dst zero on error.
func convertResultInto(v any, dst any) error {
	d := reflect.ValueOf(dst).Elem()
	out, err := convertResult(v, d.Type())
	setAny(d, out)
	return err
}

// setAny sets d to v, a value of d's type, or to the zero value when v is nil.
func setAny(d reflect.Value, v any) {
	if v == nil {
		d.SetZero()
		return
	}
	d.Set(reflect.ValueOf(v))
}

// hasType reports whether v holds a value of type t (for an interface t: a value implementing it), the
// test of the type assertion v.(T).
func hasType(v any, t reflect.Type) bool {
	vt := reflect.TypeOf(v)
	return vt != nil && (vt == t || t.Kind() == reflect.Interface && vt.Implements(t))
}

// resultsInto is Event.Results: dst points to a []R that receives the converted values (the ones
// converted before an error that stops the conversion, on error).
func (e *BaseEvent) resultsInto(ctx context.Context, opts []ResultOptions, dst any) error {
	vs, err := e.ResultsList(ctx, opts...)
	if err != nil {
		return err
	}
	d := reflect.ValueOf(dst).Elem()
	t := d.Type().Elem()
	out := reflect.MakeSlice(d.Type(), 0, len(vs))
	for _, v := range vs {
		if !hasType(v, t) {
			cv, err := convertResult(v, t)
			if err != nil {
				d.Set(out)
				return err
			}
			v = cv
		}
		rv := reflect.Zero(t)
		if v != nil {
			rv = reflect.ValueOf(v)
		}
		out = reflect.Append(out, rv)
	}
	d.Set(out)
	return nil
}

// unmarshalTyped is Event.UnmarshalJSON for the payload type *pp and result type *rp (typed nil
// pointers); declared reports whether the payload type embeds Returns of the result type.
func (e *BaseEvent) unmarshalTyped(data []byte, declared bool, pp, rp any) error {
	pt, rt := reflect.TypeOf(pp).Elem(), reflect.TypeOf(rp).Elem()
	if !declared {
		return fmt.Errorf("%w: Go type %s does not embed abxbus.Returns[%s]", ErrInvalidOption, goTypeName(pt), goTypeName(rt))
	}
	info := infoFor(pt, rt)
	if info.err != nil {
		return info.err
	}
	return e.unmarshal("UnmarshalJSON", data, func(b *BaseEvent, payload JSONPayload) error {
		if b.eventType != info.eventType {
			return fmt.Errorf("%w: event JSON has event_type %q, not %q (the event type of Go type %s)",
				ErrInvalidOption, b.eventType, info.eventType, goTypeName(info.payloadType))
		}
		p, extra, err := decodePayload(info, payload)
		if err != nil {
			return fmt.Errorf("abxbus: event JSON of %s: %w", b.label(), err)
		}
		b.payload, b.info = p, info
		if extra != nil {
			b.wireW().extra = extra
		}
		return nil
	})
}

func payloadAs[P any](b *BaseEvent) (P, error) {
	if p, ok := b.payload.(P); ok {
		return p, nil
	}
	v, err := decodePayloadAs(b, reflect.TypeFor[P]())
	p, _ := v.(P)
	return p, err
}

// payloadOfType returns the payload of e as a value of type t: the payload itself when it is one, else
// decoded from its JSON form (decodePayloadAs).
func payloadOfType(e *BaseEvent, t reflect.Type) (any, error) {
	if p := e.payload; reflect.TypeOf(p) == t {
		return p, nil
	}
	return decodePayloadAs(e, t)
}

// decodePayloadAs decodes the payload of b (JSON-shaped data) into a new value of type t, returned as
// any (nil on error). Not generic: the code instantiated per payload type only asserts the result.
func decodePayloadAs(b *BaseEvent, t reflect.Type) (any, error) {
	raw, err := b.PayloadJSON()
	if err != nil {
		return nil, err
	}
	v, err := unmarshalNew(t, raw)
	if err != nil {
		return nil, fmt.Errorf("abxbus: payload of %s does not fit %s: %w", b.label(), t, err)
	}
	return v, nil
}

// unmarshalNew decodes data with encoding/json into a new value of type t and returns that value (not
// a pointer to it) as any; nil on error.
func unmarshalNew(t reflect.Type, data []byte) (any, error) {
	ptr := reflect.New(t)
	if err := json.Unmarshal(data, ptr.Interface()); err != nil {
		return nil, err
	}
	return ptr.Elem().Interface(), nil
}

// convertResult converts a result value that is not of type t (JSON-shaped data, or a value of
// another Go type) to t through JSON, returned as any (nil on error).
func convertResult(v any, t reflect.Type) (any, error) {
	raw, err := json.Marshal(v)
	var out any
	if err == nil {
		out, err = unmarshalNew(t, raw)
	}
	if err != nil {
		return nil, &EventHandlerResultSchemaError{Message: fmt.Sprintf("EventHandlerResultSchemaError: result %T does not fit %s: %v", v, t, err)}
	}
	return out, nil
}

// checkResult normalises a handler's return value: a returned event becomes its *BaseEvent (a forward
// reference, never a valid result, F221); on a typed event a value from an untyped handler must fit the
// result type R (converted through JSON when it is JSON-shaped data) or it is an
// EventHandlerResultSchemaError (F218). It reports whether the value is JSON null.
func (e *BaseEvent) checkResult(h *Handler, v any) (any, bool, error) {
	if v == nil {
		return nil, true, nil
	}
	if be, ok := v.(interface{ Base() *BaseEvent }); ok {
		return be.Base(), false, nil
	}
	if _, ok := v.(*BaseEvent); ok {
		return v, false, nil
	}
	_, isNull, typed := h.function()
	if isNull != nil && isNull(v) {
		return nil, true, nil
	}
	info := e.info
	if info != nil && info.resultType == voidType && isVoid(v) {
		return nil, true, nil // an untyped handler's Void{} on a notification
	}
	if info == nil && e.wireSchema() != nil {
		// A foreign event_result_type (from JSON) is enforced on untyped results (F218, F222).
		if err := validateResult(e.eventType, resultWho(h, e), e.wireSchema(), v); err != nil {
			return nil, true, err
		}
		return v, false, nil
	}
	if info == nil || typed == info || reflect.TypeOf(v) == info.resultType {
		return v, false, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Type().AssignableTo(info.resultType) {
		out := reflect.New(info.resultType).Elem()
		out.Set(rv)
		return out.Interface(), false, nil
	}
	raw, err := json.Marshal(v)
	if err == nil {
		ptr := reflect.New(info.resultType)
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err = dec.Decode(ptr.Interface()); err == nil {
			return ptr.Elem().Interface(), info.isNull(ptr.Elem().Interface()), nil
		}
	}
	why := fmt.Sprintf("a %v is not a %v", reflect.TypeOf(v), info.resultType)
	if err != nil {
		why = err.Error()
	}
	return nil, true, &EventHandlerResultSchemaError{Message: fmt.Sprintf(
		"handler %s returned %s (%v), which does not fit the event's result type %v: %s", resultWho(h, e), previewJSON(raw), reflect.TypeOf(v), info.resultType, why)}
}

// resultWho names a handler's run of e in result errors: "Bus#ab12.name#cd34(Type#ef56)".
func resultWho(h *Handler, e *BaseEvent) string {
	bus := "?"
	if h.bus != nil {
		bus = h.bus.label
	}
	return bus + "." + h.Label() + "(" + e.label() + ")"
}

// On registers a typed handler for the event type of P. fn receives the decoded payload and returns
// the typed result; its context carries the values of the emitting context and is cancelled by the
// handler's timeout, the event timeout, a first-completion loss, a parent timeout and bus destroy. Use
// EmitChildOf/CallChild with that context for linked children. Errors (wrapping ErrInvalidOption): a
// nil fn, an invalid declaration of P, a nil bus or one not made by New, an event type name bound to
// another Go type (below); and the bus-destroyed error.
//
// One event type name has one Go type per bus: the first typed handler registered or typed event
// emitted for a name binds it to its payload type for the bus's lifetime, and registering a handler of
// another Go type under that name (two packages' Created, or an EventSpec Type naming another type's
// event) is an error wrapping ErrInvalidOption that names both Go types. Untyped handlers (OnType) are
// not bound.
func On[P Payload[R], R any](b *Bus, fn func(ctx context.Context, p P) (R, error), opts ...HandlerOption) (*Handler, error) {
	info := infoOf[P, R]()
	h := func(ctx context.Context, e *BaseEvent) (any, error) {
		p, err := payloadAs[P](e)
		if err != nil {
			return nil, err
		}
		r, err := fn(ctx, p)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	return b.registerTyped(info, h, fn, opts)
}

// OnEvent registers a typed handler that receives the whole event (ids, lineage, results, options) as
// well as the payload (via e.Payload). Registration and its errors are those of On.
func OnEvent[P Payload[R], R any](b *Bus, fn func(ctx context.Context, e *Event[P, R]) (R, error), opts ...HandlerOption) (*Handler, error) {
	info := infoOf[P, R]()
	h := func(ctx context.Context, e *BaseEvent) (any, error) {
		r, err := fn(ctx, (*Event[P, R])(e))
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	return b.registerTyped(info, h, fn, opts)
}

// OnNotify registers a handler of the notification P (an event declared with Returns[Void]) that
// returns only an error: fn(ctx, p) == nil records a completed result without a value (JSON null). It
// is On with a handler returning (Void{}, err); registration and its errors are those of On. A P whose
// result type is not Void does not compile.
func OnNotify[P Payload[Void]](b *Bus, fn func(ctx context.Context, p P) error, opts ...HandlerOption) (*Handler, error) {
	info := infoOf[P, Void]()
	h := func(ctx context.Context, e *BaseEvent) (any, error) {
		p, err := payloadAs[P](e)
		if err != nil {
			return nil, err
		}
		return nil, fn(ctx, p)
	}
	return b.registerTyped(info, h, fn, opts)
}

// registerTyped registers h, the untyped form of the typed handler function orig, for info's type. A
// nil orig and an invalid declaration are errors.
func (b *Bus) registerTyped(info *typeInfo, h HandlerFunc, orig any, opts []HandlerOption) (*Handler, error) {
	if isNilFunc(orig) {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalidOption)
	}
	if info.err != nil {
		return nil, info.err
	}
	return b.register(info.eventType, h, orig, info.isNull, info, opts)
}

// Emit creates the event for payload p and emits it on b (see Bus.Emit). The event is returned even on
// error, with the error recorded so its Now/Wait/Result report it too. When the event type name of P is
// bound on b to another Go type (see On), nothing is emitted and the error wraps ErrInvalidOption and
// names both types; otherwise the emit binds the name to P on b.
func Emit[P Payload[R], R any](ctx context.Context, b *Bus, p P) (*Event[P, R], error) {
	e := NewEvent(p)
	if err := e.Base().xr().emitErr; err != nil {
		return e, err
	}
	_, err := b.Emit(ctx, e.Base())
	return e, err
}

// EmitWith is Emit with per-event options layered over the type's EventSpec defaults: set
// fields override, unset fields keep the defaults, and whatever stays unset is resolved by each
// processing bus. An invalid option is an error wrapping ErrInvalidOption and nothing is emitted.
func EmitWith[P Payload[R], R any](ctx context.Context, b *Bus, p P, opts EventOptions) (*Event[P, R], error) {
	e := NewEvent(p)
	if err := e.Base().xr().emitErr; err != nil {
		return e, err
	}
	if err := e.Base().SetOptions(opts.merge(e.Base().Options())); err != nil {
		e.Base().xw().emitErr = err
		return e, err
	}
	_, err := b.Emit(ctx, e.Base())
	return e, err
}

// EmitChildOf emits p as a linked child of the handler that owns ctx (see the untyped EmitChild).
func EmitChildOf[P Payload[R], R any](ctx context.Context, p P) (*Event[P, R], error) {
	e := NewEvent(p)
	if err := e.Base().xr().emitErr; err != nil {
		return e, err
	}
	_, err := EmitChild(ctx, e.Base())
	return e, err
}

// Call is request/response over the bus: it emits p, processes it now (queue-jumping when called from a
// handler), waits until every handler has finished and returns the first valid result in handler
// registration order. Handler errors are returned like a function call's: with the default policy, any
// handler error is the answer (one as is, several as *EventHandlerErrors), even when an earlier
// handler returned a value; when no handler returns a non-null result the error matches ErrNoResult
// (and ErrNoHandler when no handler was registered for the event type at all: the message names the
// event type and the bus).
// The answer never depends on which handler finishes first. From outside a handler, as with Now, the
// event does not wait for its queue turn: on a busy bus-serial bus it runs beside the event the bus is
// processing, and so do the children its handlers await (handlers that share state guard it). ctx
// bounds only the wait; processing continues if it ends. A notification (an event declared with
// Returns[Void]) has no value to return: Call returns (Void{}, nil) once every handler has succeeded,
// also when it has no handler, and the handler errors otherwise (see Void).
//
// opts (at most one is used) shape the read like Result's, except that RequireResult is always set
// (never for a notification):
// IgnoreErrors returns the first value despite failed handlers, and First returns as soon as a valid
// result exists, without waiting for the remaining handlers (which keep running) and reporting only
// the errors of handlers already finished.
func Call[P Payload[R], R any](ctx context.Context, b *Bus, p P, opts ...ResultOptions) (R, error) {
	e := NewEvent(p)
	err := e.Base().xr().emitErr
	ro := callOptions(e.Base(), opts)
	if err == nil {
		e.Base().willJump(ctx, !ro.First, true)
		_, err = b.Emit(ctx, e.Base())
	}
	if err != nil {
		var zero R
		return zero, err
	}
	return e.Result(ctx, ro)
}

// CallChild is Call for a linked child of the handler that owns ctx: the child queue-jumps (it runs at
// once, in the slot the calling handler's event holds) and blocks its parent's completion. It waits for
// the child to complete, like Call, unless opts ask for First.
func CallChild[P Payload[R], R any](ctx context.Context, p P, opts ...ResultOptions) (R, error) {
	e, err := EmitChildOf(ctx, p)
	if err != nil {
		var zero R
		return zero, err
	}
	return e.Result(ctx, callOptions(e.Base(), opts))
}

// callOptions is the read of Call: a result is required, except for a notification (Void result),
// whose answer is Void{} when no handler failed.
func callOptions(e *BaseEvent, opts []ResultOptions) ResultOptions {
	o := optsOf(opts)
	o.RequireResult = e.info == nil || e.info.resultType != voidType
	return o
}

// As returns the typed view of an event record when its payload is a P (or can be decoded into one).
func As[P Payload[R], R any](b *BaseEvent) (*Event[P, R], bool) {
	if b == nil {
		return nil, false
	}
	if _, ok := b.payload.(P); ok {
		return (*Event[P, R])(b), true
	}
	info := infoOf[P, R]()
	if b.eventType != info.eventType {
		return nil, false
	}
	if _, err := payloadAs[P](b); err != nil {
		return nil, false
	}
	return (*Event[P, R])(b), true
}
