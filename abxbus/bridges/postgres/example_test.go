package postgres_test

import (
	"context"
	"fmt"
	"os"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/postgres" // also registers postgres:// and postgresql://
)

// A listener with a named consumer on the table "orders" and the channel "orders": it resumes from
// its cursor after a restart and reconnects after a server restart. (It needs a running server, so
// this example is compiled but not run by go test; ABXBUS_EXAMPLE_DSN names one.)
func Example() {
	dsn := os.Getenv("ABXBUS_EXAMPLE_DSN") // postgres://postgres@127.0.0.1:5432/abxbus
	ctx := context.Background()
	br, err := bridges.Open(ctx, dsn+"/orders?channel=orders&consumer=billing&sslmode=disable", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer br.Close()
	if _, err := br.On("OrderPlaced", func(_ context.Context, e *abxbus.BaseEvent) (any, error) {
		raw, _ := e.PayloadJSON()
		fmt.Println("received", string(raw))
		return nil, nil
	}); err != nil {
		fmt.Println(err)
		return
	}
	e, _ := abxbus.NewBaseEvent("OrderPlaced", map[string]string{"order": "A-1"})
	if err := br.Emit(ctx, e); err != nil {
		fmt.Println(err)
	}
}

// Channel names must be lower case: TS listeners LISTEN on the unquoted name, which Postgres folds.
func ExampleCheckChannel() {
	fmt.Println(postgres.CheckChannel("orders"))
	fmt.Println(postgres.CheckChannel("Orders") != nil)
	// Output:
	// <nil>
	// true
}
