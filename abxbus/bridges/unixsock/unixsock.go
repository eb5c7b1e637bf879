// Package unixsock is the Unix socket bridge of abxbus: processes on one machine exchange events as
// newline-delimited event JSON frames over a Unix stream socket. The frames and the connection
// pattern are those of the TypeScript and Python SocketEventBridge, so Go and TS processes send events
// to each other in both directions.
//
// # Wire
//
// By default Emit opens one connection per event, writes the compact event JSON and a newline, shuts
// down its writing half and waits until the listener closes the connection: the listener reads to
// the end, emits what it read on its inbound bus, then closes. That close is a TS emitter's receipt.
// The listener accepts what TS sends: several frames per connection, "\r\n", blank lines, a last
// frame without its newline; and it closes each connection at its end, which a TS emitter waits for.
//
// A Go emitter puts the line "#abxbus-ack/1" before its frame. A TS listener skips it (it is not
// JSON); a Go listener answers the frame before closing, "+" (queued, or handled with its
// Options.AckAfterHandled) or "-<reason>" (refused), so a Go emitter learns of a refused frame, and,
// once a listener on the path has answered, a close without an answer (the listener died after
// reading the frame) is an Emit error rather than a silent loss. A close without an answer from a
// listener that never answered is success, as with TS (a TS listener that replaces a Go one at the
// same path costs one such error).
//
// Sending and listening are separate: a bridge binds its path only when started (Start or On), never
// for Emit, and Options.SendTo points Emit elsewhere. A TS SocketEventBridge uses one path for both,
// and a TS emitter that starts takes the listener's path over; two processes talking both ways use two
// paths.
//
// # Persistent connections
//
// With Options.Persistent (Go to Go) an emitter keeps one connection and writes every frame on it.
// The connection opens with a handshake line that is not JSON ("#abxbus-stream/1 ack" or
// "#abxbus-stream/1 noack"), which a TS listener skips as a malformed line; a Go listener answers
// "#abxbus-stream/1 ok" and then acknowledges every frame with a line "+" (queued) or "-<reason>"
// (refused), in frame order. Emit returns when its frame was acknowledged, or with the listener's
// reason. An emitter that gets no handshake answer (a TS listener) fails Emit with an error instead of
// sending. With Options.NoAck, Emit returns once its frame is written: faster, but frames written
// just before the listener dies are lost without an error. A broken connection fails the Emits
// waiting for their acknowledgement; the next Emit connects again. TS emitters never send the
// handshake, so they always get the per-event behaviour.
//
// # Faults
//
// A bad frame (not JSON, not a valid event, above Options.MaxFrameBytes) is skipped with its reason,
// logged and passed to Options.OnError, and the listener goes on with the next frame (a TS listener
// process exits on a frame that is JSON but not a valid event). A frame above the limit is skipped
// without being buffered. Emit refuses such an event before sending. Every Emit is bounded by its ctx
// and Options.Timeout, also against a listener that never reads. Start removes a stale socket file
// (no listener answers on it), refuses a path where a listener answers or which is not a socket, and
// Close removes the socket file it created. A frame whose event_path already names the inbound bus
// (its own event sent back) is confirmed ("+") without being emitted again.
package unixsock

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inbound"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inflight"
)

// Defaults of Options.
const (
	// DefaultMaxConns is how many connections a listener serves at once.
	DefaultMaxConns = 256
	// DefaultDrainTimeout is how long Close waits for received events to be handled.
	DefaultDrainTimeout = inflight.DefaultDrainTimeout
	// DefaultMaxFrameBytes is the largest event JSON sent or accepted (4 MiB).
	DefaultMaxFrameBytes = 4 << 20
	// DefaultQueueSize is how many received events may be queued or running on the inbound bus.
	DefaultQueueSize = 1024
	// MaxPathBytes is the longest socket path the bridge accepts (the sun_path limit of Linux, without
	// its terminating NUL). TS peers accept 90 bytes at most.
	MaxPathBytes = 107
)

const (
	helloPrefix = "#abxbus-stream/1 "
	helloAck    = helloPrefix + "ack\n"
	helloNoAck  = helloPrefix + "noack\n"
	helloOK     = helloPrefix + "ok\n"
	// askAck opens a per-event connection from a Go emitter: a Go listener answers every frame of
	// the connection ("+" or "-<reason>") before it closes; a TS listener skips the line.
	askAck = "#abxbus-ack/1"
)

