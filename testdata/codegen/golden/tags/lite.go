//go:build lite

package tags

import "github.com/typedbus/abxbus-go/abxbus"

// Lite is only in the lite build.
type Lite struct {
	abxbus.Returns[string] `abxbus:"timeout=5s"`
	ID                     int `json:"id"`
}
