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
// Generate renders one file per package (DefaultOutput, next to the declarations) starting with
// Header, formatted by go/format and deterministic: for each event the EventSpec method, the event
// type and result schema constants, and the On/OnEvent/Emit/EmitWith/EmitChild/Await/Call/CallChild/
// Find/Filter/Decode…Result helpers (thin calls into package abxbus); for the package EventTypes and
// RegisterEvents. The file references abxbus.GeneratedCodeVersion1, so a runtime that no longer
// supports this generated code fails to compile it.
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
