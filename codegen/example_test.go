package codegen_test

import (
	"fmt"

	"github.com/typedbus/abxbus-go/codegen"
)

// Generate reads a package's declarations and renders the generated files without writing them (here
// one: the package has no test files declaring events); the model lists each event, its wire name and
// its result type.
func ExampleGenerate() {
	files, err := codegen.Generate("../testdata/codegen/golden/basic", codegen.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ev := range files[0].Package.Events {
		fmt.Printf("%s: event_type %s, result %s, helpers %s/%s\n", ev.GoName, ev.EventType, ev.ResultExpr, ev.Names().On, ev.Names().Call)
	}
	// Output:
	// UserCreated: event_type user.created, result UserID, helpers OnUserCreated/CallUserCreated
	// Ping: event_type Ping, result int, helpers OnPing/CallPing
	// Serial: event_type Serial, result bool, helpers OnSerial/CallSerial
	// PerBus: event_type PerBus, result string, helpers OnPerBus/CallPerBus
}
