package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Issue 10 item 4 (D13 revised): the generated CallX helper waits for every handler, like abxbus.Call:
// with a first handler returning a value and a second one failing a little later, the answer is always
// the error and the second handler has finished when the call returns.
func TestGeneratedCallWaitsForCompletion(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	failed := errors.New("second handler failed")
	for i := range 100 {
		bus, err := abxbus.New("GenCall", nil)
		if err != nil {
			t.Fatal(err)
		}
		var finished atomic.Bool
		if _, err := OnSignUp(bus, func(ctx context.Context, p SignUp) (AccountID, error) {
			return "acct", nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := OnSignUp(bus, func(ctx context.Context, p SignUp) (AccountID, error) {
			time.Sleep(200 * time.Microsecond)
			finished.Store(true)
			return "", failed
		}); err != nil {
			t.Fatal(err)
		}
		v, err := CallSignUp(ctx, bus, SignUp{Email: "a@b.c"})
		if !finished.Load() {
			t.Fatalf("run %d: CallSignUp returned (%q, %v) while the second handler was still running", i, v, err)
		}
		if !errors.Is(err, failed) || v != "" {
			t.Fatalf("run %d: CallSignUp = (%q, %v), want the second handler's error", i, v, err)
		}
		bus.Destroy(true)
	}
}
