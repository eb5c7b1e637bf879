// Package tags declares one event for the full build and one for the lite build (go build -tags
// lite). Each configuration is generated into its own file, which carries the build constraint of
// the declarations.
package tags

//go:generate abxbus-gen
//go:generate abxbus-gen -tags lite -output abxbus_gen_lite.go

// Level is the result type both builds share.
type Level int
