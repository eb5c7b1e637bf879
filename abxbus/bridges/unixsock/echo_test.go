package unixsock_test

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
)

// echoed returns the frame of event seq with an event_path that already names label, as the
// listener's own event comes back through a bidirectional wiring.
func echoed(t *testing.T, seq int, label string) string {
	t.Helper()
	return bridgetesting.Echoed(t, seq, label) + "\n"
}

// A frame whose event_path names the listener's bus is confirmed without being delivered and does not
// take a queue slot: more than QueueSize of them used to stop the listener for good (the bus skips
// them, so they never complete), and with AckAfterHandled the first one blocked every later ack.
func TestEchoedFramesDoNotStopTheListener(t *testing.T) {
	t.Run("perEvent", func(t *testing.T) {
		path := sockPath(t)
		recv, c := newListener(t, path, &unixsock.Options{QueueSize: 2})
		for i := range 4 {
			rawSend(t, path, echoed(t, 100+i, recv.Bus().Label()))
		}
		ctx := t.Context()
		if err := newEmitter(t, path, &unixsock.Options{Timeout: 5 * time.Second}).Emit(ctx, ping(1)); err != nil {
			t.Fatal(err)
		}
		c.ExpectSeqs(t, 1)
	})
	t.Run("persistentAckAfterHandled", func(t *testing.T) {
		path := sockPath(t)
		recv, c := newListener(t, path, &unixsock.Options{QueueSize: 2, AckAfterHandled: true})
		conn, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		var b strings.Builder
		b.WriteString("#abxbus-stream/1 ack\n")
		for i := range 4 {
			b.WriteString(echoed(t, 100+i, recv.Bus().Label()))
		}
		b.WriteString(frameN(1) + "\n")
		io.WriteString(conn, b.String())
		r := bufio.NewReader(conn)
		for i, w := range []string{"#abxbus-stream/1 ok", "+", "+", "+", "+", "+"} {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("answer %d: %v", i, err)
			}
			if strings.TrimSpace(line) != w {
				t.Fatalf("answer %d: %q, want %q", i, line, w)
			}
		}
		c.ExpectSeqs(t, 1)
	})
}
