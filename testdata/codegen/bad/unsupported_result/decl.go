package unsupported_result

import (
	"encoding/json"
	"io"

	"github.com/typedbus/abxbus-go/abxbus"
)

type Chan struct {
	abxbus.Returns[chan int]
}

type Func struct {
	abxbus.Returns[func() error]
}

type Complex struct {
	abxbus.Returns[complex128]
}

type ArrayKeys struct {
	abxbus.Returns[map[[2]int]string]
}

type Reader struct {
	abxbus.Returns[io.Reader]
}

type Custom struct{ v int }

func (Custom) MarshalJSON() ([]byte, error) { return json.Marshal(1) }

type CustomJSON struct {
	abxbus.Returns[Custom]
}

type Deep struct {
	abxbus.Returns[[]struct {
		Ok bool   `json:"ok"`
		Fn func() `json:"fn"`
	}]
}
