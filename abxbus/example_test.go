package abxbus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/typedbus/abxbus-go/abxbus"
)

// GetQuote asks for a price; its handlers return a float64.
type GetQuote struct {
	abxbus.Returns[float64]
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Declare an event type, register a typed handler and call it request/response style.
func Example() {
	ctx := context.Background()
	bus, err := abxbus.New("Pricing", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bus.Destroy(true)

	_, err = abxbus.On(bus, func(ctx context.Context, q GetQuote) (float64, error) {
		if q.Qty <= 0 {
			return 0, fmt.Errorf("qty must be positive, got %d", q.Qty)
		}
		return 9.5 * float64(q.Qty), nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	price, err := abxbus.Call(ctx, bus, GetQuote{SKU: "tea", Qty: 2})
	fmt.Println(price, err)
	_, err = abxbus.Call(ctx, bus, GetQuote{SKU: "tea"})
	fmt.Println(err)
	// Output:
	// 19 <nil>
	// qty must be positive, got 0
}

type PlaceOrder struct {
	abxbus.Returns[string]
	Item string `json:"item"`
}

type ReserveStock struct {
	abxbus.Returns[bool]
	Item string `json:"item"`
}

type SendNewsletter struct {
	abxbus.Returns[string]
}

// A handler emits a child event and awaits it: the child queue-jumps ahead of an event that was emitted
// earlier, like a function call (F101, F102). The earlier event runs after the parent ends.
func ExampleCallChild() {
	ctx := context.Background()
	bus, _ := abxbus.New("Shop", nil)
	defer bus.Destroy(true)

	abxbus.On(bus, func(ctx context.Context, n SendNewsletter) (string, error) {
		fmt.Println("newsletter sent")
		return "sent", nil
	})
	abxbus.On(bus, func(ctx context.Context, r ReserveStock) (bool, error) {
		fmt.Println("reserving", r.Item)
		return true, nil
	})
	abxbus.On(bus, func(ctx context.Context, o PlaceOrder) (string, error) {
		fmt.Println("order started")
		abxbus.Emit(ctx, bus, SendNewsletter{}) // queued behind this order
		ok, err := abxbus.CallChild(ctx, ReserveStock{Item: o.Item})
		if err != nil || !ok {
			return "", fmt.Errorf("no stock for %s: %w", o.Item, err)
		}
		fmt.Println("order finished")
		return "order-1", nil
	})

	id, err := abxbus.Call(ctx, bus, PlaceOrder{Item: "kettle"})
	bus.WaitUntilIdle(ctx)
	fmt.Println(id, err)
	// Output:
	// order started
	// reserving kettle
	// order finished
	// newsletter sent
	// order-1 <nil>
}

// Events on a default bus run strictly in emit order, one at a time (F149), whatever order the callers
// wait in.
func ExampleEmit_fifo() {
	ctx := context.Background()
	bus, _ := abxbus.New("Fifo", nil)
	defer bus.Destroy(true)

	var order []int
	abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) {
		order = append(order, p.N) // serial handlers: no data race
		return p.N, nil
	})
	var events []*abxbus.Event[Ping, int]
	for i := 1; i <= 5; i++ {
		e, _ := abxbus.Emit(ctx, bus, Ping{N: i})
		events = append(events, e)
	}
	for i := len(events) - 1; i >= 0; i-- { // wait newest first: the order of processing is unchanged
		events[i].Wait(ctx)
	}
	fmt.Println(order)
	fmt.Println(!events[0].Base().CompletedAt().After(events[1].Base().StartedAt()))
	// Output:
	// [1 2 3 4 5]
	// true
}

// The result accessors: the first result, every result in handler registration order, and the error
// policy of F156 (handler errors are reported unless ignored; an empty result is an error only on
// request).
func ExampleEvent_Results() {
	ctx := context.Background()
	bus, _ := abxbus.New("Quotes", nil)
	defer bus.Destroy(true)

	abxbus.On(bus, func(ctx context.Context, q GetQuote) (float64, error) { return 10, nil }, abxbus.WithName("supplierA"))
	abxbus.On(bus, func(ctx context.Context, q GetQuote) (float64, error) { return 0, errors.New("supplier B is down") }, abxbus.WithName("supplierB"))
	abxbus.On(bus, func(ctx context.Context, q GetQuote) (float64, error) { return 12, nil }, abxbus.WithName("supplierC"))

	e, _ := abxbus.Emit(ctx, bus, GetQuote{SKU: "tea", Qty: 1})

	first, err := e.Result(ctx, abxbus.ResultOptions{IgnoreErrors: true})
	fmt.Println("first:", first, err)

	_, err = e.Results(ctx)
	fmt.Println("all:", err)

	all, err := e.Results(ctx, abxbus.ResultOptions{IgnoreErrors: true})
	fmt.Println("ignoring errors:", all, err)

	for _, r := range e.EventResults() {
		v, _ := r.Value()
		fmt.Println(r.HandlerName(), r.Status(), v)
	}

	none, _ := abxbus.New("Nobody", nil)
	defer none.Destroy(true)
	e2, _ := abxbus.Emit(ctx, none, GetQuote{})
	v, err := e2.Result(ctx)
	fmt.Println("no handlers:", v, err)
	_, err = e2.Result(ctx, abxbus.ResultOptions{RequireResult: true})
	fmt.Println("required:", errors.Is(err, abxbus.ErrNoResult), strings.Contains(err.Error(), "GetQuote"))
	// Output:
	// first: 10 <nil>
	// all: supplier B is down
	// ignoring errors: [10 12] <nil>
	// supplierA completed 10
	// supplierB error <nil>
	// supplierC completed 12
	// no handlers: 0 <nil>
	// required: true true
}
