package httpbridge_test

import (
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
)

// Events the listener answered 202 for are handled before Close returns (bridges.Bridge's contract);
// Close used to destroy the bus at once and cancel them.
func TestCloseHandlesAcceptedEvents(t *testing.T) {
	recv, err := httpbridge.New("", &httpbridge.Options{ListenOn: "http://127.0.0.1:0/abxbus_events"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Close() })
	bridgetesting.CheckCloseHandlesAccepted(t, recv, func() bridgetesting.Emitter { return newEmitter(t, recv.ListenURL(), nil) })
}

// Past DrainTimeout, Close cancels what is left and says how many events it cut short.
func TestCloseDrainTimeout(t *testing.T) {
	recv, err := httpbridge.New("", &httpbridge.Options{ListenOn: "http://127.0.0.1:0/abxbus_events", DrainTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Close() })
	bridgetesting.CheckCloseDrainTimeout(t, recv, func() bridgetesting.Emitter { return newEmitter(t, recv.ListenURL(), nil) })
}
