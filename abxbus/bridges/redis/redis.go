package redis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inbound"
)

// Mode selects how the bridge uses Redis.
type Mode int

const (
	// ModePubSub is PUBLISH/SUBSCRIBE on a channel, the TypeScript bridge's wire (not durable).
	ModePubSub Mode = iota
	// ModeStreams is a Redis stream with a consumer group (durable, at-least-once).
	ModeStreams
)

func (m Mode) String() string {
	switch m {
	case ModePubSub:
		return "pubsub"
	case ModeStreams:
		return "streams"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// DefaultChannel is the channel (and, in ModeStreams, the stream key) when neither the options nor
// the address name one, as in the TypeScript bridge.
const DefaultChannel = "abxbus_events"

// DefaultGroup is the consumer group of ModeStreams when Options.Group is empty.
const DefaultGroup = "abxbus"

// DefaultMaxLen is the approximate length bound of a stream (Options.MaxLen).
const DefaultMaxLen = 1_000_000

// DefaultMaxMessageBytes is the largest event JSON Emit sends: Redis' default proto-max-bulk-len.
const DefaultMaxMessageBytes = 512 << 20

// ErrNoSubscriber is matched by the error of a pub/sub Emit with Options.RequireSubscriber whose
// PUBLISH reached no subscriber (the event is lost).
var ErrNoSubscriber = errors.New("redis: no subscriber received the event")

// Options configure a Bridge. The zero value (or nil) gives the defaults.
type Options struct {
	// Name is the inbound bus name (default "RedisEventBridge"); its label joins event_path.
	Name string
	// Mode is ModePubSub (default) or ModeStreams.
	Mode Mode
	// Channel is the pub/sub channel; empty: the address' second path segment, else DefaultChannel.
	Channel string
	// DrainTimeout bounds how long Close waits for the events already received to finish on the
	// inbound bus before destroying it, which cancels the handlers still running (default 10 s). In
	// ModeStreams the events finishing within it are acknowledged.
	DrainTimeout time.Duration
	// Registry decodes known event types into their Go payload types (nil: untyped events).
	Registry *abxbus.Registry
	// Logger receives refused messages, reconnects and dead-lettered entries (default slog.Default()).
	Logger *slog.Logger
	// OnError, when set, is also called with every refused message and every connection problem of the
	// listener, from the listener's goroutine; it must not block for long.
	OnError func(err error)
	// BusOptions are extra options of the inbound bus (timeouts, lock domain); its history size is 0.
	BusOptions *abxbus.Options
	// QueueSize is how many received events may be queued or running on the inbound bus at once
	// (default 1024); beyond that the listener stops reading until the oldest one completes.
	QueueSize int
	// MaxMessageBytes is the largest event JSON Emit sends (default DefaultMaxMessageBytes); a larger
	// event is refused with an error matching bridges.ErrTooLarge.
	MaxMessageBytes int
	// RequireSubscriber (ModePubSub) makes Emit return an error matching ErrNoSubscriber when the
	// PUBLISH reached no subscriber.
	RequireSubscriber bool
	// Client configures the go-redis clients (TLS, timeouts, pool); nil: from the address. Its Addr,
	// credentials and DB are those of the address, and ContextTimeoutEnabled is always on (the bridge
	// bounds its calls, Close's acknowledgements included, by their contexts' deadlines).
	Client *goredis.Options

	// Stream (ModeStreams) is the stream key; empty: the channel name.
	Stream string
	// Group (ModeStreams) is the consumer group (default DefaultGroup). Workers of one group split the
	// events; each group receives all of them.
	Group string
	// Consumer (ModeStreams) is this worker's name in the group, unique per running worker (default
	// "<host>-<pid>"). The default changes at every restart: the entries the old process had not
	// acknowledged are then taken over by XAUTOCLAIM once idle for ClaimIdle, and the old name stays
	// listed in the group (until XGROUP DELCONSUMER). Set Consumer to a name that stays the same across
	// a worker's restarts so that it re-reads its own unacknowledged entries at once.
	Consumer string
	// MaxLen (ModeStreams) bounds the stream's length: every XADD trims it to about MaxLen entries
	// (MAXLEN ~), dropping the oldest, even unread ones (default DefaultMaxLen; negative: no bound).
	MaxLen int64
	// ClaimIdle (ModeStreams) is how long an entry delivered to a worker may stay unacknowledged
	// before another worker (or this one, for a failed handler) takes it over (default 30 s).
	ClaimIdle time.Duration
	// MaxDeliveries (ModeStreams) is how many times an entry is delivered before it goes to the
	// dead-letter stream (default 5).
	MaxDeliveries int
	// DeadLetter (ModeStreams) is the dead-letter stream key (default "<stream>:dead").
	DeadLetter string
	// StartAtEnd (ModeStreams) makes a group created by this Start begin at the stream's end instead
	// of its first retained entry. It does nothing for an existing group.
	StartAtEnd bool
	// BatchSize (ModeStreams) is how many entries one XREADGROUP reads (default 64).
	BatchSize int
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Name == "" {
		r.Name = "RedisEventBridge"
	}
	if r.DrainTimeout <= 0 {
		r.DrainTimeout = 10 * time.Second
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.QueueSize <= 0 {
		r.QueueSize = 1024
	}
	if r.MaxMessageBytes <= 0 {
		r.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if r.Group == "" {
		r.Group = DefaultGroup
	}
	if r.Consumer == "" {
		host, _ := os.Hostname()
		r.Consumer = host + "-" + strconv.Itoa(os.Getpid())
	}
	if r.MaxLen == 0 {
		r.MaxLen = DefaultMaxLen
	}
	if r.ClaimIdle <= 0 {
		r.ClaimIdle = 30 * time.Second
	}
	if r.MaxDeliveries <= 0 {
		r.MaxDeliveries = 5
	}
	if r.BatchSize <= 0 {
		r.BatchSize = 64
	}
	return r
}

// Bridge is one process's end of a Redis channel (ModePubSub) or stream (ModeStreams). Its methods are
// safe for concurrent use.
type Bridge struct {
	drainEnd atomic.Int64 // Close's drain deadline (Unix ns; 0 before Close)
	opts     Options
	channel  string
	stream   string
	dead     string
	label    string // for messages: redis://host:port/db/channel
	copts    *goredis.Options
	bus      *abxbus.Bus
	in       *inbound.Inbound // owns bus and the pub/sub queue window
	pub      *goredis.Client

	mu      sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	done    chan struct{}
	sub     *goredis.PubSub // pub/sub listener
	reader  *goredis.Client // streams listener (blocking reads)
	closers []func()        // run by Close after cancel

	deliverFn func(ctx context.Context, it *item) func(ctx context.Context) (error, bool) // streams: replaces the bus delivery (Server)
	onRaw     func(payload string)                                                        // pub/sub: replaces the bus delivery (Client)
}

func (br *Bridge) isClosed() bool {
	br.mu.Lock()
	defer br.mu.Unlock()
	return br.closed
}

// New creates a bridge on the Redis server and channel that address names
// (redis://[user:pass@]host[:port][/<db>[/<channel>]], or rediss:// for TLS). It connects lazily: Emit,
// Start and On do. Errors (matching abxbus.ErrInvalidOption): the address does not parse, a db that is
// not a number, more than two path segments, an option out of range.
func New(address string, opts *Options) (*Bridge, error) {
	o := opts.withDefaults()
	u, err := url.Parse(address)
	if err != nil {
		return nil, fmt.Errorf("%w: redis bridge address %q: %v", abxbus.ErrInvalidOption, address, err)
	}
	return newFromURL(u, o)
}

func newFromURL(u *url.URL, o Options) (*Bridge, error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "redis" && scheme != "rediss" {
		return nil, fmt.Errorf("%w: redis bridge address %s: scheme must be redis or rediss", abxbus.ErrInvalidOption, redact(u))
	}
	segs := strings.FieldsFunc(u.Path, func(r rune) bool { return r == '/' })
	if len(segs) > 2 {
		return nil, fmt.Errorf("%w: redis bridge address %s: more than two path segments (want /<db>/<channel>)", abxbus.ErrInvalidOption, redact(u))
	}
	db := 0
	if len(segs) > 0 {
		n, err := strconv.Atoi(segs[0])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: redis bridge address %s: db %q is not a number", abxbus.ErrInvalidOption, redact(u), segs[0])
		}
		db = n
	}
	channel := o.Channel
	if channel == "" && len(segs) > 1 {
		channel = segs[1]
	}
	if channel == "" {
		channel = DefaultChannel
	}
	if o.Mode != ModePubSub && o.Mode != ModeStreams {
		return nil, fmt.Errorf("%w: redis bridge: unknown mode %d", abxbus.ErrInvalidOption, int(o.Mode))
	}
	if o.MaxDeliveries < 1 {
		return nil, fmt.Errorf("%w: redis bridge: MaxDeliveries must be at least 1", abxbus.ErrInvalidOption)
	}
	cu := *u
	cu.Scheme = scheme
	cu.Path = "/" + strconv.Itoa(db)
	cu.RawPath = ""
	copts, err := goredis.ParseURL(cu.String())
	if err != nil {
		return nil, fmt.Errorf("%w: redis bridge address %s: %v", abxbus.ErrInvalidOption, redact(u), err)
	}
	if o.Client != nil {
		c := *o.Client
		c.Addr, c.Username, c.Password, c.DB = copts.Addr, copts.Username, copts.Password, copts.DB
		if c.TLSConfig == nil {
			c.TLSConfig = copts.TLSConfig
		}
		copts = &c
	}
	if registerErr != nil {
		registerOnce.Do(func() {
			o.Logger.Warn("[abxbus] redis bridge: bridges.Open does not reach this package", "error", registerErr)
		})
	}
	copts.ContextTimeoutEnabled = true
	br := &Bridge{opts: o, channel: channel, copts: copts}
	br.label = fmt.Sprintf("redis://%s/%d/%s", copts.Addr, db, channel)
	br.stream = o.Stream
	if br.stream == "" {
		br.stream = channel
	}
	br.dead = o.DeadLetter
	if br.dead == "" {
		br.dead = br.stream + ":dead"
	}
	if o.Mode == ModeStreams {
		br.label = fmt.Sprintf("redis://%s/%d stream %s group %s consumer %s", copts.Addr, db, br.stream, o.Group, o.Consumer)
	}
	in, err := inbound.New(inbound.Options{Name: o.Name, BusOptions: o.BusOptions, Logger: o.Logger, Registry: o.Registry, QueueSize: o.QueueSize})
	if err != nil {
		return nil, fmt.Errorf("redis bridge: %w", err)
	}
	br.in, br.bus = in, in.Bus()
	br.pub = goredis.NewClient(copts)
	return br, nil
}

// redact returns u without its password, for messages.
func redact(u *url.URL) string { return u.Redacted() }

// Channel returns the pub/sub channel.
func (br *Bridge) Channel() string { return br.channel }

// Stream returns the stream key (ModeStreams).
func (br *Bridge) Stream() string { return br.stream }

// DeadLetter returns the dead-letter stream key (ModeStreams).
func (br *Bridge) DeadLetter() string { return br.dead }

// Bus returns the inbound bus: register handlers on it (or use On) to receive events.
func (br *Bridge) Bus() *abxbus.Bus { return br.bus }

// Client returns the go-redis client the bridge publishes with (for inspection and administration;
// closing it breaks the bridge).
func (br *Bridge) Client() *goredis.Client { return br.pub }

// Features describes the mode's guarantees: pub/sub is ordered fan-out without durability; streams
// are ordered per worker, durable and at least once, point-to-point within a group.
func (br *Bridge) Features() bridges.Features {
	if br.opts.Mode == ModeStreams {
		return bridges.Features{Ordered: true, Durable: true, AtLeastOnce: true, FanOut: false, MaxMessageBytes: br.opts.MaxMessageBytes}
	}
	return bridges.Features{Ordered: true, FanOut: true, MaxMessageBytes: br.opts.MaxMessageBytes}
}

// On registers a handler for received events of eventType ("*" for all) on the inbound bus and starts
// listening.
func (br *Bridge) On(eventType string, fn abxbus.HandlerFunc, opts ...abxbus.HandlerOption) (*abxbus.Handler, error) {
	return br.in.On(eventType, fn, opts, br.Start)
}

// Forward is a HandlerFunc that sends every event it is given: wire an application bus to the bridge
// with bus.OnType("*", br.Forward). It returns no value.
func (br *Bridge) Forward(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
	return nil, br.Emit(ctx, e)
}

// Emit sends e as it is now: one PUBLISH (ModePubSub) or one XADD (ModeStreams) of its compact JSON.
// It returns once Redis accepted it; it does not start listening. Errors: the event does not encode
// or is larger than MaxMessageBytes (bridges.ErrTooLarge), Redis refused or could not be reached
// (after go-redis' retries, within ctx), no subscriber with RequireSubscriber (ErrNoSubscriber), the
// bridge is closed (bridges.ErrClosed).
func (br *Bridge) Emit(ctx context.Context, e *abxbus.BaseEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	br.mu.Lock()
	closed := br.closed
	br.mu.Unlock()
	if closed {
		return fmt.Errorf("redis bridge %s: %w", br.label, bridges.ErrClosed)
	}
	data, err := inbound.Encode(e, "redis bridge "+br.label, br.opts.MaxMessageBytes)
	if err != nil {
		return err
	}
	if br.opts.Mode == ModeStreams {
		if err := xadd(ctx, br.pub, br.stream, br.opts.MaxLen, fieldEvent, data); err != nil {
			return fmt.Errorf("redis bridge %s: XADD %s: %w", br.label, e, err)
		}
		return nil
	}
	n, err := br.pub.Publish(ctx, br.channel, data).Result()
	if err != nil {
		return fmt.Errorf("redis bridge %s: PUBLISH %s: %w", br.label, e, err)
	}
	if n == 0 && br.opts.RequireSubscriber {
		return fmt.Errorf("redis bridge %s: %w: %s", br.label, ErrNoSubscriber, e)
	}
	return nil
}

// xadd appends one entry (field, value pairs) to stream, trimmed to about maxLen entries.
func xadd(ctx context.Context, c *goredis.Client, stream string, maxLen int64, kv ...any) error {
	a := &goredis.XAddArgs{Stream: stream, Values: kv}
	if maxLen > 0 {
		a.MaxLen, a.Approx = maxLen, true
	}
	return c.XAdd(ctx, a).Err()
}

// Start connects and starts listening: in ModePubSub it returns once the server confirmed the
// SUBSCRIBE; in ModeStreams once the consumer group exists (created if needed). Calling it again does
// nothing; after Close it returns an error matching bridges.ErrClosed. Errors: Redis cannot be reached
// or refused the subscription or the group.
func (br *Bridge) Start() error {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.closed {
		return fmt.Errorf("redis bridge %s: %w", br.label, bridges.ErrClosed)
	}
	if br.started {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	var run func(ctx context.Context)
	var err error
	if br.opts.Mode == ModeStreams {
		run, err = br.startStreams(ctx)
	} else {
		run, err = br.startPubSub(ctx)
	}
	if err != nil {
		cancel()
		return fmt.Errorf("redis bridge %s: %w", br.label, err)
	}
	br.started, br.cancel, br.done = true, cancel, make(chan struct{})
	go func() {
		defer close(br.done)
		run(ctx)
	}()
	return nil
}

// Close stops listening, waits for the listener to end, lets the events already received finish on
// the inbound bus (at most Options.DrainTimeout; then the handlers still running are cancelled),
// destroys the bus and closes the connections. In ModeStreams the events that finish within
// DrainTimeout are acknowledged as they complete; an event whose handling had not finished by then
// stays unacknowledged and is delivered again (to this consumer when it starts again, or to another
// worker after ClaimIdle). Calling Close again does nothing.
func (br *Bridge) Close() error {
	br.mu.Lock()
	if br.closed {
		br.mu.Unlock()
		return nil
	}
	br.closed = true
	cancel, done, closers := br.cancel, br.done, br.closers
	br.mu.Unlock()
	drainEnd := time.Now().Add(br.opts.DrainTimeout)
	br.drainEnd.Store(drainEnd.UnixNano()) // before cancel: the acknowledger's calls end by then too
	if cancel != nil {
		cancel()
		for _, c := range closers {
			c()
		}
		<-done // Streams: the acknowledger settles the events completing within DrainTimeout first
	}
	// Events already received finish (at most DrainTimeout in all) before Destroy cancels what still runs.
	br.in.Close(time.Until(drainEnd), nil)
	return br.pub.Close()
}

// report logs a listener problem and passes it to OnError.
func (br *Bridge) report(msg string, err error, args ...any) {
	br.opts.Logger.Warn("[abxbus] redis bridge: "+msg, append([]any{"bridge", br.label, "error", err}, args...)...)
	if br.opts.OnError != nil {
		br.opts.OnError(fmt.Errorf("redis bridge %s: %s: %w", br.label, msg, err))
	}
}

// decode turns one message into a fresh pending event (D9), returning the original event id too.
func (br *Bridge) decode(data []byte) (*abxbus.BaseEvent, string, error) {
	sent, e, err := br.in.Decode(data)
	if err != nil {
		return nil, "", err
	}
	return e, sent.EventID(), nil
}

// echo reports whether e already went through the inbound bus (the bidirectional wiring sent it
// back): the bus would not accept it, so it would never complete; it is skipped as handled.
func (br *Bridge) echo(e *abxbus.BaseEvent) bool { return br.in.Echo(e) }

// backoff waits before the n-th reconnection attempt (50 ms doubling to 1 s), or until ctx ends.
func backoff(ctx context.Context, n int) bool {
	d := 50 * time.Millisecond << min(n, 5)
	d = min(d, time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func init() {
	for _, s := range []string{"redis", "rediss"} {
		if err := bridges.Register(s, open); err != nil {
			registerErr = errors.Join(registerErr, err)
		}
	}
}

// registerErr keeps a failed registration (another package took the scheme); New logs it once.
var (
	registerErr  error
	registerOnce sync.Once
)

// RegisterError returns the error of registering the "redis" and "rediss" schemes with bridges.Open
// when the package was loaded (another package had taken a scheme), or nil.
func RegisterError() error { return registerErr }
