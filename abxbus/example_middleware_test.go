package abxbus_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/typedbus/abxbus-go/abxbus"
)

// phaseTrace is a custom middleware: it implements the event and the result lifecycle hooks (and no
// other) and prints each change.
type phaseTrace struct {
	mu sync.Mutex // hooks of different events may run at the same time
}

func (m *phaseTrace) OnEventChange(b *abxbus.Bus, e *abxbus.BaseEvent, phase abxbus.EventStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Printf("event  %s %s\n", e.Type(), phase)
}

func (m *phaseTrace) OnEventResultChange(b *abxbus.Bus, e *abxbus.BaseEvent, r *abxbus.EventResult, phase abxbus.EventStatus) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if phase == abxbus.EventCompleted {
		// a failure is seen on the result during its completed phase
		fmt.Printf("result %s %s: %s %v\n", r.HandlerName(), phase, r.Status(), r.Err())
		return
	}
	fmt.Printf("result %s %s\n", r.HandlerName(), phase)
}

// A custom middleware implements only the hooks it needs; the bus calls them in order, synchronously,
// for every lifecycle change.
func ExampleMiddleware() {
	ctx := context.Background()
	bus, err := abxbus.New("Traced", &abxbus.Options{Middlewares: []abxbus.Middleware{&phaseTrace{}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, q GetQuote) (float64, error) {
		if q.Qty <= 0 {
			return 0, fmt.Errorf("qty must be positive")
		}
		return 9.5 * float64(q.Qty), nil
	}, abxbus.WithName("quote"))

	_, err = abxbus.Call(ctx, bus, GetQuote{SKU: "tea"})
	fmt.Println("Call:", err)
	// Output:
	// event  GetQuote pending
	// event  GetQuote started
	// result quote pending
	// result quote started
	// result quote completed: error qty must be positive
	// event  GetQuote completed
	// Call: qty must be positive
}

// requestIDKey is the context key a HandlerContextHook middleware sets.
type requestIDKey struct{}

// requestIDs derives every handler's context: handlers, and the children they emit through it, see
// the value.
type requestIDs struct{}

func (requestIDs) HandlerContext(ctx context.Context, b *abxbus.Bus, e *abxbus.BaseEvent, r *abxbus.EventResult) context.Context {
	if _, ok := ctx.Value(requestIDKey{}).(string); ok {
		return ctx // a child emitted through a derived context keeps its parent's value
	}
	return context.WithValue(ctx, requestIDKey{}, "req-"+e.Type())
}

func ExampleHandlerContextHook() {
	ctx := context.Background()
	bus, _ := abxbus.New("Ctx", &abxbus.Options{Middlewares: []abxbus.Middleware{requestIDs{}}})
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, o PlaceOrder) (string, error) {
		fmt.Println("order sees", ctx.Value(requestIDKey{}))
		ok, err := abxbus.CallChild(ctx, ReserveStock{Item: o.Item})
		return fmt.Sprint("reserved: ", ok), err
	})
	abxbus.On(bus, func(ctx context.Context, r ReserveStock) (bool, error) {
		fmt.Println("reserve sees", ctx.Value(requestIDKey{}))
		return true, nil
	})
	fmt.Println(abxbus.Call(ctx, bus, PlaceOrder{Item: "tea"}))
	// Output:
	// order sees req-PlaceOrder
	// reserve sees req-PlaceOrder
	// reserved: true <nil>
}
