// Package codegen is abxbus-gen as a library: it reads the event declarations of a Go package and
// writes their typed helpers.
//
// # Declarations
//
// An event is a struct type embedding abxbus.Returns[R], where R is the result type its handlers
// return. Its options are the `abxbus` struct tag of that embedded field, a comma-separated list of
// key=value pairs:
//
//	type UserCreated struct {
//		abxbus.Returns[UserID] `abxbus:"type=user.created,version=1.2.0,timeout=30s,completion=first"`
//		Email string `json:"email"`
//	}
//
// Keys: type (event_type, default the Go type name), version (event_version), timeout,
// handler_timeout, slow_timeout, handler_slow_timeout (Go durations, or none/0 for "disabled"),
// concurrency (global-serial, bus-serial, parallel), handler_concurrency (serial, parallel) and
// completion (all, first). An abxbus tag anywhere else is an error.
//
// # Services
//
// An interface type whose doc comment holds the line //abxbus:service is a service: each method
// becomes a request event type, and the generated file holds a client that implements the interface
// by calling over a bus and a server adapter that registers an implementation as the handlers:
//
//	// Billing charges customers.
//	//
//	//abxbus:service version=1.0.0,timeout=30s
//	type Billing interface {
//		//abxbus:method type=billing.charge
//		Charge(ctx context.Context, req ChargeRequest) (Receipt, error)
//		Refund(ctx context.Context, id string, cents int64) error
//	}
//
// The directive may carry options, the keys of the struct tag except type, as defaults of every
// method's event; a //abxbus:method line in a method's doc comment holds that method's own options
// (type included), which override the service's. For method M of service S the generator writes:
//
//   - the request event type SM (BillingCharge), event type "SM" unless the type option says
//     otherwise, with the helpers of any event (OnBillingCharge, CallBillingCharge, ...). Its result
//     type is the method's first result, or abxbus.Void for a method returning only an error. Its
//     payload: when the only parameter after ctx is a defined struct type without JSON or text
//     methods of its own, that struct is embedded, so its fields are the payload's (the wire shape a
//     TypeScript peer sees is the request's); otherwise the event has one field per parameter, the
//     field name the parameter name with its first letter upper case (id gives ID), the JSON key the
//     parameter name as written. It also has AbxbusCallID (JSON "abxbus_call_id", omitted when
//     empty), set only by a client calling across processes.
//   - the client type SClient and NewSClient(bus, opts ...abxbus.ServiceOption): its methods emit the
//     request event, process it now and return the answer of the implementation (its result, its error
//     as is). ServiceClient() gives the runtime client.
//   - RegisterS(bus, impl, opts ...abxbus.HandlerOption): one handler per method, named "S.M", and an
//     *abxbus.ServiceHandlers whose Off unregisters them.
//
// Handler results do not cross bridges, so a call to another process works by events both ways:
// with abxbus.ServiceReplies(br.Bus()) the client puts a fresh call id into the request and waits on
// the bridge's bus for the abxbus.ServiceReply event with that id, which the server adapter emits
// on its bus (forwarded to the bridge like any event) with the method's result as JSON or its error
// (an *abxbus.ServiceError on the client, matched by errors.Is through its code). Any bridge works;
// a TypeScript or Python peer serves a Go client by answering with that event, and calls a Go
// server with an ordinary event of the request type.
//
// A method must take a context.Context first, return error or (R, error) and be exported; variadic
// methods, channel or function parameters (and others without a JSON form), unnamed parameters when
// there is more than one, generic interfaces and interfaces embedded from other packages are
// reported as errors. Interfaces of the same package may be embedded: their methods are the
// service's, in the place they are embedded.
//
// # Output
//
// Generate renders, next to the declarations, one file for the events of the package (DefaultOutput),
// one for those declared in its test files (abxbus_gen_test.go, same package) and one for those of its
// external test package (abxbus_gen_external_test.go, package x_test), each only when it has events.
// Every file starts with Header, is formatted by go/format and deterministic: for each event the
// EventSpec method, the event type and result schema constants, and the On/OnEvent/Emit/EmitWith/
// EmitChild/Await/AwaitChild/Call/CallChild/Find/Filter/Decode…Result helpers; for the package EventTypes and RegisterEvents (testEventTypes and registerTestEvents in the
// test files, which share the package's scope). The file references abxbus.GeneratedCodeVersion1, so
// a runtime that no longer supports this generated code fails to compile it.
//
// The helpers are plain code around one unexported abxbus.GeneratedEvent variable per event (abxbusX
// for event X), not calls of the generic functions of package abxbus: a generic function is compiled
// again for every payload type it is used with, which made a file of many events slow to compile. Find
// and Filter still call abxbus.Find and abxbus.FilterOf, which compile only their typed predicate per
// payload type. What stays per event is the instantiation of *abxbus.Event[X, R] (its methods are
// compiled for every payload type; each is one call into non-generic code, with a type assertion where
// it returns a P or an R) and the helpers themselves;
// TestCompileCost in this package measures it (go test ./codegen -run TestCompileCost -v
// -compilecost=50,200; -compilecost.service declares the events as the methods of one service). A
// generated file whose
// events are gone is removed by the next run (reported as stale by -check).
//
// The external test package's declarations see the package under test with its test files, as the go
// command compiles it, so their result types may use what export_test.go files export.
//
// # Build constraints
//
// The files read are those of the build configuration given by the environment (GOOS, GOARCH) and
// Config.Tags (the -tags flag). A generated file carries the build constraint of the files declaring
// its events (their //go:build line, and the GOOS/GOARCH of their names, as one //go:build line), so
// it compiles exactly when they do. All declaring files of a package (or of its test files) must have
// the same constraint: a file has room for one, and both candidates for files that differ are wrong
// (the conjunction drops the helpers of events whose files build more widely, the disjunction compiles
// helpers of events that are absent), so the generator refuses with an error naming both files. Events
// of another build configuration, in files the current one excludes, are not read: generate that
// configuration separately, with its own -tags and -output (one go:generate directive per
// configuration; abxbus-gen -check ./... runs each).
//
// The result schema is derived from the Go type with go/types, following encoding/json (tags,
// omitempty/omitzero, embedded structs, ",string", time.Time, []byte, json.RawMessage, text
// marshalers, nil slices/maps/pointers as nullable, fields of embedded pointers optional, integer
// ranges and integer map keys), in the draft 2020-12 shape the TypeScript package writes; it equals
// abxbus.ResultSchemaFor for the same type.
//
// # Errors
//
// Every problem in the declarations is an *Error positioned at `file:line:col`, collected into an
// ErrorList; a run with any problem writes nothing. Files written by this generator are never read as
// declarations, so a stale or broken generated file never blocks a run; other type errors in the
// package (such as uses of helpers not generated yet) are ignored unless a declaration depends on them.
package codegen
