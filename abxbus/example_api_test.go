package abxbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/typedbus/abxbus-go/abxbus"
)

// SessionStarted is a notification: it announces something and expects no answer.
type SessionStarted struct {
	abxbus.Returns[abxbus.Void]
	UserID string `json:"user_id"`
}

// A notification's handlers return only an error; Call waits for all of them and returns (Void{}, nil)
// when they succeeded, also when nobody subscribes.
func ExampleOnNotify() {
	ctx := context.Background()
	bus, _ := abxbus.New("SessionBus", nil)
	defer bus.Destroy(true)

	_, err := abxbus.Call(ctx, bus, SessionStarted{UserID: "u1"})
	fmt.Println("no subscriber:", err)

	abxbus.OnNotify(bus, func(ctx context.Context, s SessionStarted) error {
		fmt.Printf("audit %q\n", s.UserID)
		return nil
	})
	errNoUser := errors.New("no user")
	abxbus.OnNotify(bus, func(ctx context.Context, s SessionStarted) error {
		if s.UserID == "" {
			return errNoUser
		}
		return nil
	})
	_, err = abxbus.Call(ctx, bus, SessionStarted{UserID: "u2"})
	fmt.Println("subscribers:", err)
	_, err = abxbus.Call(ctx, bus, SessionStarted{})
	fmt.Println("a failing subscriber:", errors.Is(err, errNoUser))
	// Output:
	// no subscriber: <nil>
	// audit "u2"
	// subscribers: <nil>
	// audit ""
	// a failing subscriber: true
}

// Typed events encode with encoding/json as abxbus event JSON and decode back into their payload type;
// they print as their label and log as a short group.
func ExampleEvent_UnmarshalJSON() {
	ev := abxbus.NewEvent(Order{OrderID: "o1", Qty: 2})
	raw, _ := json.Marshal(struct {
		Event *abxbus.Event[Order, string] `json:"event"`
	}{ev})

	var back struct {
		Event *abxbus.Event[Order, string] `json:"event"`
	}
	if err := json.Unmarshal(raw, &back); err != nil {
		fmt.Println(err)
		return
	}
	p, _ := back.Event.Payload()
	fmt.Println(p.OrderID, p.Qty, back.Event.ID() == ev.ID(), back.Event.String() == ev.String())

	var wrong *abxbus.Event[Shipment, string]
	fmt.Println(json.Unmarshal(raw[len(`{"event":`):len(raw)-1], &wrong) != nil)

	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == "id" {
			return slog.Attr{} // keep the output stable
		}
		return a
	}}))
	logger.Info("decoded", "event", back.Event)
	// Output:
	// o1 2 true true
	// true
	// level=INFO msg=decoded event.type=Order event.status=pending
}
