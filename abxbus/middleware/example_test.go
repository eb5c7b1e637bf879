package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/middleware"
)

type Charge struct {
	abxbus.Returns[string]
	Card string `json:"card"`
}

// AutoError turns each handler failure into a `<Type>ErrorEvent` on the same bus: failures travel
// where events travel (bridges, other runtimes).
func ExampleAutoError() {
	ctx := context.Background()
	bus, _ := abxbus.New("Payments", &abxbus.Options{Middlewares: []abxbus.Middleware{middleware.AutoError{}}})
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, c Charge) (string, error) {
		return "", errors.New("card " + c.Card + " declined")
	})
	bus.OnType("ChargeErrorEvent", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		var p middleware.ErrorPayload
		raw, _ := e.PayloadJSON()
		_ = json.Unmarshal(raw, &p)
		fmt.Printf("%s: %s (%s)\n", e.Type(), p.Error.Message, p.ErrorType)
		return nil, nil
	})
	abxbus.Call(ctx, bus, Charge{Card: "4242"})
	bus.WaitUntilIdle(ctx)
	// Output:
	// ChargeErrorEvent: card 4242 declined (Error)
}

// AutoReturn publishes each handler's return value as a `<Type>ResultEvent` {data}.
func ExampleAutoReturn() {
	ctx := context.Background()
	bus, _ := abxbus.New("Payments", &abxbus.Options{Middlewares: []abxbus.Middleware{middleware.AutoReturn{}}})
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, c Charge) (string, error) { return "receipt-" + c.Card, nil })
	bus.OnType("ChargeResultEvent", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		raw, _ := e.PayloadJSON()
		fmt.Printf("%s %s\n", e.Type(), raw)
		return nil, nil
	})
	abxbus.Call(ctx, bus, Charge{Card: "4242"})
	bus.WaitUntilIdle(ctx)
	// Output:
	// ChargeResultEvent {"data":"receipt-4242"}
}

// AutoHandlerChange announces registrations and removals with the handler's record.
func ExampleAutoHandlerChange() {
	ctx := context.Background()
	bus, _ := abxbus.New("Topology", &abxbus.Options{Middlewares: []abxbus.Middleware{middleware.AutoHandlerChange{}}})
	defer bus.Destroy(true)
	show := func(kind string, rec json.RawMessage) {
		var h struct {
			Name    string `json:"handler_name"`
			Pattern string `json:"event_pattern"`
		}
		_ = json.Unmarshal(rec, &h)
		fmt.Println(kind, h.Name, "for", h.Pattern)
	}
	abxbus.OnNotify(bus, func(ctx context.Context, p middleware.BusHandlerUnregisteredEvent) error {
		show("unregistered", p.Handler)
		return nil
	}, abxbus.WithName("audit"))
	h, _ := abxbus.On(bus, func(ctx context.Context, c Charge) (string, error) { return "", nil }, abxbus.WithName("charge"))
	bus.Off(h)
	bus.WaitUntilIdle(ctx)
	// Output:
	// unregistered charge for Charge
}

// Logger writes one log/slog record per completed event with its metadata (never its payload).
func ExampleLogger() {
	ctx := context.Background()
	keep := map[string]bool{slog.MessageKey: true, "event_type": true, "event_status": true, "event_version": true}
	out := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if !keep[a.Key] { // leave out the times, ids and labels, which differ on every run
			return slog.Attr{}
		}
		return a
	}}))
	lg, _ := middleware.NewLogger(&middleware.LoggerOptions{Logger: out})
	bus, _ := abxbus.New("Logged", &abxbus.Options{Middlewares: []abxbus.Middleware{lg}})
	defer bus.Destroy(true)
	abxbus.On(bus, func(ctx context.Context, c Charge) (string, error) { return "ok", nil })
	abxbus.Call(ctx, bus, Charge{Card: "secret"})
	// Output:
	// msg="event completed" event_type=Charge event_version=0.0.1 event_status=completed
}

// A WAL appends each completed event to a JSONL file; Replay re-emits them into a bus later, here a
// fresh one after a restart.
func ExampleWAL() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "wal-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "state", "events.jsonl")

	wal, err := middleware.OpenWAL(path, &middleware.WALOptions{Sync: middleware.SyncEveryLine})
	if err != nil {
		fmt.Println(err)
		return
	}
	bus, _ := abxbus.New("Payments", &abxbus.Options{Middlewares: []abxbus.Middleware{wal}})
	abxbus.On(bus, func(ctx context.Context, c Charge) (string, error) { return "receipt-" + c.Card, nil })
	for _, card := range []string{"1111", "2222"} {
		abxbus.Call(ctx, bus, Charge{Card: card})
	}
	bus.Destroy(true)
	wal.Close()

	data, _ := os.ReadFile(path)
	fmt.Println("lines:", bytes.Count(data, []byte("\n")))

	again, _ := abxbus.New("Restarted", nil)
	defer again.Destroy(true)
	abxbus.On(again, func(ctx context.Context, c Charge) (string, error) {
		fmt.Println("replayed charge", c.Card)
		return "", nil
	})
	st, err := middleware.Replay(ctx, again, bytes.NewReader(data), &middleware.ReplayOptions{Types: []string{"Charge"}})
	again.WaitUntilIdle(ctx)
	fmt.Println(st.Emitted, err)
	// Output:
	// lines: 2
	// replayed charge 1111
	// replayed charge 2222
	// 2 <nil>
}

// ReadWAL reads every complete line of a WAL; a last line torn by a crash is reported, not fatal.
func ExampleReadWAL() {
	line, _ := abxbus.NewEvent(Charge{Card: "1111"}).Base().ToJSON()
	wal := append(append(line, '\n'), `{"event_type":"Charge","ca`...) // the writer died mid-line
	err := middleware.ReadWAL(bytes.NewReader(wal), nil, func(en middleware.WALEntry) error {
		fmt.Println("line", en.Line, en.Event.Type())
		return nil
	})
	fmt.Println(errors.Is(err, middleware.ErrTornLine))
	// Output:
	// line 1 Charge
	// true
}
