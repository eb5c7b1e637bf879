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
// -compilecost=50,200). A generated file whose
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
