package abxbus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

type Greet struct {
	abxbus.Returns[string]
	Name string `json:"name"`
}

type Child struct {
	abxbus.Returns[int]
	N int `json:"n"`
}

type Sibling struct {
	abxbus.Returns[string]
}

func TestSmokeCallAndQueueJump(t *testing.T) {
	ctx := context.Background()
	bus, err := abxbus.New("Smoke", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Destroy(true)
	var mu sync.Mutex
	var order []string
	rec := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	abxbus.On(bus, func(ctx context.Context, c Child) (int, error) { rec("child"); return c.N * 2, nil })
	abxbus.On(bus, func(ctx context.Context, s Sibling) (string, error) { rec("sibling"); return "s", nil })
	abxbus.On(bus, func(ctx context.Context, g Greet) (string, error) {
		rec("parent_start")
		if _, err := abxbus.Emit(ctx, bus, Sibling{}); err != nil {
			return "", err
		}
		n, err := abxbus.CallChild(ctx, Child{N: 21})
		if err != nil {
			return "", err
		}
		rec("parent_end")
		return fmt.Sprintf("hello %s %d", g.Name, n), nil
	})
	got, err := abxbus.Call(ctx, bus, Greet{Name: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if got != "hello bob 42" {
		t.Fatalf("got %q", got)
	}
	if err := bus.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"parent_start", "child", "parent_end", "sibling"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("order %v want %v", order, want)
	}
}