// Options configure a Bridge. The zero value (or nil) gives the defaults.
type Options struct {
	// Name is the inbound bus name (default "SocketEventBridge"); its label joins event_path.
	Name string
	// SendTo is the socket path (or unix:// address) Emit connects to; empty: the bridge's own path.
	SendTo string
	// Registry decodes known event types into their Go payload types (nil: untyped events).
	Registry *abxbus.Registry
	// Logger receives refused frames and connection problems (default slog.Default()).
	Logger *slog.Logger
	// OnError, when set, is also called with every refused frame (a *FrameError), from the
	// connection's goroutine; calls for different connections may be concurrent.
	OnError func(err error)
	// BusOptions are extra options of the inbound bus (timeouts, lock domain); its history size is 0.
	BusOptions *abxbus.Options
	// MaxFrameBytes is the largest event JSON: Emit refuses a larger event with an error matching
	// bridges.ErrTooLarge without sending it, and the listener skips a larger frame without buffering
	// it (default DefaultMaxFrameBytes).
	MaxFrameBytes int
	// QueueSize is how many received events may be queued or running on the inbound bus at once;
	// when that many are, the listener stops reading (and emitters wait) until the oldest completes
	// (default DefaultQueueSize). A frame waits for a slot at most IdleTimeout (per-event connection)
	// or Timeout (persistent connection); then it is refused.
	QueueSize int
	// Persistent makes Emit keep one connection to a Go listener and acknowledge every frame (see the
	// package documentation). A TS listener does not answer the handshake: Emit fails.
	Persistent bool
	// NoAck, with Persistent, makes Emit return once the frame is written, without waiting for the
	// listener's acknowledgement.
	NoAck bool
	// Timeout bounds one Emit when its ctx has no earlier deadline, including the wait for a listener
	// that does not read (default 30 s).
	Timeout time.Duration
	// AckAfterHandled makes the listener confirm a frame only when the event's handlers on the
	// inbound bus (and on the buses it reaches from there while they run) finished: per event, it
	// closes the connection then (a TS emitter's emit resolves then too); on a persistent connection it
	// acknowledges then. A nil Emit then means the receiver handled the event. Handler errors still
	// confirm: results never cross a bridge.
	AckAfterHandled bool
	// IdleTimeout closes a per-event connection on which nothing arrived for this long (default
	// 30 s). Persistent connections have no idle limit.
	IdleTimeout time.Duration
	// MaxConns is how many connections the listener serves at once (default DefaultMaxConns); beyond
	// that it stops accepting until one ends, so further emitters wait (bounded by their Timeout).
	MaxConns int
	// DrainTimeout bounds how long Close waits, once the listener stopped accepting, for the events
	// it already received to be handled (default DefaultDrainTimeout, 10 s; negative: no wait). Past
	// it, Close cancels what is left and returns an error saying how many events were cut short.
	DrainTimeout time.Duration
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Name == "" {
		r.Name = "SocketEventBridge"
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.MaxFrameBytes <= 0 {
		r.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if r.QueueSize <= 0 {
		r.QueueSize = DefaultQueueSize
	}
	if r.Timeout <= 0 {
		r.Timeout = 30 * time.Second
	}
	if r.IdleTimeout <= 0 {
		r.IdleTimeout = 30 * time.Second
	}
	if r.MaxConns <= 0 {
		r.MaxConns = DefaultMaxConns
	}
	if r.DrainTimeout == 0 {
		r.DrainTimeout = DefaultDrainTimeout
	}
	return r
}

// Bridge is one process's end of a Unix socket bridge. Its methods are safe for concurrent use.
type Bridge struct {
	path     string // listen path
	sendPath string
	opts     Options
	bus      *abxbus.Bus
	in       *inbound.Inbound // owns bus and the queue window

	stop       context.Context // cancelled by Close
	stopCancel context.CancelFunc
	wg         sync.WaitGroup // accept loop, connection handlers, stream readers

	mu      sync.Mutex
	started bool
	closed  bool
	ln      *net.UnixListener
	lnFile  os.FileInfo // the socket file created by Start, removed by Close if still the same
	conns   map[net.Conn]struct{}
	slots   chan struct{} // one per connection being served, at most MaxConns

	connSem chan struct{} // one token while an Emit connects the persistent stream
	smu     sync.Mutex    // the persistent stream pointer (held briefly, never across I/O)
	stream  *stream

	goPeer atomic.Bool // a listener on sendPath answered a per-event frame: it is an abxbus Go listener
}

var registerErr error

func init() {
	if err := bridges.Register("unix", open); err != nil {
		registerErr = err
	}
}

// open is the bridges.Opener of unix:// addresses: unix:///path.sock, with ?persistent=1 for a
// persistent connection and ?noack=1 for no acknowledgements. OpenOptions.Listen is not needed:
// the bridge listens when started.
func open(_ context.Context, u *url.URL, o bridges.OpenOptions) (bridges.Bridge, error) {
	opts := &Options{Name: o.Name, Logger: o.Logger, BusOptions: o.BusOptions}
	q := u.Query()
	for key, dst := range map[string]*bool{"persistent": &opts.Persistent, "noack": &opts.NoAck} {
		if v := q.Get(key); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%w: unixsock: address %s: %s=%q is not a boolean", abxbus.ErrInvalidOption, u, key, v)
			}
			*dst = b
		}
	}
	return New(u.Host+u.Path, opts)
}

