// Package special declares events whose results have a JSON form other than their Go structure:
// time.Time, []byte, json.RawMessage and text marshalers.
package special

import (
	"encoding/json"
	"net/netip"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

type Stamp struct {
	At      time.Time       `json:"at"`
	Until   *time.Time      `json:"until"`
	Blob    []byte          `json:"blob"`
	Raw     json.RawMessage `json:"raw"`
	Elapsed time.Duration   `json:"elapsed"`
	Addr    netip.Addr      `json:"addr"`
}

type Now struct {
	abxbus.Returns[time.Time]
}

type Download struct {
	abxbus.Returns[[]byte]
	URL string `json:"url"`
}

type Passthrough struct {
	abxbus.Returns[json.RawMessage]
}

type Stamped struct {
	abxbus.Returns[Stamp]
}

type Lookup struct {
	abxbus.Returns[map[netip.Addr]string]
}
