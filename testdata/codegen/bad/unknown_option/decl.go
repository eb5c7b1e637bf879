package unknown_option

import "github.com/typedbus/abxbus-go/abxbus"

type Typo struct {
	abxbus.Returns[string] `abxbus:"timout=5s"`
}

type WireName struct {
	abxbus.Returns[string] `abxbus:"event_timeout=5"`
}

type Several struct {
	abxbus.Returns[string] `abxbus:"retries=3,timeout=1s,priority=high"`
}
