package unixsock_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
)

// The listener serves at most MaxConns connections at once: a further one waits (it is not read)
// until one of them ends.
func TestMaxConns(t *testing.T) {
	path := sockPath(t)
	_, c := newListener(t, path, &unixsock.Options{MaxConns: 2})
	var idle []net.Conn
	for range 2 {
		conn, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		idle = append(idle, conn)
	}
	time.Sleep(50 * time.Millisecond) // let the listener accept them
	third, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	io.WriteString(third, frameN(7)+"\n")
	third.(*net.UnixConn).CloseWrite()
	time.Sleep(300 * time.Millisecond)
	if got := c.Snapshot(); len(got) != 0 {
		t.Fatalf("a third connection was served while MaxConns (2) were open: received %v", got)
	}
	idle[0].Close()
	c.Wait(t, 1, 5*time.Second)
	if got := c.Snapshot(); got[0] != 7 {
		t.Fatalf("received %v, want [7]", got)
	}
}

// A frame waiting for a queue slot gives up after the connection's IdleTimeout and is refused, instead
// of holding the connection until Close.
func TestQueueSlotWaitIsBounded(t *testing.T) {
	path := sockPath(t)
	release := make(chan struct{})
	defer close(release)
	br, err := unixsock.New(path, &unixsock.Options{QueueSize: 1, IdleTimeout: 200 * time.Millisecond, DrainTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	if _, err := br.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	rawSend(t, path, frameN(1)+"\n") // takes the only slot and keeps it
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "#abxbus-ack/1\n"+frameN(2)+"\n")
	conn.(*net.UnixConn).CloseWrite()
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "-") {
		t.Fatalf("answer %q (%v), want a refusal once the slot wait timed out", line, err)
	}
}
