// Package tests declares an event in the package, one in its test files and one in its external test
// package: each set is generated into its own file.
package tests

import "github.com/typedbus/abxbus-go/abxbus"

// Order is the package's own event.
type Order struct {
	abxbus.Returns[int]
	Item string `json:"item"`
}
