package name_clash

import "github.com/typedbus/abxbus-go/abxbus"

type Ping struct {
	abxbus.Returns[int]
}

// CallPing is hand-written, but the generator writes one too.
func CallPing() {}

const PingResultSchema = "{}"

var EventTypes = []string{"Ping"}
