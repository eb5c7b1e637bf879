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

// Sized integers carry their range (issue 11 item 6).
type Sized struct {
	I8  int8    `json:"i8"`
	I16 int16   `json:"i16"`
	I32 int32   `json:"i32"`
	U   uint    `json:"u"`
	U16 uint16  `json:"u16"`
	U32 uint32  `json:"u32"`
	U64 uint64  `json:"u64"`
	Cnt Count   `json:"cnt"`
	F32 float32 `json:"f32"`
}

type GetSized struct {
	abxbus.Returns[Sized]
}
