// Package imports declares events whose result types come from other packages, so the generated file
// imports them.
package imports

import (
	"image/color"
	nethttp "net/http"

	"github.com/typedbus/abxbus-go/abxbus"
)

type Headers struct {
	abxbus.Returns[nethttp.Header]
}

type Paint struct {
	abxbus.Returns[[]color.RGBA]
}

type Both struct {
	abxbus.Returns[map[string]struct {
		H nethttp.Header `json:"h"`
		C *color.Gray16  `json:"c"`
	}]
}
