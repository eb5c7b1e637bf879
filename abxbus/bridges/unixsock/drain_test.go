package unixsock_test

import (
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
)

// Events the listener confirmed are handled before Close returns (bridges.Bridge's contract); Close
// used to destroy the bus at once and cancel them.
func TestCloseHandlesAcceptedEvents(t *testing.T) {
	path := sockPath(t)
	recv, err := unixsock.New(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Close() })
	bridgetesting.CheckCloseHandlesAccepted(t, recv, func() bridgetesting.Emitter {
		return newEmitter(t, path, &unixsock.Options{Persistent: true})
	})
}

// Past DrainTimeout, Close cancels what is left and says how many events it cut short.
func TestCloseDrainTimeout(t *testing.T) {
	path := sockPath(t)
	recv, err := unixsock.New(path, &unixsock.Options{DrainTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recv.Close() })
	bridgetesting.CheckCloseDrainTimeout(t, recv, func() bridgetesting.Emitter {
		return newEmitter(t, path, &unixsock.Options{Persistent: true})
	})
}
