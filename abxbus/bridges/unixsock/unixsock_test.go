package unixsock_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
)

const validFrame = `{"event_type":"RawEvent","seq":%d,"event_id":"01a202f1-32cf-7552-b3c8-1a509ea05cac","event_created_at":"2026-01-01T00:00:00.000000001Z"}`

func frameN(seq int) string { return strings.Replace(validFrame, "%d", itoa(seq), 1) }

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// rawSend writes data on a new connection, half-closes and waits for the listener to close; it
// returns how long the close took.
func rawSend(t *testing.T, path string, chunks ...string) time.Duration {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, ch := range chunks {
		if _, err := io.WriteString(c, ch); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	c.(*net.UnixConn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if err != nil || n != 0 {
		t.Fatalf("the listener wrote %d bytes or did not close the connection: %v", n, err)
	}
	return time.Since(start)
}

type refusals struct {
	mu  sync.Mutex
	got []*unixsock.FrameError
}

func (r *refusals) add(err error) {
	var fe *unixsock.FrameError
	errors.As(err, &fe)
	r.mu.Lock()
	r.got = append(r.got, fe)
	r.mu.Unlock()
}

func (r *refusals) list() []*unixsock.FrameError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*unixsock.FrameError(nil), r.got...)
}

// F247: the listener reads the frames TS sends, skips bad ones with a reason, and closes each
// connection at its end.
func TestListenerFramesAsTSSends(t *testing.T) {
	path := sockPath(t)
	var ref refusals
	_, c := newListener(t, path, &unixsock.Options{MaxFrameBytes: 1 << 10, OnError: ref.add})
	huge := `{"event_type":"RawEvent","pad":"` + strings.Repeat("x", 100<<10) + `"}`
	rawSend(t, path, frameN(0)+"\n")                                        // one frame, as TS sends it
	rawSend(t, path, frameN(1)+"\r\n", "\n  \n", frameN(2)+"\n", frameN(3)) // CRLF, blanks, several, last without newline
	rawSend(t, path, frameN(4)[:20], frameN(4)[20:]+"\n")                   // a frame split across writes
	rawSend(t, path, "not json\n", frameN(5)+"\n",                          // bad frames among good ones
		`{"event_type":"X","event_created_at":"2026-01-01T00:00:00+00:00"}`+"\n", frameN(6)+"\n",
		`"a string"`+"\n", huge+"\n", frameN(7)+"\n", `{"event_type":"X","event_bogus":1}`)
	rawSend(t, path, "{\"event_type\":\"RawEvent\",\"seq\":8,\"note\":\"→ ✓\"}\n")
	c.Wait(t, 9, 5*time.Second)
	got := c.Snapshot()
	for i, s := range got {
		if s != i {
			t.Fatalf("received %v, want 0..8 in order", got)
		}
	}
	note := c.Event(8)["note"]
	if note != "→ ✓" {
		t.Fatalf("multi-byte payload: %q", note)
	}
	rs := ref.list()
	if len(rs) != 5 {
		t.Fatalf("%d refusals, want 5: %v", len(rs), rs)
	}
	for _, r := range rs {
		if r == nil || r.Reason == "" || r.Path != path {
			t.Fatalf("refusal without a reason: %+v", r)
		}
	}
	if !errors.Is(rs[3], bridges.ErrTooLarge) || rs[3].Len <= 1<<10 {
		t.Fatalf("the overlong frame: %+v", rs[3])
	}
}

func TestEmitOnlyNeverBinds(t *testing.T) {
	path := sockPath(t)
	em := newEmitter(t, path, nil)
	err := em.Emit(context.Background(), ping(1))
	if !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Emit with no socket: %v", err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("an emit-only bridge created the socket: %v", err)
	}
	// A listener on the path: the emitter's events reach it, and the emitter still never binds.
	_, c := newListener(t, path, nil)
	for i := range 20 {
		if err := em.Emit(context.Background(), ping(i)); err != nil {
			t.Fatal(err)
		}
	}
	c.Wait(t, 20, 5*time.Second)
}

