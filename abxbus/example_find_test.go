package abxbus_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Screenshot is the event of the debouncing examples: taking one is expensive, so callers reuse a
// recent or in-flight one for the same URL.
type Screenshot struct {
	abxbus.Returns[string]
	URL string `json:"url"`
}

// UserCreated is the event of the forwarding example.
type UserCreated struct {
	abxbus.Returns[string]
	UserID string `json:"user_id"`
}

// Find searches the history newest first, filtered by type, fields and a predicate; with a Future
// window it waits for a matching event to be emitted (F164-F172).
func ExampleBus_Find() {
	ctx := context.Background()
	bus, _ := abxbus.New("ShopBus", nil)
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, o Order) (string, error) { return "ok:" + o.OrderID, nil })

	for _, id := range []string{"o1", "o2", "o3"} {
		abxbus.Emit(ctx, bus, Order{OrderID: id, Qty: len(id)})
	}
	bus.WaitUntilIdle(ctx)

	newest, _ := bus.Find(ctx, "Order", abxbus.FindOptions{})
	fmt.Println("newest:", newest.Payload().(Order).OrderID)

	o2, _ := bus.Find(ctx, "*", abxbus.FindOptions{Equals: map[string]any{"order_id": "o2", "event_status": "completed"}})
	fmt.Println("by field:", o2.Payload().(Order).OrderID)

	none, err := bus.Find(ctx, "Order", abxbus.FindOptions{Where: func(e *abxbus.BaseEvent) bool { return false }})
	fmt.Println("no match:", none, err)

	// A future lookup resolves when a matching event is emitted, before its handlers finish (F171). With
	// a past window too, an event emitted just before the lookup started is found in the history (F178).
	found := make(chan *abxbus.BaseEvent)
	go func() {
		e, _ := bus.Find(ctx, "Order", abxbus.FindOptions{
			Equals: map[string]any{"order_id": "o4"},
			Past:   abxbus.Within(time.Minute),
			Future: abxbus.Within(5 * time.Second),
		})
		found <- e
	}()
	abxbus.Emit(ctx, bus, Order{OrderID: "o4"})
	e := <-found
	v, _ := e.Result(ctx) // the accessor waits for the result (F177)
	fmt.Println("future:", v)
	// Output:
	// newest: o3
	// by field: o2
	// no match: <nil> <nil>
	// future: ok:o4
}

// Filter returns every match newest first, up to Limit (F175); FilterOf is its typed form.
func ExampleFilterOf() {
	ctx := context.Background()
	bus, _ := abxbus.New("ShopBus", nil)
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, o Order) (string, error) { return "ok", nil })
	for i := 1; i <= 5; i++ {
		abxbus.Emit(ctx, bus, Order{OrderID: fmt.Sprint("o", i), Qty: i})
	}
	bus.WaitUntilIdle(ctx)

	// Predicates on the typed payload follow the options; the type arguments are inferred from them.
	big, _ := abxbus.FilterOf(ctx, bus, abxbus.FindOptions{Limit: 3}, func(o Order) bool { return o.Qty >= 2 })
	for _, e := range big {
		p, _ := e.Payload()
		fmt.Println(p.OrderID, p.Qty)
	}
	// Output:
	// o5 5
	// o4 4
	// o3 3
}

// Find takes predicates on the typed payload, ANDed with each other and with the options: no type
// assertion on the untyped event. Without a predicate the payload type is given explicitly.
func ExampleFind() {
	ctx := context.Background()
	bus, _ := abxbus.New("ShopBus", nil)
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, o Order) (string, error) { return "ok:" + o.OrderID, nil })
	for i, id := range []string{"o1", "o2", "o3", "o4"} {
		abxbus.Emit(ctx, bus, Order{OrderID: id, Qty: i + 1})
	}
	bus.WaitUntilIdle(ctx)

	odd := func(o Order) bool { return o.Qty%2 == 1 }
	small := func(o Order) bool { return o.Qty < 3 }
	e, _ := abxbus.Find(ctx, bus, abxbus.FindOptions{}, odd, small) // *abxbus.Event[Order, string]
	p, _ := e.Payload()
	fmt.Println("odd and small:", p.OrderID)

	e, _ = abxbus.Find(ctx, bus, abxbus.FindOptions{Equals: map[string]any{"event_status": "completed"}}, odd)
	v, _ := e.Result(ctx)
	fmt.Println("newest odd:", v)

	e, _ = abxbus.Find[Order](ctx, bus, abxbus.FindOptions{})
	p, _ = e.Payload()
	fmt.Println("newest:", p.OrderID)
	// Output:
	// odd and small: o1
	// newest odd: ok:o3
	// newest: o4
}

