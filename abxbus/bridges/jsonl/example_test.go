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

// A reader with a cursor file resumes where it stopped: events appended while it was not running are
// received when it starts again, and the ones it already handled are not.
func ExampleOptions_cursor() {
	dir, _ := os.MkdirTemp("", "jsonl-cursor")
	defer os.RemoveAll(dir)
	path, cursor := filepath.Join(dir, "events.jsonl"), filepath.Join(dir, "warehouse.cursor")
	ctx := context.Background()
	writer, _ := jsonl.New(path, nil)
	defer writer.Close()

	read := func(want int) {
		r, _ := jsonl.New(path, &jsonl.Options{Cursor: cursor, FromStart: true, PollInterval: 5 * time.Millisecond})
		defer r.Close()
		got := make(chan string)
		r.On("OrderPlaced", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			p, _ := e.PayloadJSON()
			got <- string(p)
			return nil, nil
		})
		for range want {
			fmt.Println("received", <-got)
		}
		r.Bus().WaitUntilIdle(ctx) // the last event's handling is over: Close keeps its position
	}
	writer.Emit(ctx, abxbus.NewEvent(OrderPlaced{OrderID: "o-1"}).Base())
	read(1) // the first run reads the file from its start (FromStart), then saves its position
	writer.Emit(ctx, abxbus.NewEvent(OrderPlaced{OrderID: "o-2"}).Base())
	writer.Emit(ctx, abxbus.NewEvent(OrderPlaced{OrderID: "o-3"}).Base())
	read(2) // written while no reader ran
	// Output:
	// received {"order_id":"o-1"}
	// received {"order_id":"o-2"}
	// received {"order_id":"o-3"}
}
