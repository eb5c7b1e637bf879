package alias_event

import "github.com/typedbus/abxbus-go/abxbus"

type Aliased = struct {
	abxbus.Returns[string]
}

// Two markers in one type.
type Twice struct {
	abxbus.Returns[string]
	abxbus.Returns[int]
}