// The recommended debouncing pattern (F180-F184): reuse a recent event for the same key, else join one
// that is being emitted right now, else emit; then wait for it. Each caller gets the same result and
// the expensive handler runs once per URL.
func ExampleFind_debounce() {
	ctx := context.Background()
	bus, _ := abxbus.New("BrowserBus", nil)
	defer bus.Destroy(true)
	var shots atomic.Int32
	abxbus.On(bus, func(ctx context.Context, s Screenshot) (string, error) {
		shots.Add(1)
		return "png:" + s.URL, nil
	})

	screenshot := func(url string) (string, error) {
		same := abxbus.FindOptions{Equals: map[string]any{"url": url}}
		recent := same
		recent.Past = abxbus.Within(15 * time.Second) // F180: fresh-enough history
		e, err := abxbus.Find[Screenshot](ctx, bus, recent)
		if err == nil && e == nil {
			joining := same
			joining.Past, joining.Future = abxbus.Never, abxbus.Within(50*time.Millisecond) // F181: in flight
			e, err = abxbus.Find[Screenshot](ctx, bus, joining)
		}
		if err == nil && e == nil {
			e, err = abxbus.Emit(ctx, bus, Screenshot{URL: url})
		}
		if err != nil {
			return "", err
		}
		return e.Result(ctx) // F184: wait for completion after selecting
	}

	for i := 0; i < 3; i++ {
		v, _ := screenshot("https://example.com")
		fmt.Println(v)
	}
	v, _ := screenshot("https://example.org")
	fmt.Println(v)
	fmt.Println("screenshots taken:", shots.Load())
	// Output:
	// png:https://example.com
	// png:https://example.com
	// png:https://example.com
	// png:https://example.org
	// screenshots taken: 2
}

// Forwarding is a handler that emits the same event on another bus (F195-F199): the event records every
// bus it visited, results from all of them aggregate on it, and it completes when every bus is done.
func ExampleBus_Emit_forwarding() {
	ctx := context.Background()
	auth, _ := abxbus.New("AuthBus", nil)
	billing, _ := abxbus.New("BillingBus", nil)
	defer auth.Destroy(true)
	defer billing.Destroy(true)

	abxbus.On(auth, func(ctx context.Context, u UserCreated) (string, error) { return "auth-ok:" + u.UserID, nil })
	auth.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return billing.Emit(ctx, e) // the forwarded event is not counted as a result
	})
	abxbus.On(billing, func(ctx context.Context, u UserCreated) (string, error) { return "billing-ok:" + u.UserID, nil })
	billing.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return auth.Emit(ctx, e) // a cycle back: skipped, AuthBus is already on the path (F197)
	})

	e, _ := abxbus.Emit(ctx, auth, UserCreated{UserID: "u1"})
	first, _ := e.Result(ctx)
	all, _ := e.Results(ctx)
	fmt.Println(first)
	fmt.Println(all)
	fmt.Println(len(e.Base().Path()), "buses on the path")
	// Output:
	// auth-ok:u1
	// [auth-ok:u1 billing-ok:u1]
	// 2 buses on the path
}

