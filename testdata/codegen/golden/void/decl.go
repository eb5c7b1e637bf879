// Package void declares notifications: events whose handlers return nothing, declared with
// abxbus.Returns[abxbus.Void] or, the same type, abxbus.Returns[struct{}].
package void

import "github.com/typedbus/abxbus-go/abxbus"

// LoggedIn is announced after a login; nobody answers.
type LoggedIn struct {
	abxbus.Returns[abxbus.Void] `abxbus:"timeout=5s"`
	UserID                      string `json:"user_id"`
}

// Heartbeat declares its result as struct{}.
type Heartbeat struct {
	abxbus.Returns[struct{}]
	Seq int `json:"seq"`
}