// New creates a bridge on the socket path (a file path, or a unix:// address). It neither connects
// nor listens: Start and On listen on path, Emit connects to Options.SendTo (default path). Errors
// (matching abxbus.ErrInvalidOption): an empty path, a path longer than MaxPathBytes, invalid bus
// options.
func New(path string, opts *Options) (*Bridge, error) {
	if registerErr != nil {
		return nil, fmt.Errorf("unixsock: %w", registerErr)
	}
	o := opts.withDefaults()
	p, err := cleanPath(path)
	if err != nil {
		return nil, err
	}
	sp := p
	if o.SendTo != "" {
		if sp, err = cleanPath(o.SendTo); err != nil {
			return nil, err
		}
	}
	in, err := inbound.New(inbound.Options{Name: o.Name, BusOptions: o.BusOptions, Logger: o.Logger, Registry: o.Registry, QueueSize: o.QueueSize})
	if err != nil {
		return nil, fmt.Errorf("unixsock: %w", err)
	}
	br := &Bridge{path: p, sendPath: sp, opts: o, bus: in.Bus(), in: in, conns: map[net.Conn]struct{}{}, slots: make(chan struct{}, o.MaxConns), connSem: make(chan struct{}, 1)}
	br.stop, br.stopCancel = context.WithCancel(context.Background())
	return br, nil
}

func cleanPath(p string) (string, error) {
	p = strings.TrimPrefix(p, "unix://")
	if p == "" {
		return "", fmt.Errorf("%w: unixsock: empty socket path", abxbus.ErrInvalidOption)
	}
	if len(p) > MaxPathBytes {
		return "", fmt.Errorf("%w: unixsock: socket path %q is %d bytes, the limit is %d (TS peers: 90)", abxbus.ErrInvalidOption, p, len(p), MaxPathBytes)
	}
	return p, nil
}

// Path returns the path the bridge listens on.
func (br *Bridge) Path() string { return br.path }

// SendPath returns the path Emit connects to.
func (br *Bridge) SendPath() string { return br.sendPath }

// Bus returns the inbound bus: register handlers on it (or use On) to receive events.
func (br *Bridge) Bus() *abxbus.Bus { return br.bus }

// Features reports point-to-point, ordered delivery for an emitter that awaits each Emit (and for a
// persistent connection), with no durability, and the frame limit.
func (br *Bridge) Features() bridges.Features {
	return bridges.Features{Ordered: true, MaxMessageBytes: br.opts.MaxFrameBytes}
}

// On registers a handler for received events of eventType ("*" for all) on the inbound bus and
// starts listening.
func (br *Bridge) On(eventType string, fn abxbus.HandlerFunc, opts ...abxbus.HandlerOption) (*abxbus.Handler, error) {
	return br.in.On(eventType, fn, opts, br.Start)
}

// Forward is a HandlerFunc that sends every event it is given: wire an application bus to the bridge
// with bus.OnType("*", br.Forward). It returns no value, so it never counts as a result.
func (br *Bridge) Forward(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
	return nil, br.Emit(ctx, e)
}

