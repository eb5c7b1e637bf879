package jsonl

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Without a cursor, lines the follower already emitted on the inbound bus are handled before Close
// returns (bridges.Bridge's contract); Close used to destroy the bus at once and cancel them.
func TestCloseHandlesReceivedEvents(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	recv := newBridge(t, path, nil)
	var started, handled atomic.Int32
	if _, err := recv.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		started.Add(1)
		select {
		case <-time.After(50 * time.Millisecond):
			handled.Add(1)
		case <-ctx.Done():
		}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	send := newBridge(t, path, nil)
	for i := range 5 {
		if err := send.Emit(t.Context(), abxbus.NewEvent(Ping{N: i}).Base()); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for int(started.Load())+len(recv.Bus().PendingQueue()) < 5 {
		if time.Now().After(deadline) {
			t.Fatal("the follower did not emit the 5 lines")
		}
		time.Sleep(time.Millisecond)
	}
	if err := recv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := handled.Load(); n != 5 {
		t.Fatalf("%d of 5 received events handled when Close returned", n)
	}
}
