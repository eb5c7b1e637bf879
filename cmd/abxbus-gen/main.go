// Command abxbus-gen generates typed helpers for abxbus event declarations. Use it from go generate,
// next to the declarations:
//
//	//go:generate go run github.com/typedbus/abxbus-go/cmd/abxbus-gen
//
// Usage:
//
//	abxbus-gen [-output file] [-tags list] [-check] [dir | dir/... ...]
//
// Each event type is a struct embedding abxbus.Returns[R]; its options go in an abxbus struct tag on
// that field. Events declared in the package's test files are generated into abxbus_gen_test.go, those
// of its external test package into abxbus_gen_external_test.go. -tags selects the files read, as for
// go build; each generated file carries the build constraint of the files declaring its events, which
// must share one.
//
// An interface marked with a //abxbus:service line in its doc comment is a service: each method
// becomes a request event type, and NewXClient (a client implementing the interface over a bus, in
// the same process or, with abxbus.ServiceReplies, across a bridge) and RegisterX (registering an
// implementation as the handlers) are generated; //abxbus:method lines hold per-method options.
//
// -check writes nothing and exits 1 when a generated file is missing or stale. See
// package codegen for what is generated.
package main

import (
	"os"

	"github.com/typedbus/abxbus-go/codegen"
)

func main() { os.Exit(codegen.Main(os.Args[1:], os.Stdout, os.Stderr)) }
