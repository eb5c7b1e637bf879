package dup

import "github.com/typedbus/abxbus-go/abxbus"

// B is a test event reusing the package event's type: both are registered by the test binary.
type B struct {
	abxbus.Returns[string] `abxbus:"type=shared"`
}
