package unixsock

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inbound"
)

// Emit sends e's JSON, as it is now, as one frame to the send path. Per event (the default) it
// returns when the listener closed the connection after reading the frame; with Options.Persistent,
// when the listener acknowledged it (or, with NoAck, once it is written). It never listens. The wait
// is bounded by ctx and Options.Timeout. Errors name the path: no socket (ENOENT), no listener
// (ECONNREFUSED), a listener that closed early or refused the frame (persistent mode, with its
// reason), the deadline; an error matching bridges.ErrTooLarge for an event above MaxFrameBytes
// (nothing sent), bridges.ErrClosed after Close, or the event's encoding error.
func (br *Bridge) Emit(ctx context.Context, e *abxbus.BaseEvent) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("unixsock: send to %s: %w", br.sendPath, err)
	}
	br.mu.Lock()
	closed := br.closed
	br.mu.Unlock()
	if closed {
		return fmt.Errorf("unixsock: send to %s: %w", br.sendPath, bridges.ErrClosed)
	}
	frame, err := inbound.Encode(e, "unixsock: send to "+br.sendPath, br.opts.MaxFrameBytes)
	if err != nil {
		return err
	}
	frame = append(frame, '\n')
	ctx, cancel := br.bound(ctx)
	defer cancel()
	if br.opts.Persistent {
		return br.sendStream(ctx, frame)
	}
	if err := br.sendOnce(ctx, frame); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return fmt.Errorf("unixsock: send to %s: %w", br.sendPath, err)
	}
	return nil
}

// bound adds Options.Timeout to ctx unless ctx ends sooner.
func (br *Bridge) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= br.opts.Timeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, br.opts.Timeout)
}

// sendOnce is the TS exchange: connect, write the frame, shut down writing, wait for the listener to
// close. Before the frame it writes the askAck line: a Go listener then answers the frame before it
// closes, and once a listener on this path answered, a close without an answer is an error (the
// listener died after reading the frame, before handling it); a TS listener skips the line and
// answers nothing, and its close is the receipt.
func (br *Bridge) sendOnce(ctx context.Context, frame []byte) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", br.sendPath)
	if err != nil {
		return err
	}
	defer c.Close()
	uc := c.(*net.UnixConn)
	// ctx (which has a deadline, see bound) interrupts blocked I/O, so that the error is ctx's.
	stop := context.AfterFunc(ctx, func() { uc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := uc.Write(append([]byte(askAck+"\n"), frame...)); err != nil {
		return err
	}
	if err := uc.CloseWrite(); err != nil {
		return err
	}
	answer, err := io.ReadAll(io.LimitReader(uc, 64<<10))
	if err != nil {
		return fmt.Errorf("waiting for the listener to close the connection: %w", err)
	}
	switch a := string(answer); {
	case a == "+\n":
		br.goPeer.Store(true)
		return nil
	case strings.HasPrefix(a, "-"):
		br.goPeer.Store(true)
		return fmt.Errorf("the listener refused the frame: %s", strings.TrimSpace(a[1:]))
	case a != "":
		return fmt.Errorf("unexpected answer from the listener: %q", a)
	case br.goPeer.Swap(false): // a TS listener that took over costs this one error
		return errors.New("the listener closed the connection without confirming the frame (it may have stopped after reading it, before handling it)")
	}
	return nil
}

// stream is a persistent sending connection.
type stream struct {
	c   *net.UnixConn
	ack bool

	// wsem holds one token while a frame is written: one frame at a time, waiters queued in write
	// order. A channel, not a mutex, so that an Emit waiting for its turn gives up when its ctx ends.
	wsem    chan struct{}
	writing atomic.Uint64 // the sequence number of the write in progress, 0 when none
	seq     uint64        // under wsem

	mu      sync.Mutex
	waiters []chan error
	err     error // set once broken
}

// fail breaks the stream: the connection is closed and every waiting Emit gets err.
func (s *stream) fail(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	ws := s.waiters
	s.waiters = nil
	s.mu.Unlock()
	s.c.Close()
	for _, ch := range ws {
		ch <- err
	}
}

func (s *stream) broken() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// getStream returns the live persistent connection, connecting (with the handshake) when there is
// none or the last one broke.
// Connecting is one Emit at a time (br.connSem); an Emit waiting for its turn returns ctx's error
// when ctx ends first.
func (br *Bridge) getStream(ctx context.Context) (*stream, error) {
	select {
	case br.connSem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w waiting for another Emit connecting the persistent connection", ctx.Err())
	}
	defer func() { <-br.connSem }()
	br.smu.Lock()
	s := br.stream
	br.smu.Unlock()
	if s != nil && s.broken() == nil {
		return s, nil
	}
	br.mu.Lock()
	closed := br.closed
	br.mu.Unlock()
	if closed {
		return nil, bridges.ErrClosed
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", br.sendPath)
	if err != nil {
		return nil, err
	}
	uc := c.(*net.UnixConn)
	hello := helloAck
	if br.opts.NoAck {
		hello = helloNoAck
	}
	stop := context.AfterFunc(ctx, func() { uc.SetDeadline(time.Unix(1, 0)) })
	r := bufio.NewReader(uc)
	_, err = io.WriteString(uc, hello)
	var reply string
	if err == nil {
		reply, err = r.ReadString('\n')
	}
	stop()
	if err != nil || reply != helloOK {
		uc.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		if err == nil {
			err = fmt.Errorf("unexpected handshake answer %q", reply)
		}
		return nil, fmt.Errorf("the listener did not answer the persistent-connection handshake (a TS listener, or not an abxbus socket; use per-event mode for TS peers): %w", err)
	}
	uc.SetDeadline(time.Time{})
	s = &stream{c: uc, ack: !br.opts.NoAck, wsem: make(chan struct{}, 1)}
	// Close sets closed before it takes smu to fail the stream: either it sees this stream or this
	// sees closed, and wg.Add happens before Close's wg.Wait.
	br.smu.Lock()
	br.mu.Lock()
	closed = br.closed
	br.mu.Unlock()
	if closed {
		br.smu.Unlock()
		uc.Close()
		return nil, bridges.ErrClosed
	}
	br.stream = s
	br.wg.Add(1)
	br.smu.Unlock()
	go br.readAcks(s, r)
	return s, nil
}

// readAcks reads the listener's acknowledgements and hands each to the oldest waiting Emit; at the
// end of the connection every waiting Emit fails.
func (br *Bridge) readAcks(s *stream, r *bufio.Reader) {
	defer br.wg.Done()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if err == io.EOF {
				err = errors.New("the listener closed the connection before acknowledging the frame")
			}
			s.fail(fmt.Errorf("unixsock: send to %s: %w", br.sendPath, err))
			return
		}
		var res error
		switch {
		case line == "+\n":
		case strings.HasPrefix(line, "-"):
			res = fmt.Errorf("unixsock: send to %s: the listener refused the frame: %s", br.sendPath, strings.TrimSpace(line[1:]))
		default:
			s.fail(fmt.Errorf("unixsock: send to %s: unexpected line from the listener: %q", br.sendPath, line))
			return
		}
		s.mu.Lock()
		if len(s.waiters) == 0 {
			s.mu.Unlock()
			s.fail(fmt.Errorf("unixsock: send to %s: an acknowledgement with no frame waiting", br.sendPath))
			return
		}
		ch := s.waiters[0]
		s.waiters[0] = nil
		s.waiters = s.waiters[1:]
		s.mu.Unlock()
		ch <- res
	}
}

