//go:build !lite

package mixed

import "github.com/typedbus/abxbus-go/abxbus"

// A is declared under a build constraint.
type A struct {
	abxbus.Returns[int]
}
