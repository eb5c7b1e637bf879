package nats

import (
	"context"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/internal/testservers"
)

type addCall struct {
	abxbus.Returns[int]
	A int `json:"a"`
}

// A call waiting for a slot when Close gives up draining the call subscription gets its slot while
// Close waits for the bridge's goroutines: it must be answered (served or refused), never start a
// goroutine behind Close's back (a WaitGroup Add concurrent with Wait).
func TestCloseWithCallWaitingForSlot(t *testing.T) {
	defer func(d time.Duration) { drainTimeout = d }(drainTimeout)
	drainTimeout = 100 * time.Millisecond
	srv := testservers.StartNATS(t, testservers.NATSOptions{})
	for i := range 5 {
		caller, err := New(srv.URL, "calc", nil)
		if err != nil {
			t.Fatal(err)
		}
		br, err := New(srv.URL, "calc", &Options{QueueSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		entered, release := make(chan struct{}, 1), make(chan struct{})
		if _, err := br.On("addCall", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			return 1, nil
		}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[j] = Call(ctx, caller, addCall{A: j})
			}()
			if j == 0 {
				<-entered // the only slot is taken
			}
		}
		time.Sleep(100 * time.Millisecond) // the second call waits for the slot
		closed := make(chan struct{})
		go func() { br.Close(); close(closed) }()
		time.Sleep(3 * drainTimeout) // Close gave up draining the call subscription
		close(release)
		<-closed
		wg.Wait()
		timedOut := ctx.Err() != nil
		cancel()
		caller.Close()
		if errs[0] != nil {
			t.Fatalf("run %d: the call being served: %v", i, errs[0])
		}
		if timedOut {
			t.Fatalf("run %d: the waiting call was not answered: %v", i, errs[1])
		}
		t.Logf("run %d: waiting call: %v", i, errs[1])
	}
}

// OnError runs on the call subscription's goroutine when a call request is refused (no reply subject,
// not an event): a Close called from it must not wait for that very callback.
func TestCloseFromOnErrorOfRefusedCall(t *testing.T) {
	defer func(d time.Duration) { drainTimeout = d }(drainTimeout)
	drainTimeout = 100 * time.Millisecond
	srv := testservers.StartNATS(t, testservers.NATSOptions{})
	for _, request := range []struct {
		name  string
		reply bool
		data  string
	}{
		{"without a reply subject", false, `{"event_type":"addCall","a":1}`},
		{"not an event", true, `{"event_type":`},
	} {
		var br *Bridge
		closed := make(chan struct{})
		var once sync.Once
		br, err := New(srv.URL, "calc", &Options{OnError: func(error) {
			once.Do(func() { br.Close(); close(closed) })
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := br.On("addCall", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
		peer, err := natsgo.Connect(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		msg := &natsgo.Msg{Subject: "calc.call", Data: []byte(request.data)}
		if request.reply {
			msg.Reply = natsgo.NewInbox()
		}
		if err := peer.PublishMsg(msg); err != nil {
			t.Fatal(err)
		}
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("a request %s: Close called from OnError did not return", request.name)
		}
		peer.Close()
	}
}
