package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/typedbus/abxbus-go/abxbus"
	redisbridge "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
)

type OrderPlaced struct {
	abxbus.Returns[abxbus.Void]
	OrderID string `json:"order_id"`
}

// Pub/sub mode, the TypeScript bridge's wire: two processes (here two bridges in one) on one channel.
// The receiving side re-emits what arrives on its application bus; the sending side forwards what its
// application bus processes. A TypeScript RedisEventBridge on the same URL takes part the same way.
func Example() {
	url := redisURL() + "/0/orders" // redis://host:port/<db>/<channel>
	ctx := context.Background()

	// receiving process
	warehouse, _ := abxbus.New("Warehouse", nil)
	defer warehouse.Destroy(true)
	done := make(chan string, 1)
	abxbus.OnNotify(warehouse, func(ctx context.Context, o OrderPlaced) error {
		done <- o.OrderID
		return nil
	})
	recv, _ := redisbridge.New(url, nil)
	defer recv.Close()
	recv.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return warehouse.Emit(ctx, e) })
	// On has started the listener: its subscription is confirmed, so nothing published from now on is missed.

	// sending process
	shop, _ := abxbus.New("Shop", nil)
	defer shop.Destroy(true)
	send, _ := redisbridge.New(url, nil)
	defer send.Close()
	shop.OnType("*", send.Forward)
	abxbus.Emit(ctx, shop, OrderPlaced{OrderID: "o-42"})

	fmt.Println("warehouse received", <-done)
	// Output: warehouse received o-42
}

// Streams mode: events emitted while no worker runs wait in the stream; two workers of one group split
// them (each event to one worker, acknowledged once its handler returned), and the original event id
// is at hand for deduplication.
func Example_streams() {
	url := redisURL() + "/0/jobs"
	ctx := context.Background()
	producer, _ := redisbridge.New(url, &redisbridge.Options{Mode: redisbridge.ModeStreams})
	defer producer.Close()
	for i := range 6 {
		producer.Emit(ctx, abxbus.NewEvent(OrderPlaced{OrderID: fmt.Sprint("o-", i)}).Base())
	}

	var mu sync.Mutex
	var handled []string
	var wg sync.WaitGroup
	wg.Add(6)
	for _, name := range []string{"worker-1", "worker-2"} {
		w, _ := redisbridge.New(url, &redisbridge.Options{Mode: redisbridge.ModeStreams, Group: "packers", Consumer: name})
		defer w.Close()
		w.On("OrderPlaced", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			d, _ := redisbridge.DeliveryFrom(ctx) // d.EventID: the id it was emitted with; d.Deliveries: 1 the first time
			p, _ := e.PayloadJSON()
			mu.Lock()
			handled = append(handled, fmt.Sprintf("%s (delivery %d)", p, d.Deliveries))
			mu.Unlock()
			wg.Done()
			return nil, nil
		})
	}
	wg.Wait()
	sort.Strings(handled)
	for _, h := range handled {
		fmt.Println(h)
	}
	// Output:
	// {"order_id":"o-0"} (delivery 1)
	// {"order_id":"o-1"} (delivery 1)
	// {"order_id":"o-2"} (delivery 1)
	// {"order_id":"o-3"} (delivery 1)
	// {"order_id":"o-4"} (delivery 1)
	// {"order_id":"o-5"} (delivery 1)
}

type Quote struct {
	abxbus.Returns[int]
	Item string `json:"item"`
}

var ErrUnknownItem = &abxbus.ServiceError{Code: "unknown_item"}

// A call to a handler in another process: the server emits each request on its bus, the client gets
// the typed result, or the handler's error with its kind.
func ExampleCall() {
	ctx := context.Background()

	// server process
	prices, _ := abxbus.New("Prices", nil)
	defer prices.Destroy(true)
	abxbus.On(prices, func(ctx context.Context, q Quote) (int, error) {
		if q.Item != "tea" {
			return 0, ErrUnknownItem
		}
		return 3, nil
	})
	srv, _ := redisbridge.NewServer(redisURL(), prices, nil)
	srv.Start()
	defer srv.Close()

	// client process
	client, _ := redisbridge.NewClient(redisURL(), nil)
	defer client.Close()
	price, err := redisbridge.Call(ctx, client, Quote{Item: "tea"})
	fmt.Println(price, err)
	_, err = redisbridge.Call(ctx, client, Quote{Item: "coffee"})
	fmt.Println(errors.Is(err, ErrUnknownItem))
	// Output:
	// 3 <nil>
	// true
}
