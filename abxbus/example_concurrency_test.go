package abxbus_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

type Lookup struct {
	abxbus.Returns[string]
	Key string `json:"key"`
}

// First-completion mode races handlers: the first non-nil result wins and the others are stopped
// (their contexts are cancelled). Reading the winner needs no special option (D12).
func ExampleCompleteFirst() {
	ctx := context.Background()
	bus, _ := abxbus.New("Race", &abxbus.Options{
		HandlerConcurrency: abxbus.HandlersParallel,
		Completion:         abxbus.CompleteFirst,
	})
	defer bus.Destroy(true)

	stopped := make(chan error, 1)
	abxbus.On(bus, func(ctx context.Context, l Lookup) (string, error) {
		<-ctx.Done() // a slow replica: interrupted when the cache wins
		stopped <- ctx.Err()
		return "", ctx.Err()
	}, abxbus.WithName("replica"))
	abxbus.On(bus, func(ctx context.Context, l Lookup) (string, error) {
		return "cached:" + l.Key, nil
	}, abxbus.WithName("cache"))

	v, err := abxbus.Call(ctx, bus, Lookup{Key: "k1"})
	fmt.Println(v, err)
	fmt.Println("replica stopped:", <-stopped)
	// Output:
	// cached:k1 <nil>
	// replica stopped: context canceled
}

// Timeouts at three levels: here a handler's own limit. The handler's context ends at the deadline; the
// result records an EventHandlerTimeoutError, and whatever the handler returns later is ignored.
func ExampleWithHandlerTimeout() {
	ctx := context.Background()
	bus, _ := abxbus.New("Slow", nil)
	defer bus.Destroy(true)

	abxbus.On(bus, func(ctx context.Context, l Lookup) (string, error) {
		select {
		case <-time.After(time.Second):
			return "too late", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}, abxbus.WithName("slow"), abxbus.WithHandlerTimeout(10*time.Millisecond))

	_, err := abxbus.Call(ctx, bus, Lookup{Key: "k"})
	var te *abxbus.EventHandlerTimeoutError
	fmt.Println(errors.As(err, &te), errors.Is(err, abxbus.ErrHandlerTimeout), te.Timeout)
	// Output:
	// true true 10ms
}

// Per-event options override the bus defaults for one event: here a parallel event that runs at once
// on an otherwise serial bus, and an event-level timeout.
func ExampleEmitWith() {
	ctx := context.Background()
	bus, _ := abxbus.New("Mixed", nil)
	defer bus.Destroy(true)

	release := make(chan struct{})
	abxbus.On(bus, func(ctx context.Context, l Lookup) (string, error) {
		if l.Key == "blocker" {
			<-release
		}
		return l.Key, nil
	})

	blocker, _ := abxbus.Emit(ctx, bus, Lookup{Key: "blocker"}) // occupies the serial bus
	urgent, _ := abxbus.EmitWith(ctx, bus, Lookup{Key: "urgent"}, abxbus.EventOptions{
		Concurrency: abxbus.Parallel,
		Timeout:     time.Second,
	})
	v, err := urgent.Result(ctx) // does not wait for the blocker
	fmt.Println(v, err)
	close(release)
	v, err = blocker.Result(ctx)
	fmt.Println(v, err)
	// Output:
	// urgent <nil>
	// blocker <nil>
}