// ErrInUse is matched by the error of Start when a listener already answers on the path.
var ErrInUse = errors.New("socket path in use by a live listener")

// Start listens on the path: it returns once the socket is bound, so emitters may connect at once.
// A socket file on which no listener answers is removed first; a path where a listener answers
// (ErrInUse) or which is not a socket is refused. Calling it again does nothing; after Close it
// returns an error matching bridges.ErrClosed.
func (br *Bridge) Start() error {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.closed {
		return fmt.Errorf("unixsock %s: %w", br.path, bridges.ErrClosed)
	}
	if br.started {
		return nil
	}
	if fi, err := os.Lstat(br.path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("unixsock: listen on %s: the path exists and is not a socket (not removing it)", br.path)
		}
		c, derr := net.DialTimeout("unix", br.path, time.Second)
		switch {
		case derr == nil:
			c.Close()
			return fmt.Errorf("unixsock: listen on %s: %w", br.path, ErrInUse)
		case errors.Is(derr, syscall.ECONNREFUSED):
			if err := os.Remove(br.path); err != nil && !os.IsNotExist(err) {
				return fmt.Errorf("unixsock: removing the stale socket %s: %w", br.path, err)
			}
			br.opts.Logger.Info("[abxbus] socket bridge: removed a stale socket file", "path", br.path)
		default:
			return fmt.Errorf("unixsock: listen on %s: probing the existing socket: %w", br.path, derr)
		}
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: br.path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("unixsock: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	br.lnFile, _ = os.Lstat(br.path)
	br.ln, br.started = ln, true
	br.wg.Add(1)
	go br.acceptLoop(ln)
	return nil
}

func (br *Bridge) acceptLoop(ln *net.UnixListener) {
	defer br.wg.Done()
	for {
		select { // at most MaxConns connections: further emitters wait in the backlog
		case br.slots <- struct{}{}:
		case <-br.stop.Done():
			return
		}
		c, err := ln.AcceptUnix()
		if err != nil {
			<-br.slots
			if br.stop.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			br.opts.Logger.Error("[abxbus] socket bridge: accept failed", "path", br.path, "error", err)
			select { // EMFILE and the like: wait a little instead of spinning
			case <-time.After(50 * time.Millisecond):
			case <-br.stop.Done():
				return
			}
			continue
		}
		br.mu.Lock()
		if br.closed {
			br.mu.Unlock()
			c.Close()
			<-br.slots
			return
		}
		br.conns[c] = struct{}{}
		br.wg.Add(1)
		br.mu.Unlock()
		go br.serveConn(c)
	}
}

// Close stops listening, closes every connection (an emitter waiting on one gets an error), stops a
// persistent sending connection (Emits waiting for their acknowledgement fail), waits for the
// bridge's goroutines, removes the socket file it created, waits up to Options.DrainTimeout for the
// events already read to be handled, and destroys the inbound bus (cancelling what is left). Its error
// says how many events the drain timeout cut short. It is safe to call more than once (later calls
// return nil); Emit and Start fail afterwards.
func (br *Bridge) Close() error {
	br.mu.Lock()
	if br.closed {
		br.mu.Unlock()
		return nil
	}
	br.closed = true
	br.stopCancel() // before the connections close: their handlers then know it is Close
	ln := br.ln
	for c := range br.conns {
		c.Close()
	}
	br.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	br.smu.Lock()
	if br.stream != nil {
		br.stream.fail(fmt.Errorf("unixsock: send to %s: %w", br.sendPath, bridges.ErrClosed))
	}
	br.smu.Unlock()
	br.wg.Wait()
	if ln != nil && br.lnFile != nil {
		if fi, err := os.Lstat(br.path); err == nil && os.SameFile(fi, br.lnFile) {
			os.Remove(br.path)
		}
	}
	return br.in.Close(br.opts.DrainTimeout, func(n int) error {
		br.opts.Logger.Warn("[abxbus] socket bridge: received events cut short by Close", "unfinished", n, "drain_timeout", br.opts.DrainTimeout, "path", br.path)
		return fmt.Errorf("unixsock %s: Close: %d received event(s) not handled within the drain timeout of %v were cancelled", br.path, n, br.opts.DrainTimeout)
	})
}

// FrameError describes a frame the listener refused: why, how long it was, and on which socket. It
// is logged and passed to Options.OnError.
type FrameError struct {
	Path   string
	Len    int // bytes of the frame, newline not counted (at least MaxFrameBytes+1 for an overlong one)
	Reason string
	Err    error // the decoding error, if that was the reason
}

func (e *FrameError) Error() string {
	return fmt.Sprintf("unixsock %s: refused a frame of %d bytes: %s", e.Path, e.Len, e.Reason)
}

func (e *FrameError) Unwrap() error { return e.Err }

func (br *Bridge) report(fe *FrameError) {
	br.opts.Logger.Warn("[abxbus] socket bridge: skipping a frame", "path", fe.Path, "bytes", fe.Len, "reason", fe.Reason)
	if br.opts.OnError != nil {
		br.opts.OnError(fe)
	}
}

// serveConn reads one connection: per-event frames until its end (then closes it), or, after a
// handshake, a persistent stream of frames with acknowledgements.
func (br *Bridge) serveConn(c *net.UnixConn) {
	defer br.wg.Done()
	defer func() {
		c.Close()
		br.mu.Lock()
		delete(br.conns, c)
		br.mu.Unlock()
		<-br.slots
	}()
	r := bufio.NewReaderSize(c, 64<<10)
	var acks chan ack // persistent with acknowledgements: to the ack writer
	var ackDone chan struct{}
	defer func() {
		if acks != nil {
			close(acks)
			<-ackDone
		}
	}()
	var pending []ack // per-event mode: waited for (AckAfterHandled) before closing, and answered (askAck)
	persistent, answer := false, false
	var buf []byte
	for first := true; ; first = false {
		if !persistent {
			c.SetReadDeadline(time.Now().Add(br.opts.IdleTimeout))
		}
		line, n, err := readFrame(r, br.opts.MaxFrameBytes, buf[:0])
		buf = line
		if first && bytes.HasPrefix(line, []byte(helloPrefix)) && err == nil {
			mode := string(bytes.TrimSpace(line[len(helloPrefix):]))
			if mode != "ack" && mode != "noack" {
				br.report(&FrameError{Path: br.path, Len: n, Reason: fmt.Sprintf("unknown stream mode %q", mode)})
				return
			}
			persistent = true
			c.SetReadDeadline(time.Time{})
			c.SetWriteDeadline(time.Now().Add(br.opts.Timeout))
			if _, err := io.WriteString(c, helloOK); err != nil {
				return
			}
			if mode == "ack" {
				acks, ackDone = make(chan ack, 256), make(chan struct{})
				go br.writeAcks(c, acks, ackDone)
			}
			continue
		}
		if first && string(line) == askAck {
			answer = true
			continue
		}
		if n > 0 {
			wait := br.opts.IdleTimeout // the bound of a queue slot wait: the connection's timeout
			if persistent {
				wait = br.opts.Timeout
			}
			ev, ferr := br.frame(line, n, wait)
			switch {
			case acks != nil:
				select {
				case acks <- ack{ev, ferr}:
				case <-br.stop.Done():
					return
				}
			case !persistent && (answer || (ev != nil && br.opts.AckAfterHandled)):
				pending = append(pending, ack{ev, ferr})
			}
		}
		if err != nil {
			if err != io.EOF && br.stop.Err() == nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					br.opts.Logger.Warn("[abxbus] socket bridge: closing an idle connection", "path", br.path, "idle", br.opts.IdleTimeout)
				} else {
					br.opts.Logger.Warn("[abxbus] socket bridge: connection error", "path", br.path, "error", err)
				}
			}
			if err == io.EOF {
				br.confirm(c, pending, answer)
			}
			return
		}
	}
}

