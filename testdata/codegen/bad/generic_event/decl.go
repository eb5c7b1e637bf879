package generic_event

import "github.com/typedbus/abxbus-go/abxbus"

type Wrapped[T any] struct {
	abxbus.Returns[T]
	Value T `json:"value"`
}
