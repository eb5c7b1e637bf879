package result_type_error

import "github.com/typedbus/abxbus-go/abxbus"

type Undefined struct {
	abxbus.Returns[NoSuchType]
}

type Ok struct {
	abxbus.Returns[string]
}
