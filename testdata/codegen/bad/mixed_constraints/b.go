package mixed

import "github.com/typedbus/abxbus-go/abxbus"

// B is declared in a file that is always built.
type B struct {
	abxbus.Returns[int]
}

// C is too; only the first event of each file is named in the error.
type C struct {
	abxbus.Returns[string]
}
