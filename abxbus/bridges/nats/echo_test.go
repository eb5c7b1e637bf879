package nats_test

import (
	"context"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	natsbridge "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
)

// With the documented two-way wiring every received event is forwarded again and comes back to the
// bridge's own subscription; that echo names the bridge's bus in its path, so the bus skips it. The
// bridge must drop (core) or acknowledge (JetStream) it rather than wait for it: with QueueSize 4, 20
// echoes must not stall the listener, and Close must return promptly.
func TestOwnEchoesDoNotStall(t *testing.T) {
	for _, mode := range []natsbridge.Mode{natsbridge.Core, natsbridge.JetStream} {
		t.Run(mode.String(), func(t *testing.T) {
			srv := startNATS(t, mode == natsbridge.JetStream)
			ctx := ctxT(t, 60*time.Second)
			o := func(consumer string) *natsbridge.Options {
				return &natsbridge.Options{Mode: mode, Consumer: consumer, AckWait: 2 * time.Second, QueueSize: 4}
			}
			em := newBridge(t, srv.URL, "echo", o("emitter-unused"))
			br := newBridge(t, srv.URL, "echo", o("svc"))
			app, err := abxbus.New("App", nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { app.Destroy(true) })
			c := newCollector()
			abxbus.On(app, func(ctx context.Context, p Ping) (abxbus.Void, error) {
				c.Add(p.Seq)
				return abxbus.Void{}, nil
			})
			app.OnType("*", br.Forward) // the documented two-way wiring
			if _, err := br.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
				_, err := app.Emit(ctx, e)
				return nil, err
			}); err != nil {
				t.Fatal(err)
			}
			const echoed, n = 20, 30
			emitPings(t, ctx, em, 0, echoed)
			if got := c.WaitDistinct(echoed, 10*time.Second); len(distinct(got)) != echoed {
				t.Fatalf("%d of the %d echoed events arrived: %v", len(distinct(got)), echoed, got)
			}
			emitPings(t, ctx, em, echoed, n)
			got := c.WaitDistinct(n, 10*time.Second)
			if ct := tally(n, got); ct.Lost != 0 || ct.Duplicated != 0 {
				t.Fatalf("%+v (delivered %v)", ct, got)
			}
			start := time.Now()
			br.Close()
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("Close took %v", d)
			}
		})
	}
}
