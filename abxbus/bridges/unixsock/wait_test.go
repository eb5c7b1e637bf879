package unixsock_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
)

// stallingPeer is a raw listener for one persistent connection: with answer it answers the
// handshake, then reads nothing until read is closed; from then on it reads every frame, records it
// and acknowledges it.
type stallingPeer struct {
	frames chan string
	read   chan struct{}
	done   chan struct{}
}

func newStallingPeer(t *testing.T, path string, answer bool) *stallingPeer {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	p := &stallingPeer{frames: make(chan string, 16), read: make(chan struct{}), done: make(chan struct{})}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		defer close(p.done)
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := bufio.NewReaderSize(c, 1<<20)
				if _, err := r.ReadString('\n'); err != nil || !answer {
					return
				}
				if _, err := c.Write([]byte("#abxbus-stream/1 ok\n")); err != nil {
					return
				}
				<-p.read
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					p.frames <- line
					if _, err := c.Write([]byte("+\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		select {
		case <-p.read:
		default:
			close(p.read)
		}
		<-p.done
	})
	return p
}

// An Emit waiting for the persistent connection while another Emit holds it (writing to a peer that
// does not read, or connecting to a listener that does not answer the handshake) returns with its
// ctx's error once its ctx ends, naming the path, and writes nothing: the holder's frame arrives
// whole once the peer reads.
func TestEmitWaitingForConnectionHonorsCtx(t *testing.T) {
	big := abxbus.NewEvent(IPCPingEvent{Seq: 1, Blob: strings.Repeat("x", 3<<20)}).Base()
	for _, tc := range []struct {
		name   string
		answer bool
	}{{"writing", true}, {"handshake", false}} {
		t.Run(tc.name, func(t *testing.T) {
			path := sockPath(t)
			peer := newStallingPeer(t, path, tc.answer)
			em := newEmitter(t, path, &unixsock.Options{Persistent: true})
			holderCtx, cancelHolder := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancelHolder()
			holder := make(chan error, 1)
			go func() { holder <- em.Emit(holderCtx, big) }()
			time.Sleep(1500 * time.Millisecond) // the holder encoded its event and is writing (or connecting) by now
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := em.Emit(ctx, ping(2))
			took := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), path) || took > time.Second {
				t.Fatalf("Emit waiting behind a stalled Emit: %v after %v, want its ctx's deadline within 1s, naming %s", err, took, path)
			}
			if !tc.answer {
				cancelHolder()
				if err := <-holder; err == nil {
					t.Fatal("the holder's Emit to a listener that never answers the handshake succeeded")
				}
				return
			}
			close(peer.read)
			if err := <-holder; err != nil {
				t.Fatalf("the holder's Emit: %v", err)
			}
			select {
			case f := <-peer.frames:
				if len(f) < 3<<20 || !strings.Contains(f, `"seq":1`) {
					t.Fatalf("first frame on the wire: %d bytes, not the holder's", len(f))
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the holder's frame did not arrive")
			}
			if err := em.Emit(context.Background(), ping(3)); err != nil {
				t.Fatalf("Emit after the stall: %v", err)
			}
			if f := <-peer.frames; !strings.Contains(f, `"seq":3`) {
				t.Fatalf("second frame on the wire: %.200s, want seq 3 (seq 2 gave up before writing)", f)
			}
		})
	}
}

// An Emit whose ctx has already ended writes nothing on a free persistent connection either (the wait
// for the write token and ctx's end were both ready: the frame used to be written about half the time,
// and ctx's end then broke the connection under it).
func TestEmitEndedCtxWritesNothingOnStream(t *testing.T) {
	path := sockPath(t)
	peer := newStallingPeer(t, path, true)
	close(peer.read)
	em := newEmitter(t, path, &unixsock.Options{Persistent: true})
	if err := em.Emit(context.Background(), ping(1)); err != nil {
		t.Fatal(err)
	}
	if f := <-peer.frames; !strings.Contains(f, `"seq":1`) {
		t.Fatalf("first frame: %.200s", f)
	}
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 40 {
		if err := em.Emit(ended, ping(100+i)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Emit %d with an ended ctx: %v", i, err)
		}
	}
	if err := em.Emit(context.Background(), ping(2)); err != nil {
		t.Fatalf("Emit after the ended ones: %v", err)
	}
	select {
	case f := <-peer.frames:
		if !strings.Contains(f, `"seq":2`) {
			t.Fatalf("frame after the ended Emits: %.200s, want seq 2 (an Emit with an ended ctx wrote)", f)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("seq 2 did not arrive")
	}
}
