package httpbridge_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
)

// Events the listener answered 202 for are handled before Close returns (bridges.Bridge's contract);
// Close used to destroy the bus at once and cancel them.
func TestCloseHandlesAcceptedEvents(t *testing.T) {
	recv, err := httpbridge.New("", &httpbridge.Options{ListenOn: "http://127.0.0.1:0/abxbus_events"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Close() })
	var handled atomic.Int32
	if _, err := recv.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		select {
		case <-time.After(50 * time.Millisecond):
			handled.Add(1)
		case <-ctx.Done():
		}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	send := newEmitter(t, recv.ListenURL(), nil)
	for i := range 5 {
		if err := send.Emit(t.Context(), ping(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := recv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if n := handled.Load(); n != 5 {
		t.Fatalf("%d of 5 accepted events handled when Close returned", n)
	}
}

// Past DrainTimeout, Close cancels what is left and says how many events it cut short.
func TestCloseDrainTimeout(t *testing.T) {
	recv, err := httpbridge.New("", &httpbridge.Options{ListenOn: "http://127.0.0.1:0/abxbus_events", DrainTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Close() })
	if _, err := recv.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		<-ctx.Done()
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	send := newEmitter(t, recv.ListenURL(), nil)
	for i := range 3 {
		if err := send.Emit(t.Context(), ping(i)); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	err = recv.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if err == nil || !strings.Contains(err.Error(), "3 received event") {
		t.Fatalf("Close: %v, want an error naming 3 received events", err)
	}
}
