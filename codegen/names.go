package codegen

import (
	"go/token"
	"unicode"
	"unicode/utf8"
)

// packageNames are the package-level identifiers the generated file declares besides the helpers of
// each event: EventTypes and RegisterEvents, or for test files (which share the package with the
// package's own generated file) testEventTypes and registerTestEvents.
func (p *Package) packageNames() []string {
	if p.Unit == PackageUnit {
		return []string{"EventTypes", "RegisterEvents"}
	}
	return []string{"testEventTypes", "registerTestEvents"}
}

// EventTypesFunc is the name of the generated function listing the event types.
func (p *Package) EventTypesFunc() string { return p.packageNames()[0] }

// RegisterEventsFunc is the name of the generated function registering the events.
func (p *Package) RegisterEventsFunc() string { return p.packageNames()[1] }

// Identifiers are the package-level names generated for one event: exported when the payload type
// is exported (UserCreated gives OnUserCreated, userCreated gives onUserCreated).
type Identifiers struct {
	// Var is the unexported package variable holding the event's abxbus.GeneratedEvent, which the
	// helpers call.
	Var string

	On, OnEvent, Emit, EmitWith, EmitChild, Await, AwaitChild, Call, CallChild, Find, Filter, Decode, EventTypeConst, SchemaConst string
}

func (ev *Event) names() Identifiers {
	n := ev.GoName
	exported := token.IsExported(n)
	r, size := utf8.DecodeRuneInString(n)
	upper := string(unicode.ToUpper(r)) + n[size:]
	pre := func(prefix string) string {
		if !exported {
			r, size := utf8.DecodeRuneInString(prefix)
			prefix = string(unicode.ToLower(r)) + prefix[size:]
		}
		return prefix + upper
	}
	return Identifiers{
		Var: "abxbus" + upper,
		On:  pre("On"), OnEvent: pre("On") + "Event", Emit: pre("Emit"), EmitWith: pre("Emit") + "With", EmitChild: pre("Emit") + "Child",
		Await: pre("Await"), AwaitChild: pre("Await") + "Child", Call: pre("Call"), CallChild: pre("Call") + "Child", Find: pre("Find"),
		Filter: pre("Filter"), Decode: pre("Decode") + "Result",
		EventTypeConst: n + "EventType", SchemaConst: n + "ResultSchema",
	}
}

// GeneratedNames lists the package-level identifiers generated for the event.
func (ev *Event) GeneratedNames() []string {
	x := ev.names()
	if ev.Method != nil { // the generator declares the payload type too
		return []string{ev.GoName, x.Var, x.On, x.OnEvent, x.Emit, x.EmitWith, x.EmitChild, x.Await, x.AwaitChild, x.Call, x.CallChild, x.Find, x.Filter,
			x.Decode, x.EventTypeConst, x.SchemaConst}
	}
	return []string{x.Var, x.On, x.OnEvent, x.Emit, x.EmitWith, x.EmitChild, x.Await, x.AwaitChild, x.Call, x.CallChild, x.Find, x.Filter,
		x.Decode, x.EventTypeConst, x.SchemaConst}
}
