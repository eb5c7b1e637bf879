// Package unexported declares events in two files, unexported ones among them.
package unexported

import (
	ab "github.com/typedbus/abxbus-go/abxbus"
)

// refresh is package-internal: its helpers are unexported too.
type refresh struct {
	ab.Returns[int] `abxbus:"type=cache.refresh"`
	Key             string `json:"key"`
}

type (
	// Grouped is declared in a group.
	Grouped struct {
		ab.Returns[string]
	}
	notAnEvent struct{ X int }
)
