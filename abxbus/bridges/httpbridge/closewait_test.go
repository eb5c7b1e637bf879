package httpbridge_test

import (
	"fmt"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
)

// A request whose body never finishes holds its handler past the server's shutdown grace; Close
// then closes the connection and returns only once that handler returned: no OnError (or any other
// work of the handler) after Close returned.
func TestCloseWaitsForStuckRequest(t *testing.T) {
	var closeReturned, lateCalls, inCall atomic.Int32
	br, err := httpbridge.New("", &httpbridge.Options{ListenOn: "http://127.0.0.1:0/abxbus_events",
		OnError: func(err error) {
			inCall.Add(1)
			defer inCall.Add(-1)
			time.Sleep(300 * time.Millisecond) // the application's reporting takes a moment
			if closeReturned.Load() != 0 {
				lateCalls.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	if err := br.Start(); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(br.ListenURL())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Headers and half of the body; the rest never comes.
	if _, err := fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"event_type\":", u.Path, u.Host); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the handler is reading the body
	start := time.Now()
	cerr := br.Close()
	closeReturned.Store(1)
	running := inCall.Load()
	took := time.Since(start)
	time.Sleep(time.Second) // a handler still running would report by now
	if running != 0 || lateCalls.Load() != 0 {
		t.Fatalf("Close returned after %v (err %v) with the stuck request's handler still running: OnError in progress %d, called after Close %d",
			took, cerr, running, lateCalls.Load())
	}
	if cerr != nil {
		t.Fatalf("Close: %v", cerr)
	}
}