// confirm ends a per-event connection at its end: it waits for the events to be handled
// (AckAfterHandled) and, when the emitter asked for it, answers each frame; closing the connection
// (the caller) is the receipt a TS emitter waits for.
func (br *Bridge) confirm(c *net.UnixConn, pending []ack, answer bool) {
	var b strings.Builder
	for _, a := range pending {
		if a.err != nil {
			b.WriteString("-" + strings.ReplaceAll(a.err.Error(), "\n", " ") + "\n")
			continue
		}
		if br.opts.AckAfterHandled && a.ev != nil {
			select {
			case <-a.ev.Done():
			case <-br.stop.Done():
				return
			}
		}
		b.WriteString("+\n")
	}
	if answer {
		c.SetWriteDeadline(time.Now().Add(br.opts.Timeout))
		io.WriteString(c, b.String())
	}
}

// ack is the outcome of one frame of a persistent connection: the emitted event, or the refusal.
type ack struct {
	ev  *abxbus.BaseEvent
	err error
}

// writeAcks answers the frames of a persistent connection in order: "+" once an event is queued (or,
// with AckAfterHandled, handled), "-<reason>" for a refused frame. It flushes when no answer is
// waiting, so a burst of frames costs few writes.
func (br *Bridge) writeAcks(c *net.UnixConn, acks <-chan ack, done chan<- struct{}) {
	defer close(done)
	w := bufio.NewWriter(c)
	broken := false
	for a := range acks {
		if broken {
			continue // drain: the reader stops soon (the connection is closed)
		}
		if a.err != nil {
			w.WriteString("-" + strings.ReplaceAll(a.err.Error(), "\n", " ") + "\n")
		} else {
			if br.opts.AckAfterHandled && a.ev != nil {
				if len(acks) == 0 && w.Flush() != nil {
					broken = true
					c.Close()
					continue
				}
				select {
				case <-a.ev.Done():
				case <-br.stop.Done():
					broken = true
					continue
				}
			}
			w.WriteString("+\n")
		}
		if len(acks) == 0 {
			c.SetWriteDeadline(time.Now().Add(br.opts.Timeout))
			if w.Flush() != nil {
				broken = true
				c.Close()
			}
		}
	}
}

