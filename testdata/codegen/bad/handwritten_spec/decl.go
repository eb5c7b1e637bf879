package handwritten_spec

import "github.com/typedbus/abxbus-go/abxbus"

type Manual struct {
	abxbus.Returns[string]
}

func (Manual) EventSpec() abxbus.EventSpec { return abxbus.EventSpec{Version: "2.0.0"} }
