package abxbus_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Normalize asks for the canonical form of a name: a quick, non-blocking computation.
type Normalize struct {
	abxbus.Returns[string]
	Name string `json:"name"`
}

// A handler that never blocks can run on the caller's goroutine: Call then costs a function call plus
// the bus's bookkeeping, with no goroutine hand-off. Results, hooks, history and timeouts work as for
// any handler; the difference is that the caller returns only once the handler has.
func ExampleWithInline() {
	ctx := context.Background()
	bus, _ := abxbus.New("NamesBus", nil)
	defer bus.Destroy(true)

	abxbus.On(bus, func(ctx context.Context, n Normalize) (string, error) {
		return strings.ToLower(strings.TrimSpace(n.Name)), nil
	}, abxbus.WithInline())

	name, err := abxbus.Call(ctx, bus, Normalize{Name: "  Ada Lovelace "})
	fmt.Printf("%q %v\n", name, err)
	// Output: "ada lovelace" <nil>
}
