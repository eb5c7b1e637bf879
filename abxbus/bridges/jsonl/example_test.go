package jsonl_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
)

type OrderPlaced struct {
	abxbus.Returns[string]
	OrderID string `json:"order_id"`
}

// Two processes (here two bridges in one) exchange events through a shared JSONL file. The sending side
// forwards everything its application bus emits; the receiving side re-emits what arrives on its own
// application bus, where ordinary typed handlers run.
func Example() {
	dir, _ := os.MkdirTemp("", "jsonl-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.jsonl")
	ctx := context.Background()

	// receiving process
	inbox, _ := abxbus.New("Warehouse", nil)
	defer inbox.Destroy(true)
	recv, _ := jsonl.New(path, &jsonl.Options{PollInterval: 10 * time.Millisecond})
	defer recv.Close()
	done := make(chan string, 1)
	abxbus.On(inbox, func(ctx context.Context, o OrderPlaced) (string, error) {
		done <- o.OrderID
		return "packed " + o.OrderID, nil
	})
	recv.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return inbox.Emit(ctx, e) })

	// sending process
	shop, _ := abxbus.New("Shop", nil)
	defer shop.Destroy(true)
	send, _ := jsonl.New(path, nil)
	defer send.Close()
	shop.OnType("*", send.Forward)
	abxbus.Emit(ctx, shop, OrderPlaced{OrderID: "o-42"})

	fmt.Println("warehouse received", <-done)
	// Output: warehouse received o-42
}
