//go:build !lite

package tags

import "github.com/typedbus/abxbus-go/abxbus"

// Full is only in the full build.
type Full struct {
	abxbus.Returns[Level]
	Name string `json:"name"`
}