func TestSeparateSendPath(t *testing.T) {
	a, b := sockPath(t), sockPath(t)
	brA, cA := newListener(t, a, &unixsock.Options{SendTo: b})
	brB, cB := newListener(t, b, &unixsock.Options{SendTo: "unix://" + a})
	if err := brA.Emit(context.Background(), ping(1)); err != nil {
		t.Fatal(err)
	}
	if err := brB.Emit(context.Background(), ping(2)); err != nil {
		t.Fatal(err)
	}
	cA.Wait(t, 1, 5*time.Second)
	cB.Wait(t, 1, 5*time.Second)
	if cA.Snapshot()[0] != 2 || cB.Snapshot()[0] != 1 {
		t.Fatalf("A got %v, B got %v", cA.Snapshot(), cB.Snapshot())
	}
}

func TestStaleAndLiveSocketFiles(t *testing.T) {
	path := sockPath(t)
	// A stale socket: its listener is gone, the file stays.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if err := newEmitter(t, path, nil).Emit(context.Background(), ping(0)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Emit to a stale socket: %v", err)
	}
	br, c := newListener(t, path, nil)
	if err := newEmitter(t, path, nil).Emit(context.Background(), ping(1)); err != nil {
		t.Fatal(err)
	}
	c.Wait(t, 1, 5*time.Second)
	// A live listener: a second one refuses to take the path over.
	second, err := unixsock.New(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.Start(); !errors.Is(err, unixsock.ErrInUse) {
		t.Fatalf("second listener: %v, want ErrInUse", err)
	}
	// Close removes the file it created.
	br.Close()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Fatalf("socket file left after Close: %v", err)
	}
	// A regular file at the path is not removed.
	os.WriteFile(path, []byte("mine"), 0o644)
	third, _ := unixsock.New(path, nil)
	defer third.Close()
	if err := third.Start(); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("regular file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "mine" {
		t.Fatal("the regular file was touched")
	}
}

