package stray_tag

import "github.com/typedbus/abxbus-go/abxbus"

type OnField struct {
	abxbus.Returns[string]
	Name string `json:"name" abxbus:"timeout=1s"`
}

type NotAnEvent struct {
	Name string `abxbus:"type=x"`
}
