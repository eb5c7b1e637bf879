package tests

import (
	"context"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Probe is declared in a test file: its helpers go to abxbus_gen_test.go. Its result type is the
// package's Order payload.
type Probe struct {
	abxbus.Returns[Order] `abxbus:"type=tests.probe"`
	Depth                 int `json:"depth"`
}

// TestGeneratedInTests drives the test file's helpers and the package's: a Probe handler answers with
// an Order it got from a linked child call.
func TestGeneratedInTests(t *testing.T) {
	bus, err := abxbus.New("TestsBus", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Destroy(true)
	if _, err := OnOrder(bus, func(ctx context.Context, o Order) (int, error) { return len(o.Item), nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := OnProbe(bus, func(ctx context.Context, p Probe) (Order, error) {
		e, err := AwaitOrderChild(ctx, Order{Item: "abc"})
		if err != nil {
			return Order{}, err
		}
		n, err := e.Result(ctx)
		return Order{Item: string(rune('0' + n))}, err
	}); err != nil {
		t.Fatal(err)
	}
	got, err := CallProbe(context.Background(), bus, Probe{Depth: 1})
	if err != nil || got.Item != "3" {
		t.Fatalf("CallProbe = %+v, %v", got, err)
	}
	if ts := testEventTypes(); len(ts) != 1 || ts[0] != ProbeEventType || ProbeEventType != "tests.probe" {
		t.Fatalf("testEventTypes() = %v", ts)
	}
	if ts := EventTypes(); len(ts) != 1 || ts[0] != OrderEventType {
		t.Fatalf("EventTypes() = %v", ts)
	}
}
