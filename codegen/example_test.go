package codegen_test

import (
	"fmt"
	"strings"

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

// An interface marked //abxbus:service gives one request event per method, a client implementing the
// interface (NewBillingClient) and a server adapter (RegisterBilling).
func ExampleGenerate_service() {
	files, err := codegen.Generate("../testdata/codegen/golden/service", codegen.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range files[0].Package.Services {
		fmt.Printf("service %s: %s, %s\n", s.GoName, s.Names().NewClient, s.Names().Register)
		for _, m := range s.Methods {
			fmt.Printf("  %s: event %s (event_type %s), result %s, payload %s\n", m.Name, m.Event.GoName, m.Event.EventType, m.Event.ResultExpr, payloadOf(m))
		}
	}
	// Output:
	// service Billing: NewBillingClient, RegisterBilling
	//   Charge: event BillingCharge (event_type billing.charge), result Receipt, payload the fields of ChargeRequest
	//   Refund: event BillingRefund (event_type BillingRefund), result abxbus.Void, payload id, cents
	//   Lookup: event BillingLookup (event_type BillingLookup), result *Receipt, payload id
	//   History: event BillingHistory (event_type BillingHistory), result []string, payload since
	//   Ping: event BillingPing (event_type BillingPing), result abxbus.Void, payload -
	// service counter: newCounterClient, registerCounter
	//   Add: event counterAdd (event_type counterAdd), result int, payload n, string
}

func payloadOf(m *codegen.Method) string {
	if m.Embed {
		return "the fields of " + m.Params[0].TypeExpr
	}
	var keys []string
	for _, p := range m.Params {
		keys = append(keys, p.JSON)
	}
	if len(keys) == 0 {
		return "-"
	}
	return strings.Join(keys, ", ")
}
