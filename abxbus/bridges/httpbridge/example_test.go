package httpbridge_test

import (
	"context"
	"fmt"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
)

type OrderPlaced struct {
	abxbus.Returns[string]
	OrderID string `json:"order_id"`
}

// Two processes (here two bridges in one) exchange events over HTTP. The receiving side serves a URL
// and re-emits what arrives on its application bus, where ordinary typed handlers run; the sending
// side forwards everything its application bus emits. With AckAfterHandled, a successful Emit means
// the receiver's handlers finished.
func Example() {
	ctx := context.Background()

	// receiving process
	warehouse, _ := abxbus.New("Warehouse", nil)
	defer warehouse.Destroy(true)
	recv, err := httpbridge.New("", &httpbridge.Options{ListenOn: "http://127.0.0.1:0/abxbus_events", AckAfterHandled: true})
	if err != nil {
		panic(err)
	}
	defer recv.Close()
	done := make(chan string, 1)
	abxbus.On(warehouse, func(ctx context.Context, o OrderPlaced) (string, error) {
		done <- o.OrderID
		return "packed " + o.OrderID, nil
	})
	recv.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return warehouse.Emit(ctx, e) })

	// sending process: the receiver's URL (a fixed one in real life; port 0 picked a free one here)
	shop, _ := abxbus.New("Shop", nil)
	defer shop.Destroy(true)
	send, err := bridges.Open(ctx, recv.ListenURL(), nil)
	if err != nil {
		panic(err)
	}
	defer send.Close()
	shop.OnType("*", send.Forward)
	abxbus.Emit(ctx, shop, OrderPlaced{OrderID: "o-42"})

	fmt.Println("warehouse received", <-done)
	// Output: warehouse received o-42
}
