// Package nullable declares events whose results may be JSON null beyond the top level: pointers.
package nullable

import "github.com/typedbus/abxbus-go/abxbus"

type Profile struct {
	Name     string   `json:"name"`
	Nickname *string  `json:"nickname"`
	Manager  *Profile `json:"manager,omitempty"`
}

type MaybeInt struct {
	abxbus.Returns[*int]
}

type MaybeProfile struct {
	abxbus.Returns[*Profile]
}

type Profiles struct {
	abxbus.Returns[[]*Profile]
}

type PointerToPointer struct {
	abxbus.Returns[**string]
}