// With max_history_size=N and no dropping (the default), completed events make room for new ones and an
// emit is rejected only when all N retained events are still in flight (D1).
func ExampleHistoryFullError() {
	ctx := context.Background()
	bus, _ := abxbus.New("TinyBus", &abxbus.Options{MaxHistorySize: abxbus.Ptr(2), EventConcurrency: abxbus.Parallel})
	defer bus.Destroy(true)
	gate := make(chan struct{})
	abxbus.On(bus, func(ctx context.Context, o Order) (string, error) {
		if o.OrderID != "quick" {
			<-gate
		}
		return "ok", nil
	})

	quick, _ := abxbus.Emit(ctx, bus, Order{OrderID: "quick"})
	quick.Wait(ctx)
	abxbus.Emit(ctx, bus, Order{OrderID: "slow-1"}) // history full; the completed "quick" makes room
	abxbus.Emit(ctx, bus, Order{OrderID: "slow-2"})
	_, err := abxbus.Emit(ctx, bus, Order{OrderID: "slow-3"}) // both retained events are in flight
	fmt.Println(errors.Is(err, abxbus.ErrHistoryFull))
	close(gate)
	bus.WaitUntilIdle(ctx)
	_, err = abxbus.Emit(ctx, bus, Order{OrderID: "slow-3"})
	fmt.Println(err)
	bus.WaitUntilIdle(ctx)
	// Output:
	// true
	// <nil>
}

// LogTree shows what happened as a causality tree (F205): handlers under their event, children under
// the handler that emitted them, values and errors. Ids and times are masked here so the output is
// stable.
func ExampleBus_LogTree() {
	ctx := context.Background()
	bus, _ := abxbus.New("TreeDemo", nil)
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, p Parent) (string, error) {
		kid, err := abxbus.EmitChildOf(ctx, Kid{N: 21})
		if err != nil {
			return "", err
		}
		n, _ := kid.Result(ctx, abxbus.ResultOptions{IgnoreErrors: true}) // the first value; grumpy's error is in the tree
		return fmt.Sprint("kid said ", n), nil
	}, abxbus.WithName("on_parent"))
	abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) { return k.N * 2, nil }, abxbus.WithName("on_kid"))
	abxbus.On(bus, func(ctx context.Context, k Kid) (int, error) { return 0, errors.New("no") }, abxbus.WithName("grumpy"))

	abxbus.Call(ctx, bus, Parent{Name: "p"})
	mask := regexp.MustCompile(`#[0-9a-f]{4}\b|\d\d:\d\d:\d\d\.\d{3}|\d+\.\d{3}s`)
	fmt.Println(mask.ReplaceAllString(bus.LogTree(), "…"))
	// Output:
	// 📊 Event History Tree for TreeDemo…
	// ================================================================================
	// └── ✅ Parent… [… (…)]
	//     └── ✅ TreeDemo….on_parent… [… (…)] → "kid said 42"
	//         └── ✅ Kid… [… (…)]
	//             ├── ✅ TreeDemo….on_kid… [… (…)] → 42
	//             └── ❌ TreeDemo….grumpy… [… (…)] ☠️ Error: no
	// ================================================================================
}

// UpdateResult seeds or rehydrates a handler's result row (F160): create it pending, then complete it.
func ExampleBaseEvent_UpdateResult() {
	bus, _ := abxbus.New("SeedBus", nil)
	defer bus.Destroy(true)
	h, _ := bus.OnType("Order", func(context.Context, *abxbus.BaseEvent) (any, error) { return "live", nil },
		abxbus.WithName("restore"))
	e := abxbus.NewEvent(Order{OrderID: "o1"})

	row, _ := e.Base().UpdateResult(h, abxbus.ResultUpdate{Status: abxbus.ResultPending})
	fmt.Println(row.Status())
	row.Update(abxbus.ResultUpdate{Result: "seeded"})
	v, _ := row.Value()
	fmt.Println(row.Status(), v)
	_, err := row.Update(abxbus.ResultUpdate{Result: 42}) // not a string: recorded as a schema error
	fmt.Println(err, row.Status(), errors.Is(row.Err(), abxbus.ErrResultSchema))
	// Output:
	// pending
	// completed seeded
	// <nil> error true
}
