package httpbridge_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	"github.com/typedbus/abxbus-go/internal/tspeer"
)

// BenchmarkGoToGo: one emitter awaiting each Emit, one listener, an IPCPingEvent per event; latency
// is the listener handler's receipt minus the time just before Emit.
func BenchmarkGoToGo(b *testing.B) {
	for _, m := range []struct {
		name string
		opts httpbridge.Options
	}{{"ack-queued", httpbridge.Options{}}, {"ack-handled", httpbridge.Options{AckAfterHandled: true}}} {
		b.Run(m.name, func(b *testing.B) {
			lat := bridgetesting.NewLatencies(b.N)
			o := m.opts
			o.ListenOn = "http://127.0.0.1:0/abxbus_events"
			ln, err := httpbridge.New("", &o)
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			ln.On("*", lat.Handle)
			em := newEmitter(b, ln.ListenURL(), nil)
			lat.Run(b, em)
		})
	}
}

// BenchmarkGoToTS: the Go emitter (awaited) to the TS HTTPEventBridge listener; events/s counts until
// the TS listener received all of them. Run with -benchtime=2000x (the TS listener waits for exactly
// b.N events).
func BenchmarkGoToTS(b *testing.B) {
	tspeer.Require(b)
	url := "http://127.0.0.1:" + strconv.Itoa(freePort(b)) + "/abxbus_events"
	ctx := context.Background()
	wait := tsListener(b, ctx, "http-listen", url, b.N)
	em := newEmitter(b, url, nil)
	bridgetesting.EmitLoop(b, em, func() { wait() })
}

// BenchmarkTSToGo: the TS HTTPEventBridge emitter (each emit awaited) to a Go listener; latency is the
// Go handler's receipt minus the TS sent_at_ms stamp (one machine clock). Run with -benchtime=2000x.
func BenchmarkTSToGo(b *testing.B) {
	tspeer.Require(b)
	l := bridgetesting.NewTSLatencies(b.N)
	ln, err := httpbridge.New("", &httpbridge.Options{ListenOn: "http://127.0.0.1:0/abxbus_events"})
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ln.On("*", l.Handle)
	b.ResetTimer()
	rep := tsEmit(b, context.Background(), "http-emit", ln.ListenURL(), b.N, 0)
	<-l.All()
	b.StopTimer()
	if rep.OK != b.N {
		b.Fatalf("TS emitter: %+v", rep)
	}
	l.Report(b)
}