// sendStream writes frame on the persistent connection and waits for its acknowledgement.
func (br *Bridge) sendStream(ctx context.Context, frame []byte) error {
	wrap := func(err error) error {
		if strings.HasPrefix(err.Error(), "unixsock: ") {
			return err
		}
		return fmt.Errorf("unixsock: send to %s: %w", br.sendPath, err)
	}
	s, err := br.getStream(ctx)
	if err != nil {
		return wrap(err)
	}
	ch := make(chan error, 1)
	waited := func() error {
		// Nothing of this frame was written: the connection stays whole for the other Emits.
		return fmt.Errorf("unixsock: send to %s: %w waiting for another Emit writing on the persistent connection (nothing sent)", br.sendPath, ctx.Err())
	}
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return waited()
	}
	if ctx.Err() != nil { // both were ready: do not start a write that ctx would break at once
		<-s.wsem
		return waited()
	}
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		<-s.wsem
		return s.err
	}
	if s.ack {
		s.waiters = append(s.waiters, ch)
	}
	s.mu.Unlock()
	s.seq++
	seq := s.seq
	s.writing.Store(seq)
	// A write cut short by ctx leaves half a frame on the connection, so ctx ending during the write
	// breaks the stream (the listener skips the torn frame; other waiting Emits fail).
	stop := context.AfterFunc(ctx, func() {
		if s.writing.Load() == seq {
			s.fail(fmt.Errorf("unixsock: send to %s: %w while writing a frame", br.sendPath, ctx.Err()))
		}
	})
	_, werr := s.c.Write(frame)
	s.writing.Store(0)
	stop()
	<-s.wsem
	if werr != nil {
		if ctx.Err() != nil {
			werr = fmt.Errorf("%w (%v)", ctx.Err(), werr)
		}
		err := fmt.Errorf("unixsock: send to %s: %w", br.sendPath, werr)
		s.fail(err)
		if e := s.broken(); e != nil {
			return e
		}
		return err
	}
	if !s.ack {
		return nil
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return fmt.Errorf("unixsock: send to %s: %w waiting for the acknowledgement (the listener may still receive the event)", br.sendPath, ctx.Err())
	}
}