// frame decodes one frame (n bytes; line is nil when it was too long), resets the event and emits it
// on the inbound bus. The returned error was reported. An echoed event (its event_path names the
// inbound bus) is not emitted: nil, nil. It waits for a queue slot for up to wait, then refuses the
// frame.
func (br *Bridge) frame(line []byte, n int, wait time.Duration) (*abxbus.BaseEvent, error) {
	if line == nil {
		fe := &FrameError{Path: br.path, Len: n, Reason: fmt.Sprintf("frame above the limit of %d bytes", br.opts.MaxFrameBytes), Err: bridges.ErrTooLarge}
		br.report(fe)
		return nil, fe
	}
	in, ev, err := br.in.Decode(line)
	if err != nil {
		fe := &FrameError{Path: br.path, Len: n, Reason: err.Error(), Err: err}
		br.report(fe)
		return nil, fe
	}
	if br.in.Echo(ev) {
		// This bus's own event sent back (bidirectional wiring): the bus would skip it, so it would
		// never complete and would hold a queue slot (and, with AckAfterHandled, every later ack) for
		// good. It was handled here already: confirm it without emitting.
		br.opts.Logger.Debug("[abxbus] socket bridge: echoed event, not delivered again", "path", br.path, "event_id", in.EventID())
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(br.stop, wait)
	defer cancel()
	got, err := br.in.Emit(ctx, ev)
	if err != nil {
		reason := "not queued: " + err.Error()
		if br.stop.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			reason = fmt.Sprintf("not queued: no queue slot free within %v (QueueSize %d)", wait, br.opts.QueueSize)
		}
		fe := &FrameError{Path: br.path, Len: n, Reason: reason, Err: err}
		br.report(fe)
		return nil, fe
	}
	return got, nil
}

// readFrame reads up to the next newline or the end of the stream and returns the frame trimmed of
// surrounding white space (appended to buf), its length n before trimming, and the read error (io.EOF
// at the end; a frame may come with it). A frame longer than max bytes is discarded up to its newline
// and returned as nil with n = its length so far (more than max). n == 0 means a blank line.
func readFrame(r *bufio.Reader, max int, buf []byte) (line []byte, n int, err error) {
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		n += len(chunk)
		if !tooLong {
			body := len(buf) + len(chunk)
			if err == nil { // chunk ends with the newline, which is not part of the frame
				body--
			}
			if body > max+1 { // room for a "\r"
				tooLong, buf = true, buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if tooLong {
			return nil, n, err
		}
		t := bytes.TrimSpace(buf)
		if len(t) > max {
			return nil, len(t), err
		}
		if len(t) == 0 {
			return buf[:0], 0, err
		}
		return t, len(t), err
	}
}
