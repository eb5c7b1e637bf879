package nats_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"

	"github.com/typedbus/abxbus-go/abxbus"
	natsbridge "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
)

// The examples run against an embedded nats-server (with JetStream) so that they need nothing
// installed; in production the URL names your NATS servers.
func exampleServer() (url string, stop func()) {
	dir, err := os.MkdirTemp("", "abxbus-nats-example")
	if err != nil {
		panic(err)
	}
	s, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		panic("nats-server not ready")
	}
	return s.ClientURL(), func() { s.Shutdown(); s.WaitForShutdown(); os.RemoveAll(dir) }
}

var quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))

// OrderPlaced is an event of the examples.
type OrderPlaced struct {
	abxbus.Returns[abxbus.Void]
	ID string `json:"id"`
}

// Price is a call of the examples: its handler answers with a price in cents.
type Price struct {
	abxbus.Returns[int]
	SKU string `json:"sku"`
}

// Core mode: the TypeScript bridge's wire. Every listener on the subject receives every event
// published while it is subscribed.
func Example() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	reg := abxbus.NewRegistry()
	abxbus.Register[OrderPlaced](reg)

	listener, err := natsbridge.New(url, "abxbus_events", &natsbridge.Options{Registry: reg, Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer listener.Close()
	done := make(chan struct{})
	abxbus.OnNotify(listener.Bus(), func(ctx context.Context, o OrderPlaced) error {
		fmt.Println("received", o.ID)
		if o.ID == "o-3" {
			close(done)
		}
		return nil
	})
	listener.Start() // returns once the server has the subscription

	emitter, err := natsbridge.New(url, "abxbus_events", &natsbridge.Options{Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer emitter.Close()
	for _, id := range []string{"o-1", "o-2", "o-3"} {
		if err := emitter.Emit(ctx, abxbus.NewEvent(OrderPlaced{ID: id}).Base()); err != nil {
			panic(err)
		}
	}
	<-done
	// Output:
	// received o-1
	// received o-2
	// received o-3
}

// JetStream mode: events emitted while no worker runs are kept in the stream and delivered when a
// worker of the durable consumer starts; each is acknowledged after its handlers finished.
func Example_jetStream() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	opts := &natsbridge.Options{Mode: natsbridge.JetStream, Consumer: "billing", Logger: quiet}

	producer, err := natsbridge.New(url, "orders", opts)
	if err != nil {
		panic(err)
	}
	defer producer.Close()
	for _, id := range []string{"o-1", "o-2", "o-3"} {
		if err := producer.Emit(ctx, abxbus.NewEvent(OrderPlaced{ID: id}).Base()); err != nil {
			panic(err)
		}
	}

	worker, err := natsbridge.New(url, "orders", opts) // starts after the events were stored
	if err != nil {
		panic(err)
	}
	defer worker.Close()
	done := make(chan struct{})
	n := 0
	worker.On("OrderPlaced", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		p := e.Payload().(abxbus.JSONPayload)
		fmt.Println("billing", string(p["id"]))
		if n++; n == 3 {
			close(done)
		}
		return nil, nil
	})
	<-done
	// Output:
	// billing "o-1"
	// billing "o-2"
	// billing "o-3"
}

// Call runs a handler that lives in another process and returns its typed result; with two serving
// bridges, one answers each call.
func ExampleCall() {
	url, stop := exampleServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	server, err := natsbridge.New(url, "pricing", &natsbridge.Options{Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer server.Close()
	abxbus.On(server.Bus(), func(ctx context.Context, p Price) (int, error) {
		if p.SKU == "" {
			return 0, &abxbus.ServiceError{Code: "no_sku", Message: "no SKU given"}
		}
		return 1999, nil
	})
	server.Start()

	client, err := natsbridge.New(url, "pricing", &natsbridge.Options{Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer client.Close()
	cents, err := natsbridge.Call(ctx, client, Price{SKU: "tea"})
	fmt.Println(cents, err)
	_, err = natsbridge.Call(ctx, client, Price{})
	fmt.Println(err)
	// Output:
	// 1999 <nil>
	// pricing.Price: no SKU given
}
