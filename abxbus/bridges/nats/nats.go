package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inbound"
)

// Mode selects how a Bridge moves events.
type Mode int

const (
	// Core is plain NATS publish/subscribe on the subject, the wire of the TypeScript bridge.
	Core Mode = iota
	// JetStream stores the events in a stream and reads them with a durable pull consumer.
	JetStream
)

func (m Mode) String() string {
	switch m {
	case Core:
		return "core"
	case JetStream:
		return "jetstream"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// DefaultSubject is the subject the TS documentation uses, and Open's default.
const DefaultSubject = "abxbus_events"

// Defaults of Options.
const (
	DefaultQueueSize  = 256
	DefaultMaxDeliver = 5
	DefaultAckWait    = 30 * time.Second
	DefaultConsumer   = "abxbus"
)

// ErrNoResponders is matched by the error of Call when no process serves the call subject.
var ErrNoResponders = nats.ErrNoResponders

// Options configure a Bridge. The zero value (or nil) gives a core bridge with the defaults.
type Options struct {
	// Name is the inbound bus name (default "NATSEventBridge"); its label joins event_path.
	Name string
	// Mode is Core (default) or JetStream.
	Mode Mode
	// Registry decodes known event types into their Go payload types (nil: untyped events).
	Registry *abxbus.Registry
	// Logger receives refused messages, connection changes and delivery problems (default
	// slog.Default()).
	Logger *slog.Logger
	// OnError, when set, is also called with every refused message (a *MessageError), every message
	// the client dropped (core: a slow listener) and every asynchronous connection error. It runs on
	// the bridge's goroutines and must not block for long.
	OnError func(err error)
	// BusOptions are extra options of the inbound bus; its history size is 0.
	BusOptions *abxbus.Options
	// ConnectOptions are extra nats.go options (credentials, TLS, ...), applied after the bridge's own
	// (infinite reconnects every 100 ms with an 8 MiB reconnect buffer, and the handlers the bridge
	// needs for its reports).
	ConnectOptions []nats.Option
	// QueueSize is how many received events may be queued or running on the inbound bus at once
	// (default DefaultQueueSize). In JetStream mode it is also the consumer's MaxAckPending.
	QueueSize int
	// MaxPending is how many received core messages the NATS client buffers for a listener whose
	// inbound bus is full (QueueSize events in flight); beyond that it drops messages and the bridge
	// reports them (Dropped, OnError, the log). Default 65536.
	MaxPending int
	// NoConfirm makes a core Emit return once the message is in the client's buffer, as the TS bridge
	// does, instead of waiting for the server's PONG: faster, but a message lost with the connection
	// is not reported.
	NoConfirm bool
	// CallSubject is the subject of Call requests (default "<subject>.call").
	CallSubject string

	// Stream is the JetStream stream (default: the subject with every character that is not a letter,
	// a digit, '-' or '_' replaced by '_', in upper case). When it exists, it is bound (and must
	// capture the subject); else it is created with Subjects, Replicas and file storage.
	Stream string
	// Subjects are the subjects of a stream created by the bridge (default: the subject).
	Subjects []string
	// Replicas of a created stream (default 1; 3 for an R3 stream on a cluster).
	Replicas int
	// MemoryStorage creates the stream in memory instead of on file.
	MemoryStorage bool
	// StreamConfig, when set, is the configuration of a stream the bridge creates (its Name, Subjects,
	// Replicas and Storage are filled from the options above when empty). Without it the stream keeps
	// every event (limits retention without limits): set MaxAge or MaxBytes for a long-lived stream.
	// An existing stream is bound as it is.
	StreamConfig *jetstream.StreamConfig
	// Consumer is the durable consumer's name (default DefaultConsumer). Bridges with the same name
	// share the consumer and split the events; different names each receive every event.
	Consumer string
	// MaxDeliver is how often an event is delivered before it goes to the dead-letter subject
	// (default DefaultMaxDeliver).
	MaxDeliver int
	// AckWait is how long the server waits for an event's acknowledgement before it delivers the event
	// again, to this or another listener of the consumer (default DefaultAckWait). While the oldest
	// unacknowledged event is being handled the bridge tells the server every AckWait/2 that it is in
	// progress; the events queued behind it must not wait longer than AckWait (keep QueueSize times
	// the handling time below it), or they are delivered a second time.
	AckWait time.Duration
	// RetryDelay is how long a failed event waits before it is delivered again (default 0: at once).
	RetryDelay time.Duration
	// DeadLetter is the subject that events are published to once their last delivery failed, or when
	// they do not decode (default "<subject>.dead_letter"; "-" disables dead-lettering: such events
	// are only terminated and reported). The bridge creates a stream "<Stream>_DLQ" for it unless one
	// captures it already.
	DeadLetter string
}

func (o *Options) withDefaults(subject string) (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Name == "" {
		r.Name = "NATSEventBridge"
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.QueueSize <= 0 {
		r.QueueSize = DefaultQueueSize
	}
	if r.MaxPending <= 0 {
		r.MaxPending = 64 * 1024
	}
	if r.CallSubject == "" {
		r.CallSubject = subject + ".call"
	}
	if r.Mode != Core && r.Mode != JetStream {
		return r, fmt.Errorf("%w: nats bridge: unknown mode %d", abxbus.ErrInvalidOption, r.Mode)
	}
	if r.Mode == JetStream {
		if r.Stream == "" {
			r.Stream = streamName(subject)
		}
		if len(r.Subjects) == 0 {
			r.Subjects = []string{subject}
		}
		if r.Replicas <= 0 {
			r.Replicas = 1
		}
		if r.Consumer == "" {
			r.Consumer = DefaultConsumer
		}
		if r.MaxDeliver <= 0 {
			r.MaxDeliver = DefaultMaxDeliver
		}
		if r.AckWait <= 0 {
			r.AckWait = DefaultAckWait
		}
		if r.DeadLetter == "" {
			r.DeadLetter = subject + ".dead_letter"
		}
		if strings.ContainsAny(r.Consumer, ".*> \t") {
			return r, fmt.Errorf("%w: nats bridge: consumer name %q contains '.', '*', '>' or a space", abxbus.ErrInvalidOption, r.Consumer)
		}
	}
	return r, nil
}

func streamName(subject string) string {
	b := []byte(strings.ToUpper(subject))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// MessageError is a received message the bridge refused: not an abxbus event, or a delivery problem.
type MessageError struct {
	Subject string
	// Sequence is the stream sequence (JetStream), 0 for core messages.
	Sequence uint64
	Len      int
	Err      error
}

func (e *MessageError) Error() string {
	if e.Sequence != 0 {
		return fmt.Sprintf("nats bridge: message %d on %s (%d bytes): %v", e.Sequence, e.Subject, e.Len, e.Err)
	}
	return fmt.Sprintf("nats bridge: message on %s (%d bytes): %v", e.Subject, e.Len, e.Err)
}

func (e *MessageError) Unwrap() error { return e.Err }

// Bridge is one process's end of a NATS subject. Its methods are safe for concurrent use.
type Bridge struct {
	servers string
	subject string
	opts    Options
	bus     *abxbus.Bus
	in      *inbound.Inbound // owns bus (the queue window is inflight below)
	nc      *nats.Conn
	js      jetstream.JetStream
	closedC chan struct{} // closed by the connection's ClosedHandler

	mu       sync.Mutex
	started  bool
	closed   bool
	cancel   context.CancelFunc
	ctx      context.Context
	sub      *nats.Subscription // core subscription
	callSub  *nats.Subscription
	advSub   *nats.Subscription // JetStream: max-deliveries advisories
	stopRead context.CancelFunc // JetStream: stops fetching
	wg       sync.WaitGroup     // the bridge's goroutines
	wgMu     sync.Mutex         // orders a call's wg.Add before waitGoroutines' wg.Wait
	waiting  bool               // waitGoroutines began: no call goroutine starts any more
	stopping chan struct{}      // closed when waitGoroutines begins: calls waiting for a slot are refused
	onCalls  int                // call callbacks running (onCall), each answers its request
	onCallsZ *sync.Cond         // on wgMu: signalled when onCalls drops to 0 while waiting
	callsOut bool               // waitGoroutines saw onCalls at 0: later callbacks are not waited for
	readers  sync.WaitGroup     // the goroutines that emit received events (JetStream reader)
	inflight chan *abxbus.BaseEvent
	calls    chan struct{} // bounds concurrent calls being served
	serving  sync.Map      // abxbus.ID -> struct{}: the events of the calls being served

	stats stats
}

type stats struct {
	mu         sync.Mutex
	dropped    int // core: messages the client dropped (slow consumer)
	refused    int
	deadLetter int
}

// New connects to servers (a nats.go URL list, "nats://127.0.0.1:4222" or several separated by
// commas) and makes a bridge on subject. In JetStream mode it also creates or binds the stream and
// the dead-letter stream. It does not subscribe or consume: Start, On or Call serving do. Errors: an
// invalid option (matching abxbus.ErrInvalidOption), the connection, the stream.
func New(servers, subject string, opts *Options) (*Bridge, error) {
	if subject == "" || strings.ContainsAny(subject, " \t\r\n") {
		return nil, fmt.Errorf("%w: nats bridge: subject %q is empty or has white space", abxbus.ErrInvalidOption, subject)
	}
	o, err := opts.withDefaults(subject)
	if err != nil {
		return nil, err
	}
	if o.Mode == JetStream && strings.ContainsAny(subject, "*>") && len(o.Subjects) == 1 && o.Subjects[0] == subject {
		return nil, fmt.Errorf("%w: nats bridge: a JetStream bridge publishes on its subject; %q is a wildcard", abxbus.ErrInvalidOption, subject)
	}
	in, err := inbound.New(inbound.Options{Name: o.Name, BusOptions: o.BusOptions, Logger: o.Logger, Registry: o.Registry})
	if err != nil {
		return nil, fmt.Errorf("nats bridge: %w", err)
	}
	bus := in.Bus()
	br := &Bridge{servers: servers, subject: subject, opts: o, bus: bus, in: in, closedC: make(chan struct{})}
	br.onCallsZ = sync.NewCond(&br.wgMu)
	copts := []nats.Option{
		nats.Name("abxbus " + o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100 * time.Millisecond),
		nats.ReconnectBufSize(8 << 20),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				o.Logger.Warn("[abxbus] nats bridge: disconnected", "bridge", o.Name, "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			o.Logger.Info("[abxbus] nats bridge: reconnected", "bridge", o.Name, "server", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(br.asyncError),
		nats.ClosedHandler(func(*nats.Conn) { close(br.closedC) }),
	}
	nc, err := nats.Connect(servers, append(copts, o.ConnectOptions...)...)
	if err != nil {
		bus.Destroy(true)
		return nil, fmt.Errorf("nats bridge: connect %s: %w", servers, err)
	}
	br.nc = nc
	if o.Mode == JetStream {
		if err := br.setupStream(); err != nil {
			br.closeConn()
			bus.Destroy(true)
			return nil, err
		}
	}
	return br, nil
}

func (br *Bridge) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) && sub != nil {
		n, _ := sub.Dropped()
		br.stats.mu.Lock()
		prev := br.stats.dropped
		if n > prev {
			br.stats.dropped = n
		}
		br.stats.mu.Unlock()
		err = fmt.Errorf("nats bridge %s: %w: the listener fell behind and the client dropped %d messages on %s so far", br.opts.Name, err, n, sub.Subject)
	} else {
		err = fmt.Errorf("nats bridge %s: %w", br.opts.Name, err)
	}
	br.opts.Logger.Error("[abxbus] nats bridge: asynchronous error", "error", err)
	if br.opts.OnError != nil {
		br.opts.OnError(err)
	}
}

func (br *Bridge) refuse(subject string, seq uint64, n int, err error) {
	br.stats.mu.Lock()
	br.stats.refused++
	br.stats.mu.Unlock()
	me := &MessageError{Subject: subject, Sequence: seq, Len: n, Err: err}
	br.opts.Logger.Warn("[abxbus] nats bridge: refusing a message", "subject", subject, "sequence", seq, "bytes", n, "error", err)
	if br.opts.OnError != nil {
		br.opts.OnError(me)
	}
}

// Dropped returns how many messages the NATS client dropped because the core listener fell behind
// (0 in JetStream mode, where nothing is dropped).
func (br *Bridge) Dropped() int {
	br.mu.Lock()
	sub := br.sub
	br.mu.Unlock()
	br.stats.mu.Lock()
	defer br.stats.mu.Unlock()
	if sub != nil {
		if n, err := sub.Dropped(); err == nil && n > br.stats.dropped {
			br.stats.dropped = n
		}
	}
	return br.stats.dropped
}

// DeadLettered returns how many events this bridge published to the dead-letter subject.
func (br *Bridge) DeadLettered() int {
	br.stats.mu.Lock()
	defer br.stats.mu.Unlock()
	return br.stats.deadLetter
}

// Bus returns the inbound bus: register handlers on it (or use On) to receive the subject's events.
func (br *Bridge) Bus() *abxbus.Bus { return br.bus }

// Subject returns the bridge's subject.
func (br *Bridge) Subject() string { return br.subject }

// Conn returns the bridge's NATS connection, for inspection. Do not close it: Close does.
func (br *Bridge) Conn() *nats.Conn { return br.nc }

// Features describes the mode. Core is ordered broadcast without durability. JetStream is durable and
// at least once, split between the listeners of one consumer, and not Ordered: events arrive in
// stream order while nothing fails, but an event that is delivered again (its handlers failed, or its
// listener died before acknowledging it) arrives after events emitted later. MaxMessageBytes is the
// server's max_payload (JetStream: less 512 bytes for the message's headers).
func (br *Bridge) Features() bridges.Features {
	f := bridges.Features{Ordered: true, FanOut: true, MaxMessageBytes: br.maxBytes()}
	if br.opts.Mode == JetStream {
		f = bridges.Features{Durable: true, AtLeastOnce: true, MaxMessageBytes: br.maxBytes()}
	}
	return f
}

// jsHeaderRoom is what a JetStream event leaves of max_payload for the headers of its message (the
// message id) and of its dead letter.
const jsHeaderRoom = 512

// maxBytes is the largest event JSON Emit sends: the server's max_payload, less the room for headers
// in JetStream mode.
func (br *Bridge) maxBytes() int {
	max := int(br.nc.MaxPayload())
	if br.opts.Mode == JetStream && max > jsHeaderRoom {
		max -= jsHeaderRoom
	}
	return max
}

// On registers a handler for received events of eventType ("*" for all) on the inbound bus and starts
// listening.
func (br *Bridge) On(eventType string, fn abxbus.HandlerFunc, opts ...abxbus.HandlerOption) (*abxbus.Handler, error) {
	return br.in.On(eventType, fn, opts, br.Start)
}

// Forward is a HandlerFunc that publishes every event it is given: wire an application bus to the
// bridge with bus.OnType("*", br.Forward). It returns no value, so it never counts as a result.
//
// The event of a call this bridge is serving (see Call) is not forwarded: it came by request/reply,
// and publishing it on the subject would make every listener handle it again.
func (br *Bridge) Forward(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
	if _, serving := br.serving.Load(e.ID()); serving {
		return nil, nil
	}
	return nil, br.Emit(ctx, e)
}

// Emit publishes e, its JSON as it is now, on the subject. Core: it returns once the server confirmed
// the connection's messages up to this one (unless Options.NoConfirm); during a reconnect the message
// waits in the client's reconnect buffer and Emit reports it as unconfirmed (it may still arrive once
// the connection is back). JetStream: it returns once the stream stored the event, retrying through
// reconnects and leader elections until ctx ends; the event id is the message id, so a retried publish
// is stored once (within the stream's duplicate window, 2 minutes by default) and emitting one event
// twice stores it once. ctx bounds the attempt (core: a ctx without deadline gets 10 s). Errors: the
// event does not encode, is larger than the server's max_payload (bridges.ErrTooLarge), the bridge is
// closed (bridges.ErrClosed), the server did not confirm.
func (br *Bridge) Emit(ctx context.Context, e *abxbus.BaseEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	br.mu.Lock()
	closed := br.closed
	br.mu.Unlock()
	if closed {
		return fmt.Errorf("nats bridge %s: %w", br.subject, bridges.ErrClosed)
	}
	data, err := inbound.Encode(e, "nats bridge "+br.subject, br.maxBytes())
	if err != nil {
		return err
	}
	if br.opts.Mode == JetStream {
		return br.publishJS(ctx, e, data)
	}
	if err := br.nc.Publish(br.subject, data); err != nil {
		if errors.Is(err, nats.ErrMaxPayload) {
			return bridges.TooLarge("nats bridge "+br.subject, e, len(data), int(br.nc.MaxPayload()))
		}
		if errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("nats bridge %s: %w: %v", br.subject, bridges.ErrClosed, err)
		}
		return fmt.Errorf("nats bridge %s: publish %s: %w", br.subject, e, err)
	}
	if br.opts.NoConfirm {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	if err := br.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("nats bridge %s: %s not confirmed by the server (it may arrive after a reconnect): %w", br.subject, e, err)
	}
	return nil
}

// Start subscribes (core) or starts consuming the durable consumer (JetStream), and serves Calls on
// the call subject; it returns once the server has the subscriptions, so events published after Start
// returns are received. Calling it again does nothing; after Close it returns an error matching
// bridges.ErrClosed. Errors: the subscription or the consumer could not be made.
func (br *Bridge) Start() error {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.closed {
		return fmt.Errorf("nats bridge %s: %w", br.subject, bridges.ErrClosed)
	}
	if br.started {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	br.ctx, br.cancel = ctx, cancel
	br.wgMu.Lock()
	br.waiting, br.callsOut = false, false // a Start that failed before this one waited
	br.stopping = make(chan struct{})
	br.wgMu.Unlock()
	br.inflight = make(chan *abxbus.BaseEvent, br.opts.QueueSize)
	br.calls = make(chan struct{}, br.opts.QueueSize)
	var err error
	if br.opts.Mode == JetStream {
		err = br.startJS(ctx)
	} else {
		err = br.startCore()
	}
	if err == nil {
		err = br.startCalls()
	}
	if err == nil {
		fctx, fcancel := context.WithTimeout(ctx, 10*time.Second)
		err = br.nc.FlushWithContext(fctx)
		fcancel()
	}
	if err != nil {
		br.stopLocked()
		cancel()
		br.waitGoroutines()
		return fmt.Errorf("nats bridge %s: start: %w", br.subject, err)
	}
	br.started = true
	return nil
}

func (br *Bridge) startCore() error {
	sub, err := br.nc.Subscribe(br.subject, br.onCoreMsg)
	if err != nil {
		return err
	}
	// The client's buffer holds what the inbound bus has not taken yet; beyond it, messages are
	// dropped and reported (asyncError).
	if err := sub.SetPendingLimits(br.opts.MaxPending, -1); err != nil {
		sub.Unsubscribe()
		return err
	}
	br.sub = sub
	return nil
}

// onCoreMsg runs on the subscription's goroutine, one message at a time, in order.
func (br *Bridge) onCoreMsg(m *nats.Msg) {
	e, err := br.decode(m.Data)
	if err != nil {
		br.refuse(m.Subject, 0, len(m.Data), err)
		return
	}
	if br.ownEcho(e) {
		return
	}
	br.admit(br.ctx, e)
}

// ownEcho reports whether e already went through the inbound bus (its path names it): an event this
// bridge received, forwarded back by the two-way wiring. The bus would skip it without completing it,
// so it is not admitted (core: dropped; JetStream: acknowledged).
func (br *Bridge) ownEcho(e *abxbus.BaseEvent) bool {
	if !br.in.Echo(e) {
		return false
	}
	br.opts.Logger.Debug("[abxbus] nats bridge: own echo skipped", "event", e)
	return true
}

// admit emits e on the inbound bus once fewer than QueueSize received events are in flight.
func (br *Bridge) admit(ctx context.Context, e *abxbus.BaseEvent) bool {
	for {
		select {
		case br.inflight <- e:
			if _, err := br.bus.Emit(context.Background(), e); err != nil {
				br.opts.Logger.Warn("[abxbus] nats bridge: inbound emit refused", "event", e, "error", err)
			}
			return true
		default:
		}
		head := <-br.inflight
		select {
		case <-head.Done():
		case <-ctx.Done():
			return false
		}
	}
}

func (br *Bridge) decode(data []byte) (*abxbus.BaseEvent, error) {
	_, e, err := inbound.Decode(br.opts.Registry, data)
	return e, err
}

// Close stops listening, waits for the events already received to be handled (core; JetStream: those
// pulled from the server, which are then acknowledged) and for the calls being served, destroys the
// inbound bus and closes the connection after flushing what was published. Every call request
// received before is answered first: calls still waiting for a slot once Close stops waiting for the
// handlers get an error matching bridges.ErrClosed, and a call whose handlers are still running half a
// second later gets its context's cancellation. Events still unacknowledged
// in JetStream mode are delivered again, to a listener of the same consumer. It is safe to call more
// than once.
func (br *Bridge) Close() error {
	br.mu.Lock()
	if br.closed {
		br.mu.Unlock()
		return nil
	}
	br.closed = true
	started := br.started
	br.mu.Unlock()
	if started {
		br.mu.Lock()
		br.stopLocked()
		br.mu.Unlock()
		br.readers.Wait() // nothing more is emitted on the inbound bus
		// The inbound bus finishes what it received (at most closeWait), then the acknowledger gets a
		// moment for the events that completed; events still pending (on a bus they were forwarded to)
		// are not acknowledged, so the server delivers them again (JetStream), and calls still waiting
		// are answered with the bridge's closing.
		br.in.Drain(closeWait)
		stop := time.AfterFunc(closeGrace, br.cancel)
		br.waitGoroutines()
		stop.Stop()
		br.cancel()
	}
	br.in.Destroy()
	br.closeConn()
	return nil
}

// waitGoroutines waits for the bridge's goroutines and for the call callbacks in progress, so every
// request received before Close is answered (served or refused) while the connection is still open: a
// call that waits for a slot, or gets its turn afterwards (its subscription was given up while it
// waited), is refused instead of starting a goroutine.
func (br *Bridge) waitGoroutines() {
	br.wgMu.Lock()
	br.waiting = true
	close(br.stopping)
	for br.onCalls > 0 {
		br.onCallsZ.Wait()
	}
	br.callsOut = true
	br.wgMu.Unlock()
	br.wg.Wait()
}

// enterOnCall counts a call callback until leaveOnCall and returns the channel closed when Close
// stops waiting for slots; counted is false for a callback that starts after waitGoroutines finished
// waiting for them (a message the client handed over as the subscription ended).
func (br *Bridge) enterOnCall() (stopping <-chan struct{}, counted bool) {
	br.wgMu.Lock()
	defer br.wgMu.Unlock()
	if br.callsOut {
		return br.stopping, false
	}
	br.onCalls++
	return br.stopping, true
}

func (br *Bridge) leaveOnCall() {
	br.wgMu.Lock()
	br.onCalls--
	if br.onCalls == 0 {
		br.onCallsZ.Broadcast()
	}
	br.wgMu.Unlock()
}

// startCall counts one call goroutine in wg, unless waitGoroutines began.
func (br *Bridge) startCall() bool {
	br.wgMu.Lock()
	defer br.wgMu.Unlock()
	if br.waiting {
		return false
	}
	br.wg.Add(1)
	return true
}

// stopLocked unsubscribes (draining what the client has buffered) and stops the consumer.
func (br *Bridge) stopLocked() {
	if br.sub != nil {
		drainSub(br.sub)
		br.sub = nil
	}
	if br.callSub != nil {
		drainSub(br.callSub)
		br.callSub = nil
	}
	if br.advSub != nil {
		drainSub(br.advSub)
		br.advSub = nil
	}
	if br.stopRead != nil {
		br.stopRead()
		br.stopRead = nil
	}
}

// drainTimeout bounds how long drainSub waits (a variable for the tests).
var drainTimeout = 10 * time.Second

// drainSub stops sub after its buffered messages were handled, waiting at most drainTimeout.
func drainSub(sub *nats.Subscription) {
	closed := sub.StatusChanged(nats.SubscriptionClosed)
	if err := sub.Drain(); err != nil {
		sub.Unsubscribe()
		return
	}
	select {
	case <-closed:
	case <-time.After(drainTimeout):
		sub.Unsubscribe()
	}
}

func (br *Bridge) closeConn() {
	if br.nc.IsClosed() {
		return
	}
	if err := br.nc.FlushTimeout(2 * time.Second); err != nil && !br.nc.IsClosed() {
		br.opts.Logger.Warn("[abxbus] nats bridge: flush at close", "bridge", br.opts.Name, "error", err)
	}
	br.nc.Close()
	select {
	case <-br.closedC:
	case <-time.After(5 * time.Second):
	}
}

// closeWait bounds how long Close waits for the handlers of received events, and closeGrace how long
// it then waits for received events to complete on the buses they were forwarded to.
const (
	closeWait  = 10 * time.Second
	closeGrace = 500 * time.Millisecond
)

// Open opens a bridge from an address (bridges.Open's "nats" scheme):
//
//	nats://host:port[/subject][?mode=jetstream&consumer=NAME&stream=NAME&max_deliver=N&dead_letter=SUBJ&replicas=N&ack_wait=DURATION]
//
// The subject defaults to DefaultSubject; user information in the URL is passed to the server.
func Open(ctx context.Context, addr *url.URL, oo bridges.OpenOptions) (bridges.Bridge, error) {
	if err := registerErr; err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	servers, subject, o, err := parseAddress(addr, oo)
	if err != nil {
		return nil, err
	}
	return New(servers, subject, &o)
}

// parseAddress turns an Open address into New's arguments.
func parseAddress(addr *url.URL, oo bridges.OpenOptions) (servers, subject string, o Options, err error) {
	if addr == nil || addr.Host == "" {
		return "", "", o, fmt.Errorf("%w: nats bridge address without a host", abxbus.ErrInvalidOption)
	}
	subject = strings.Trim(addr.Path, "/")
	if subject == "" {
		subject = DefaultSubject
	}
	o = Options{Name: oo.Name, Logger: oo.Logger, BusOptions: oo.BusOptions}
	q := addr.Query()
	for k, vs := range q {
		v := vs[len(vs)-1]
		var err error
		switch k {
		case "mode":
			switch strings.ToLower(v) {
			case "core", "":
				o.Mode = Core
			case "jetstream", "js":
				o.Mode = JetStream
			default:
				err = fmt.Errorf("mode %q is neither core nor jetstream", v)
			}
		case "consumer":
			o.Consumer = v
		case "stream":
			o.Stream = v
		case "dead_letter":
			o.DeadLetter = v
		case "call_subject":
			o.CallSubject = v
		case "max_deliver":
			o.MaxDeliver, err = strconv.Atoi(v)
		case "replicas":
			o.Replicas, err = strconv.Atoi(v)
		case "queue_size":
			o.QueueSize, err = strconv.Atoi(v)
		case "ack_wait":
			o.AckWait, err = time.ParseDuration(v)
		case "memory":
			o.MemoryStorage, err = strconv.ParseBool(v)
		default:
			err = errors.New("unknown parameter")
		}
		if err != nil {
			return "", "", o, fmt.Errorf("%w: nats bridge address %s: %s: %v", abxbus.ErrInvalidOption, addr.Redacted(), k, err)
		}
	}
	server := &url.URL{Scheme: "nats", Host: addr.Host, User: addr.User}
	return server.String(), subject, o, nil
}

// registerErr is the error of registering the "nats" scheme (another package took it); Open reports
// it.
var registerErr error

func init() { registerErr = bridges.Register("nats", Open) }
