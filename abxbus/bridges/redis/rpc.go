package redis

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/typedbus/abxbus-go/abxbus"
)

// DefaultCallStream is the request stream of NewServer and NewClient when their options name none.
const DefaultCallStream = "abxbus_calls"

// DefaultServerGroup is the consumer group of the servers of a request stream.
const DefaultServerGroup = "abxbus_servers"

// Request entry fields.
const (
	fieldCall     = "call"     // the call id
	fieldReply    = "reply"    // the caller's reply channel
	fieldDeadline = "deadline" // the caller's deadline, Unix milliseconds ("0": none)
	fieldRequire  = "require"  // "1": the caller needs a non-null result
)

// reply is what a server publishes on the caller's reply channel.
type reply struct {
	CallID string          `json:"call_id"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *CallError      `json:"error,omitempty"`
}

// CallError is the error a call's handler (or the server's bus) failed with, as it came back from the
// server: the error's type name (abxbus.ErrorType: "EventHandlerTimeoutError", the Go type name of a
// user error, ...), its text, and its code (an ErrorCode method of the error, else the code of the
// abxbus error kind it matched, as in abxbus.ServiceError: "handler_timeout", "no_handler", ...).
//
// errors.Is matches it against the sentinels of package abxbus and of package context that its code
// or its type name stand for (abxbus.ErrHandlerTimeout, abxbus.ErrNoHandler, context.DeadlineExceeded,
// ...), and against an *abxbus.ServiceError with the same non-empty Code, so an error kind declared as
//
//	var ErrDeclined = &abxbus.ServiceError{Code: "declined"}
//
// and returned by the server's handler is matched by errors.Is(err, ErrDeclined) in the caller.
type CallError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

func (e *CallError) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// ErrorCode returns Code.
func (e *CallError) ErrorCode() string { return e.Code }

// Is reports whether target is what e's code or type name stands for.
func (e *CallError) Is(target error) bool {
	if e.Code != "" && (&abxbus.ServiceError{Code: e.Code}).Is(target) {
		return true
	}
	return (&abxbus.RemoteError{Type: e.Type}).Is(target)
}

// callErrorOf describes err for the wire.
func callErrorOf(err error) *CallError {
	return &CallError{Type: abxbus.ErrorType(err), Message: err.Error(), Code: abxbus.ErrorCode(err)}
}

// ServerOptions configure a Server. The zero value (or nil) gives the defaults.
type ServerOptions struct {
	// Stream is the request stream (default DefaultCallStream). Clients must use the same.
	Stream string
	// Group is the servers' consumer group (default DefaultServerGroup): each call goes to one server
	// of the group.
	Group string
	// Consumer is this server's name in the group (default "<host>-<pid>", which changes at every
	// restart: the calls the old process had not acknowledged are taken over after ClaimIdle, and the
	// old name stays in the group). Set a name that stays the same across the server's restarts.
	Consumer string
	// Registry decodes known request types into their Go payload types (nil: untyped events, which
	// typed handlers also accept).
	Registry *abxbus.Registry
	// Concurrency is how many calls run at once (default 64).
	Concurrency int
	// ClaimIdle is how long a call taken by a server may stay unanswered before another server of the
	// group takes it over (default 30 s): a call of a server that died is answered by another one (and
	// may run twice). Keep it above the longest call.
	ClaimIdle time.Duration
	// Logger receives refused requests and connection problems (default slog.Default()).
	Logger *slog.Logger
	// Client configures the go-redis clients; nil: from the address.
	Client *goredis.Options
}

// Server answers calls from other processes (NewClient, Call) with the handlers of a local bus. Its
// methods are safe for concurrent use.
type Server struct {
	br     *Bridge
	target *abxbus.Bus
	sem    chan struct{}
	wg     sync.WaitGroup
	life   context.Context // ends at Close: calls under way stop waiting for their handlers
	end    context.CancelFunc
}

// NewServer makes a server that emits every call arriving on the request stream of the Redis server at
// address (redis://[user:pass@]host[:port][/<db>]) on bus, and replies with the outcome of its handlers:
// the first non-null result, or the handler's error. It does not connect until Start. Errors: those of
// New for the address, a nil bus.
func NewServer(address string, bus *abxbus.Bus, opts *ServerOptions) (*Server, error) {
	if bus == nil {
		return nil, fmt.Errorf("%w: redis call server: nil bus", abxbus.ErrInvalidOption)
	}
	var so ServerOptions
	if opts != nil {
		so = *opts
	}
	if so.Stream == "" {
		so.Stream = DefaultCallStream
	}
	if so.Group == "" {
		so.Group = DefaultServerGroup
	}
	if so.Concurrency <= 0 {
		so.Concurrency = 64
	}
	o := (&Options{Name: "RedisCallServer", Mode: ModeStreams, Stream: so.Stream, Group: so.Group,
		Consumer: so.Consumer, Registry: so.Registry, ClaimIdle: so.ClaimIdle, Logger: so.Logger,
		Client: so.Client, QueueSize: so.Concurrency, MaxDeliveries: 3}).withDefaults()
	u, err := url.Parse(address)
	if err != nil {
		return nil, fmt.Errorf("%w: redis call server address %q: %v", abxbus.ErrInvalidOption, address, err)
	}
	br, err := newFromURL(u, o)
	if err != nil {
		return nil, err
	}
	s := &Server{br: br, target: bus, sem: make(chan struct{}, so.Concurrency)}
	s.life, s.end = context.WithCancel(context.Background())
	br.deliverFn = s.deliver
	return s, nil
}

// Start joins the group (creating it and the stream if needed) and starts answering calls. Calling it
// again does nothing. Errors: Redis cannot be reached, the server is closed.
func (s *Server) Start() error { return s.br.Start() }

// Close stops taking calls, stops waiting for the handlers of the calls under way (they keep running on
// the bus; their callers get no reply from this server) and closes the connections. A call taken but
// not answered stays pending and is answered by another server (after ClaimIdle) or by this one when
// it starts again. It does not touch the bus.
func (s *Server) Close() error {
	s.end()
	err := s.br.Close()
	s.wg.Wait()
	return err
}

// deliver runs one call in its own goroutine (at most Concurrency at once); the returned wait reports
// whether the reply was published, so the request is acknowledged only then.
func (s *Server) deliver(ctx context.Context, it *item) func(ctx context.Context) (error, bool) {
	if it.refused != nil {
		return nil
	}
	e, _, err := s.br.decode([]byte(it.raw))
	if err != nil {
		it.refused = err
		return nil
	}
	callID, _ := it.values[fieldCall].(string)
	replyTo, _ := it.values[fieldReply].(string)
	if callID == "" || replyTo == "" {
		it.refused = fmt.Errorf("a request without %q or %q", fieldCall, fieldReply)
		return nil
	}
	dl, _ := it.values[fieldDeadline].(string)
	ms, _ := strconv.ParseInt(dl, 10, 64)
	require, _ := it.values[fieldRequire].(string)
	cctx, cancel := context.WithCancel(s.life)
	if ms > 0 {
		deadline := time.UnixMilli(ms)
		if time.Now().After(deadline) {
			cancel()
			s.br.opts.Logger.Info("[abxbus] redis call server: dropping a call whose caller gave up", "call", callID, "event", e.String())
			return func(context.Context) (error, bool) { return nil, true }
		}
		cctx, cancel = context.WithDeadline(cctx, deadline)
	}
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		cancel()
		return func(context.Context) (error, bool) { return nil, false }
	}
	// The outcome is stored once and done closed, so the wait may be called any number of times (the
	// acknowledger's look-ahead calls it, then calls it again for an entry it carries over).
	done := make(chan struct{})
	var result error
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		defer cancel()
		result = s.serve(cctx, e, callID, replyTo, require == "1")
		close(done)
	}()
	return func(ctx context.Context) (error, bool) {
		select {
		case <-done:
		case <-ctx.Done():
			select {
			case <-done:
			default:
				return nil, false
			}
		}
		if result == errServerClosing {
			return nil, false
		}
		return result, true
	}
}

var errServerClosing = errors.New("redis call server closing")

// serve runs one call on the target bus and publishes its reply.
func (s *Server) serve(ctx context.Context, e *abxbus.BaseEvent, callID, replyTo string, require bool) error {
	r := reply{CallID: callID}
	if _, err := s.target.Emit(ctx, e); err != nil {
		r.Error = callErrorOf(err)
	} else if v, err := e.Result(ctx, abxbus.ResultOptions{RequireResult: require}); err != nil {
		if s.life.Err() != nil {
			return errServerClosing // left pending: answered by another server or after a restart
		}
		if ctx.Err() != nil {
			return nil // the caller gave up: nobody waits for a reply
		}
		r.Error = callErrorOf(err)
	} else if len(e.Results()) == 0 {
		r.Error = callErrorOf(fmt.Errorf("%w %s on %s", abxbus.ErrNoHandler, e.Type(), s.target))
	} else if v != nil {
		raw, err := json.Marshal(v)
		if err != nil {
			r.Error = callErrorOf(fmt.Errorf("the result of %s does not encode: %w", e, err))
		} else {
			r.Result = raw
		}
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := s.br.pub.Publish(context.WithoutCancel(ctx), replyTo, data).Err(); err != nil {
		return fmt.Errorf("publishing the reply to %s: %w", replyTo, err)
	}
	return nil
}

// randomID returns 128 random bits in hex.
func randomID() string { return rand.Text() }

// ClientOptions configure a Client. The zero value (or nil) gives the defaults.
type ClientOptions struct {
	// Stream is the request stream (default DefaultCallStream).
	Stream string
	// MaxLen bounds the request stream's length (default DefaultMaxLen, approximate).
	MaxLen int64
	// Logger receives connection problems (default slog.Default()).
	Logger *slog.Logger
	// Client configures the go-redis clients; nil: from the address.
	Client *goredis.Options
}

// Client calls handlers in other processes (a Server) over Redis. Its methods are safe for concurrent
// use.
type Client struct {
	br      *Bridge
	stream  string
	maxLen  int64
	replyTo string

	mu      sync.Mutex
	pending map[string]chan *reply
}

// NewClient connects to the Redis server at address (redis://[user:pass@]host[:port][/<db>]) and
// subscribes to the client's own reply channel ("abxbus_reply:<random id>"); it returns once the
// subscription is confirmed. Errors: those of New for the address, Redis cannot be reached.
func NewClient(address string, opts *ClientOptions) (*Client, error) {
	var co ClientOptions
	if opts != nil {
		co = *opts
	}
	if co.Stream == "" {
		co.Stream = DefaultCallStream
	}
	if co.MaxLen == 0 {
		co.MaxLen = DefaultMaxLen
	}
	replyTo := "abxbus_reply:" + randomID()
	o := (&Options{Name: "RedisCallClient", Channel: replyTo, Logger: co.Logger, Client: co.Client}).withDefaults()
	u, err := url.Parse(address)
	if err != nil {
		return nil, fmt.Errorf("%w: redis call client address %q: %v", abxbus.ErrInvalidOption, address, err)
	}
	br, err := newFromURL(u, o)
	if err != nil {
		return nil, err
	}
	c := &Client{br: br, stream: co.Stream, maxLen: co.MaxLen, replyTo: replyTo, pending: map[string]chan *reply{}}
	br.onRaw = c.onReply
	if err := br.Start(); err != nil {
		br.Close()
		return nil, err
	}
	return c, nil
}

// onReply hands a reply to its call; replies to calls that gave up are dropped.
func (c *Client) onReply(payload string) {
	var r reply
	if err := json.Unmarshal([]byte(payload), &r); err != nil || r.CallID == "" {
		c.br.report("skipping a reply that does not parse", fmt.Errorf("%d bytes: %v", len(payload), err))
		return
	}
	c.mu.Lock()
	ch := c.pending[r.CallID]
	delete(c.pending, r.CallID)
	c.mu.Unlock()
	if ch != nil {
		ch <- &r
	}
}

// Close ends the reply subscription; calls still waiting return an error.
func (c *Client) Close() error {
	err := c.br.Close()
	c.mu.Lock()
	for id, ch := range c.pending {
		delete(c.pending, id)
		close(ch)
	}
	c.mu.Unlock()
	return err
}

var errClientClosed = errors.New("redis call client closed")

// CallEvent sends e (as it is now) to the servers of the request stream and returns the JSON of its
// result (null when the handlers returned none), or the error the handler failed with (a *CallError),
// once a server replied. ctx bounds the call: the server drops a request whose caller's deadline
// passed, and stops waiting for its handlers then. Calls are at least once: a call taken by a server
// that died before replying is run again by another server of the group (after its ClaimIdle), and a
// reply published while this client's connection was being re-established is lost (the call then ends
// with ctx), so handlers that must not act twice should dedupe on a key of the payload. Errors: ctx
// ended (no reply in time), the request could not be sent, the client is closed.
func (c *Client) CallEvent(ctx context.Context, e *abxbus.BaseEvent) (json.RawMessage, error) {
	return c.call(ctx, e, false)
}

func (c *Client) call(ctx context.Context, e *abxbus.BaseEvent, require bool) (json.RawMessage, error) {
	data, err := e.ToJSON()
	if err != nil {
		return nil, err
	}
	callID := randomID()
	ch := make(chan *reply, 1)
	c.mu.Lock()
	if c.br.isClosed() {
		c.mu.Unlock()
		return nil, fmt.Errorf("call %s: %w", e, errClientClosed)
	}
	c.pending[callID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, callID)
		c.mu.Unlock()
	}()
	var deadline int64
	if d, ok := ctx.Deadline(); ok {
		deadline = d.UnixMilli()
	}
	req := "0"
	if require {
		req = "1"
	}
	if err := xadd(ctx, c.br.pub, c.stream, c.maxLen, fieldEvent, data, fieldCall, callID, fieldReply, c.replyTo,
		fieldDeadline, deadline, fieldRequire, req); err != nil {
		return nil, fmt.Errorf("call %s: sending the request to %s: %w", e, c.stream, err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			return nil, fmt.Errorf("call %s: %w while waiting for the reply", e, errClientClosed)
		}
		if r.Error != nil {
			return nil, r.Error
		}
		if len(r.Result) == 0 {
			return json.RawMessage("null"), nil
		}
		return r.Result, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("call %s: no reply: %w", e, context.Cause(ctx))
	}
}

// Call sends a request with payload p to the servers of c's request stream and returns the result of
// its handler there, decoded into R, or the handler's error (a *CallError, matched by errors.Is against
// the same abxbus sentinels as a local error). For a result type other than abxbus.Void, a reply
// without a result is an error matching abxbus.ErrNoResult. ctx bounds the call (see
// Client.CallEvent).
func Call[P abxbus.Payload[R], R any](ctx context.Context, c *Client, p P) (R, error) {
	var zero R
	void := reflect.TypeFor[R]() == reflect.TypeFor[abxbus.Void]()
	raw, err := c.call(ctx, abxbus.NewEvent(p).Base(), !void)
	if err != nil || void {
		return zero, err
	}
	var r R
	if err := json.Unmarshal(raw, &r); err != nil {
		return zero, fmt.Errorf("the reply's result %.200s does not decode into %T: %w", raw, zero, err)
	}
	return r, nil
}
