// Package scalars declares one event per scalar result type.
package scalars

import "github.com/typedbus/abxbus-go/abxbus"

type Label string

type Count uint16

type GetString struct {
	abxbus.Returns[string]
}

type GetBool struct {
	abxbus.Returns[bool]
}

type GetInt struct {
	abxbus.Returns[int]
}

type GetInt64 struct {
	abxbus.Returns[int64]
}

type GetUint8 struct {
	abxbus.Returns[uint8]
}

type GetFloat64 struct {
	abxbus.Returns[float64]
}

type GetFloat32 struct {
	abxbus.Returns[float32]
}

type GetLabel struct {
	abxbus.Returns[Label]
}

type GetCount struct {
	abxbus.Returns[Count]
}

type GetAny struct {
	abxbus.Returns[any]
}
