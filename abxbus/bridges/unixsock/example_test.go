package unixsock_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
)

type OrderPlaced struct {
	abxbus.Returns[string]
	OrderID string `json:"order_id"`
}

// Two processes on one machine (here two bridges in one) exchange events over a Unix socket. Only the
// receiving side listens on the path; the sending side only connects to it (a sending bridge never
// binds the path, so it cannot take it over from the listener).
func Example() {
	dir, _ := os.MkdirTemp("", "sock")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.sock")
	ctx := context.Background()

	// receiving process
	warehouse, _ := abxbus.New("Warehouse", nil)
	defer warehouse.Destroy(true)
	recv, _ := unixsock.New(path, nil)
	defer recv.Close()
	done := make(chan string, 1)
	abxbus.On(warehouse, func(ctx context.Context, o OrderPlaced) (string, error) {
		done <- o.OrderID
		return "packed " + o.OrderID, nil
	})
	if _, err := recv.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return warehouse.Emit(ctx, e) }); err != nil {
		panic(err)
	}

	// sending process
	shop, _ := abxbus.New("Shop", nil)
	defer shop.Destroy(true)
	send, _ := unixsock.New(path, nil)
	defer send.Close()
	shop.OnType("*", send.Forward)
	abxbus.Emit(ctx, shop, OrderPlaced{OrderID: "o-42"})

	fmt.Println("warehouse received", <-done)
	// Output: warehouse received o-42
}

// Between Go processes, a persistent connection carries every event on one connection, and the
// listener acknowledges each one, so Emit returns once the listener queued the event (or refused it,
// with the reason). TS listeners do not speak it: use the default per-event mode with them.
func Example_persistent() {
	dir, _ := os.MkdirTemp("", "sock")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.sock")
	ctx := context.Background()

	recv, _ := unixsock.New(path, nil)
	defer recv.Close()
	got := make(chan string, 3)
	recv.On("OrderPlaced", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		p, _ := e.PayloadJSON()
		got <- string(p)
		return nil, nil
	})

	send, _ := unixsock.New(path, &unixsock.Options{Persistent: true})
	defer send.Close()
	for _, id := range []string{"o-1", "o-2", "o-3"} {
		if err := send.Emit(ctx, abxbus.NewEvent(OrderPlaced{OrderID: id}).Base()); err != nil {
			fmt.Println(err)
		}
	}
	for range 3 {
		fmt.Println(<-got)
	}
	// Output:
	// {"order_id":"o-1"}
	// {"order_id":"o-2"}
	// {"order_id":"o-3"}
}
