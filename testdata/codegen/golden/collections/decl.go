// Package collections declares events whose results are slices, arrays and maps.
package collections

import "github.com/typedbus/abxbus-go/abxbus"

type Item struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

type ListNames struct {
	abxbus.Returns[[]string]
}

type ListItems struct {
	abxbus.Returns[[]Item]
}

type Matrix struct {
	abxbus.Returns[[][]float64]
}

type Triple struct {
	abxbus.Returns[[3]int]
}

type Counts struct {
	abxbus.Returns[map[string]int]
}

type Series struct {
	abxbus.Returns[map[string][]float64]
}

type ByID struct {
	abxbus.Returns[map[int64]Item]
}

type Anything struct {
	abxbus.Returns[map[string]any]
}

type Mixed struct {
	abxbus.Returns[[]any]
}

// Integer-keyed maps describe their keys (issue 11 item 6).
type Flags struct {
	abxbus.Returns[map[uint16]bool]
}

type Offsets struct {
	abxbus.Returns[map[int8][]string]
}
