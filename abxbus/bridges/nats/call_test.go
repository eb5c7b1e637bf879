package nats_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	natsbridge "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
)

var errDeclined = &abxbus.ServiceError{Code: "declined"}

// A Go-to-Go call across processes by request/reply: the typed result, the remote error with its
// kind, no responders, the caller's deadline. One of two listeners answers each call.
func TestCallAcrossBridges(t *testing.T) {
	for _, mode := range []natsbridge.Mode{natsbridge.Core, natsbridge.JetStream} {
		t.Run(mode.String(), func(t *testing.T) {
			srv := startNATS(t, true)
			ctx := ctxT(t, 30*time.Second)
			o := func() *natsbridge.Options { return &natsbridge.Options{Mode: mode, Consumer: "calc"} }
			caller := newBridge(t, srv.URL, "calc", o())

			if _, err := natsbridge.Call(ctx, caller, Sum{A: 1, B: 2}); !errors.Is(err, natsbridge.ErrNoResponders) {
				t.Fatalf("call without a listener: %v, want ErrNoResponders", err)
			}

			// A plain subscriber of the subject: calls must not reach it, not even through the serving
			// side's forwarding. (A listening bridge would serve calls itself.)
			plain, err := caller.Conn().SubscribeSync("calc")
			if err != nil {
				t.Fatal(err)
			}
			var served [2]atomic.Int32
			for i := range 2 {
				srvBr := newBridge(t, srv.URL, "calc", o())
				app, _ := abxbus.New("App", nil)
				t.Cleanup(func() { app.Destroy(true) })
				app.OnType("*", srvBr.Forward) // the documented two-way wiring
				// the documented wiring: received events are emitted on the application bus
				if _, err := srvBr.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
					_, err := app.Emit(ctx, e)
					return nil, err
				}); err != nil {
					t.Fatal(err)
				}
				abxbus.On(app, func(ctx context.Context, p Sum) (int, error) {
					served[i].Add(1)
					switch {
					case p.A < 0:
						return 0, errDeclined
					case p.A == 1000:
						time.Sleep(300 * time.Millisecond)
					}
					return p.A + p.B, nil
				})
				abxbus.On(app, func(ctx context.Context, p Sum) (int, error) { return 0, nil }, abxbus.WithName("unused"))
			}

			for i := range 20 {
				got, err := natsbridge.Call(ctx, caller, Sum{A: i, B: 2})
				if err != nil || got != i+2 {
					t.Fatalf("Call(%d+2) = %d, %v", i, got, err)
				}
			}
			if a, b := served[0].Load(), served[1].Load(); a+b != 20 {
				t.Fatalf("served %d + %d calls, want 20 in all (one listener per call)", a, b)
			}
			if n, _, _ := plain.Pending(); n != 0 {
				t.Fatalf("a plain subscriber of the subject received %d call events", n)
			}
			_, err = natsbridge.Call(ctx, caller, Sum{A: -1})
			var se *abxbus.ServiceError
			if !errors.Is(err, errDeclined) || !errors.As(err, &se) {
				t.Fatalf("declined call: %v, want the remote *ServiceError with code declined", err)
			}
			t.Logf("remote error: %v", err)

			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			if _, err := natsbridge.Call(short, caller, Sum{A: 1000}); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("slow call: %v, want DeadlineExceeded", err)
			}
		})
	}
}

// A remote handler timeout comes back as a ServiceError matching abxbus.ErrHandlerTimeout.
func TestCallRemoteHandlerTimeout(t *testing.T) {
	srv := startNATS(t, false)
	ctx := ctxT(t, 30*time.Second)
	caller := newBridge(t, srv.URL, "slow", nil)
	server := newBridge(t, srv.URL, "slow", nil)
	if _, err := server.On("Sum", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}, abxbus.WithHandlerTimeout(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	_, err := natsbridge.Call(ctx, caller, Sum{A: 1})
	if !errors.Is(err, abxbus.ErrHandlerTimeout) {
		t.Fatalf("got %v, want a remote ErrHandlerTimeout", err)
	}
}
