package duplicate_type

import "github.com/typedbus/abxbus-go/abxbus"

type UserCreated struct {
	abxbus.Returns[string]
}

type UserCreatedV2 struct {
	abxbus.Returns[string] `abxbus:"type=UserCreated"`
}

type A struct {
	abxbus.Returns[string] `abxbus:"type=shared.name"`
}

type B struct {
	abxbus.Returns[string] `abxbus:"type=shared.name"`
}