func TestEmitErrors(t *testing.T) {
	path := sockPath(t)
	_, c := newListener(t, path, nil)
	big := abxbus.NewEvent(IPCPingEvent{Seq: 1, Blob: strings.Repeat("b", 2000)}).Base()
	if err := newEmitter(t, path, &unixsock.Options{MaxFrameBytes: 1000}).Emit(context.Background(), big); !errors.Is(err, bridges.ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	em := newEmitter(t, path, nil)
	em.Close()
	if err := em.Emit(context.Background(), ping(1)); !errors.Is(err, bridges.ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
	if err := em.Start(); !errors.Is(err, bridges.ErrClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := newEmitter(t, path, nil).Emit(ctx, ping(1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	for _, p := range []string{"", "unix://", strings.Repeat("x", 200)} {
		if _, err := unixsock.New(p, nil); !errors.Is(err, abxbus.ErrInvalidOption) {
			t.Errorf("New(%q): %v", p, err)
		}
	}
	time.Sleep(20 * time.Millisecond)
	if n := len(c.Snapshot()); n != 0 {
		t.Fatalf("%d refused events delivered", n)
	}
}

func TestPersistentMode(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts unixsock.Options
	}{{"ack", unixsock.Options{Persistent: true}}, {"noack", unixsock.Options{Persistent: true, NoAck: true}}} {
		t.Run(mode.name, func(t *testing.T) {
			path := sockPath(t)
			_, c := newListener(t, path, nil)
			em := newEmitter(t, path, &mode.opts)
			const n = 500
			for i := range n {
				if err := em.Emit(context.Background(), ping(i)); err != nil {
					t.Fatal(err)
				}
			}
			c.Wait(t, n, 10*time.Second)
			for i, s := range c.Snapshot() {
				if s != i {
					t.Fatalf("out of order at %d: %d", i, s)
				}
			}
		})
	}
}

// Concurrent Emits share one persistent connection; every one is acknowledged.
func TestPersistentConcurrent(t *testing.T) {
	path := sockPath(t)
	_, c := newListener(t, path, nil)
	em := newEmitter(t, path, &unixsock.Options{Persistent: true})
	var wg sync.WaitGroup
	const workers, each = 8, 100
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := em.Emit(context.Background(), ping(w*each+i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	c.Wait(t, workers*each, 10*time.Second)
	seen := map[int]bool{}
	for _, s := range c.Snapshot() {
		if seen[s] {
			t.Fatalf("%d twice", s)
		}
		seen[s] = true
	}
}

// A raw persistent client: the handshake answer, "+" for good frames, "-reason" for bad ones, and
// the listener goes on.
func TestPersistentWireAcks(t *testing.T) {
	path := sockPath(t)
	_, c := newListener(t, path, &unixsock.Options{MaxFrameBytes: 1 << 10})
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "#abxbus-stream/1 ack\n"+frameN(0)+"\nnot json\n\n"+frameN(1)+"\n{\"pad\":\""+strings.Repeat("x", 5000)+"\"}\n"+frameN(2)+"\n")
	r := bufio.NewReader(conn)
	want := []string{"#abxbus-stream/1 ok", "+", "-", "+", "-", "+"}
	for i, w := range want {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		if !strings.HasPrefix(line, w) || (w == "-" && len(line) < 10) {
			t.Fatalf("answer %d: %q, want %q...", i, line, w)
		}
	}
	c.Wait(t, 3, 5*time.Second)
}

// A TS-style listener (one that never answers) makes a persistent Emit fail instead of hang.
func TestPersistentToSilentListener(t *testing.T) {
	path := sockPath(t)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	em := newEmitter(t, path, &unixsock.Options{Persistent: true, Timeout: 200 * time.Millisecond})
	err = em.Emit(context.Background(), ping(1))
	if err == nil || !strings.Contains(err.Error(), "handshake") {
		t.Fatalf("persistent Emit to a listener that does not answer: %v", err)
	}
	<-done
}

func TestStartIsIdempotentAndConcurrent(t *testing.T) {
	path := sockPath(t)
	br, err := unixsock.New(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	var wg sync.WaitGroup
	var fails atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if br.Start() != nil {
				fails.Add(1)
			}
		}()
	}
	wg.Wait()
	if fails.Load() != 0 {
		t.Fatalf("%d Starts failed", fails.Load())
	}
	c := newCollector()
	br.On("*", c.Handle)
	if err := newEmitter(t, path, nil).Emit(context.Background(), ping(1)); err != nil {
		t.Fatal(err)
	}
	c.Wait(t, 1, 5*time.Second)
	time.Sleep(30 * time.Millisecond)
	if n := len(c.Snapshot()); n != 1 {
		t.Fatalf("delivered %d times", n)
	}
}

func TestAckAfterHandled(t *testing.T) {
	for _, persistent := range []bool{false, true} {
		path := sockPath(t)
		br, err := unixsock.New(path, &unixsock.Options{AckAfterHandled: true})
		if err != nil {
			t.Fatal(err)
		}
		var handled atomic.Int64
		br.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			time.Sleep(20 * time.Millisecond)
			handled.Add(1)
			return nil, nil
		})
		em := newEmitter(t, path, &unixsock.Options{Persistent: persistent})
		for i := range 5 {
			if err := em.Emit(context.Background(), ping(i)); err != nil {
				t.Fatal(err)
			}
			if handled.Load() != int64(i+1) {
				t.Fatalf("persistent=%v: Emit %d returned before its handler finished", persistent, i)
			}
		}
		br.Close()
	}
}

// Close while an emitter is connected: the persistent emitter's next Emit reconnects to a new
// listener; events in flight get errors, none is reported delivered without being received.
func TestPersistentReconnects(t *testing.T) {
	path := sockPath(t)
	br, c := newListener(t, path, nil)
	em := newEmitter(t, path, &unixsock.Options{Persistent: true})
	if err := em.Emit(context.Background(), ping(0)); err != nil {
		t.Fatal(err)
	}
	c.Wait(t, 1, 5*time.Second)
	br.Close()
	var err error
	for range 3 { // the broken connection is noticed by the first Emit at the latest
		if err = em.Emit(context.Background(), ping(1)); err != nil {
			break
		}
	}
	if err == nil {
		t.Fatal("Emit to a closed listener succeeded")
	}
	_, c2 := newListener(t, path, nil)
	if err := em.Emit(context.Background(), ping(2)); err != nil {
		t.Fatal(err)
	}
	c2.Wait(t, 1, 5*time.Second)
}
