package unexported

import "github.com/typedbus/abxbus-go/abxbus"

type Later struct {
	abxbus.Returns[refreshResult] `abxbus:"timeout=10s"`
}

type refreshResult struct {
	Hits int `json:"hits"`
}

var _ = notAnEvent{}
