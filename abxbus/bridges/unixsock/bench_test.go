package unixsock_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
	"github.com/typedbus/abxbus-go/internal/tspeer"
)

// BenchmarkGoToGo: one emitter awaiting each Emit, one listener, an IPCPingEvent per event; latency
// is the listener handler's receipt minus the time just before Emit.
func BenchmarkGoToGo(b *testing.B) {
	for _, m := range []struct {
		name string
		opts unixsock.Options
	}{
		{"per-event", unixsock.Options{}},
		{"persistent", unixsock.Options{Persistent: true}},
		{"persistent-noack", unixsock.Options{Persistent: true, NoAck: true}},
	} {
		b.Run(m.name, func(b *testing.B) {
			path := sockPath(b)
			lat := bridgetesting.NewLatencies(b.N)
			ln, err := unixsock.New(path, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			ln.On("*", lat.Handle)
			em := newEmitter(b, path, &m.opts)
			lat.Run(b, em)
		})
	}
}

// BenchmarkGoToTS: the Go emitter (per event, awaited) to the TS SocketEventBridge listener; events/s
// counts until the TS listener received all of them. Run with -benchtime=2000x (the TS listener waits
// for exactly b.N events).
func BenchmarkGoToTS(b *testing.B) {
	tspeer.Require(b)
	path := sockPath(b)
	ctx := context.Background()
	cmd := tspeer.Command(ctx, b, "netbridges.mjs", "socket-listen", path, strconv.Itoa(b.N), b.TempDir()+"/out.json")
	ready := startTS(b, cmd)
	<-ready
	em := newEmitter(b, path, nil)
	bridgetesting.EmitLoop(b, em, func() {
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkTSToGo: the TS SocketEventBridge emitter (each emit awaited) to a Go listener; latency is the
// Go handler's receipt minus the TS sent_at_ms stamp (one machine clock). Run with -benchtime=2000x.
func BenchmarkTSToGo(b *testing.B) {
	tspeer.Require(b)
	l := bridgetesting.NewTSLatencies(b.N)
	path := sockPath(b)
	ln, err := unixsock.New(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	ln.On("*", l.Handle)
	b.ResetTimer()
	rep := tsEmit(b, context.Background(), "socket-emit", path, b.N, 0)
	<-l.All()
	b.StopTimer()
	if rep.OK != b.N {
		b.Fatalf("TS emitter: %+v", rep)
	}
	l.Report(b)
}
