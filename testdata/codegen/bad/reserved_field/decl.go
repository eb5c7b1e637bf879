package reserved_field

import "github.com/typedbus/abxbus-go/abxbus"

type Meta struct {
	Bus string `json:"bus"`
}

type EventPrefix struct {
	abxbus.Returns[int]
	Timeout float64 `json:"event_timeout"`
}

type ModelPrefix struct {
	abxbus.Returns[int]
	Config string `json:"model_config"`
}

type ReservedName struct {
	abxbus.Returns[int]
	Wait   bool   `json:"wait"`
	ToJSON string `json:"toJSON"`
}

type WithOptions struct {
	abxbus.Returns[int]
	Ok bool
	// Only the name part of the json tag counts.
	Now string `json:"now,omitempty"`
}

type ViaEmbedded struct {
	abxbus.Returns[int]
	Meta
}

type Skipped struct {
	abxbus.Returns[int]
	Bus  string `json:"-"`
	emit string
}
