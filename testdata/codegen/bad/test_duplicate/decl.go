package dup

import "github.com/typedbus/abxbus-go/abxbus"

// A is the package's event of type shared.
type A struct {
	abxbus.Returns[int] `abxbus:"type=shared"`
}
