// Package httpbridge is the HTTP bridge of abxbus: a process sends an event by POSTing its JSON to
// another process's URL, which answers 202 once the event is queued on its inbound bus. The request
// and the answers are those of the TypeScript and Python HTTPEventBridge, so Go and TS processes send
// events to each other in both directions.
//
// # Wire
//
// Emit POSTs the compact event JSON (ToJSON of the event as it is now) with content-type
// application/json to the send URL; any 2xx answer is success. The listener serves exactly one path,
// the path and query of its listen URL, and answers:
//
//   - 202 "accepted": the event was decoded, reset (a fresh id, pending) and emitted on the inbound
//     bus; with Options.AckAfterHandled, only once its handlers finished there. An event whose
//     event_path already names the inbound bus (its own event sent back) is answered 202 at once and
//     not emitted again.
//   - 400 "invalid json": the body is not JSON (empty, gzip, truncated).
//   - 500 "failed to process event: <reason>": JSON that is not a valid event (not an object, a
//     timestamp with an offset, an unknown event_* key). The TS listener answers 500 here too; ours
//     adds the header Abxbus-Refused: event, which tells a Go emitter not to retry it.
//     An event the inbound bus refuses (its type is bound there to another Go type) gets the same
//     answer.
//   - 405 "method not allowed" for a method other than POST, 404 "not found" for another path
//     (including the path with another query or a trailing slash).
//   - 401 "unauthorized" when Options.Token is set and the request does not carry it as a bearer
//     token; 413 "request body too large" above Options.MaxBodyBytes; 503 when the bridge is closing.
//
// The content type of a request is ignored and chunked bodies are read, as TS does. A JSON array is
// refused (TS accepts it as one junk event).
//
// # Delivery
//
// Emit returns nil only when the listener answered 2xx. Every other outcome is an error (a
// *SendError) naming the URL and the status or the connection error, so an event is never lost
// without its emitter knowing. Connection errors, 429 and 5xx answers (except 501, 505 and the
// refused-event 500) are retried with exponential backoff, up to Options.MaxAttempts attempts, within
// ctx. A retry can reach the listener twice (the first answer was lost, not the request): a Go
// listener remembers the sender's event ids of its last Options.DedupeSize requests and answers a
// repeated one without emitting it again; a TS listener delivers it twice.
//
// Events from one emitter that awaits each Emit are received in that order. Concurrent Emit calls are
// sent concurrently (over a pool of keep-alive connections) and may arrive in any order.
//
// # Security
//
// Options.Token adds a bearer token (sent by the emitter, required by the listener). TLS uses
// net/http's own configuration: an https send URL with Options.TLSConfig (or your own
// Options.Client), and an https listen URL served with Options.TLSConfig's certificates. TS listeners
// speak plain http only; TS emitters speak https too.
package httpbridge

import (
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inbound"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inflight"
)

// Defaults of Options.
const (
	// DefaultDrainTimeout is how long Close waits for received events to be handled.
	DefaultDrainTimeout = inflight.DefaultDrainTimeout
	// DefaultMaxBodyBytes is the largest event JSON sent or accepted (4 MiB).
	DefaultMaxBodyBytes = 4 << 20
	// DefaultMaxAttempts is how many times Emit tries one event.
	DefaultMaxAttempts = 4
	// DefaultDedupeSize is how many sender event ids a listener remembers.
	DefaultDedupeSize = 4096
	// DefaultQueueSize is how many received events may be queued or running on the inbound bus.
	DefaultQueueSize = 1024
)

// RefusedHeader is the response header a Go listener sets on its 500 answer to an invalid event, so
// that Go emitters do not retry a request that can never succeed. TS emitters ignore it.
const RefusedHeader = "Abxbus-Refused"

// Options configure a Bridge. The zero value (or nil) gives the defaults.
type Options struct {
	// Name is the inbound bus name (default "HTTPEventBridge"); its label joins event_path.
	Name string
	// ListenOn is the URL to serve, http://host:port/path (port 0 picks a free one; see ListenURL),
	// or https:// with TLSConfig. Empty: the bridge only sends.
	ListenOn string
	// Registry decodes known event types into their Go payload types (nil: untyped events).
	Registry *abxbus.Registry
	// Logger receives refused requests and server errors (default slog.Default()).
	Logger *slog.Logger
	// OnError, when set, is also called with every refused request (a *RequestError), from the
	// request's goroutine; calls may be concurrent.
	OnError func(err error)
	// BusOptions are extra options of the inbound bus (timeouts, lock domain); its history size is 0.
	BusOptions *abxbus.Options
	// MaxBodyBytes is the largest event JSON: Emit refuses a larger event with an error matching
	// bridges.ErrTooLarge without sending it, and the listener answers 413 to a larger body without
	// reading it all (default DefaultMaxBodyBytes).
	MaxBodyBytes int
	// Token, when set, is sent by Emit as "Authorization: Bearer <Token>" and required by the listener
	// (401 otherwise; compared in constant time).
	Token string
	// TLSConfig is the TLS configuration of the default client (for an https send URL: RootCAs,
	// client certificates) and of an https listener (Certificates or GetCertificate required).
	TLSConfig *tls.Config
	// Client sends the requests (default: a client of its own with TLSConfig, whose idle connections
	// Close closes). Its Timeout, if any, applies to each attempt.
	Client *http.Client
	// MaxAttempts is how many times Emit tries an event on connection errors, 429 and retryable 5xx
	// answers (default DefaultMaxAttempts; 1: no retry).
	MaxAttempts int
	// RetryBackoff is the wait before the second attempt, doubled for each further one up to
	// MaxRetryBackoff, with jitter (defaults 50 ms and 2 s).
	RetryBackoff    time.Duration
	MaxRetryBackoff time.Duration
	// AttemptTimeout bounds one attempt (connect, send, answer), within Emit's ctx (default 30 s).
	AttemptTimeout time.Duration
	// AckAfterHandled makes the listener answer 202 only when the event's handlers on the inbound bus
	// (and on the buses it reaches from there while they run) finished, so that a successful Emit
	// means the receiver handled the event. Handler errors still answer 202: results never cross a
	// bridge. Emitters then wait as long as the handlers take; raise AttemptTimeout to match.
	AckAfterHandled bool
	// DedupeSize is how many sender event ids the listener remembers to answer a retried POST without
	// delivering it twice (default DefaultDedupeSize; negative: no deduplication).
	DedupeSize int
	// QueueSize is how many received events may be queued or running on the inbound bus at once;
	// when that many are, requests wait (and emitters with them) until the oldest completes (default
	// DefaultQueueSize).
	QueueSize int
	// ReadTimeout bounds reading one request, headers and body, on the listener (default 1 min).
	ReadTimeout time.Duration
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
		r.Name = "HTTPEventBridge"
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.MaxBodyBytes <= 0 {
		r.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if r.MaxAttempts <= 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.RetryBackoff <= 0 {
		r.RetryBackoff = 50 * time.Millisecond
	}
	if r.MaxRetryBackoff <= 0 {
		r.MaxRetryBackoff = 2 * time.Second
	}
	r.MaxRetryBackoff = max(r.MaxRetryBackoff, r.RetryBackoff)
	if r.AttemptTimeout <= 0 {
		r.AttemptTimeout = 30 * time.Second
	}
	if r.DedupeSize == 0 {
		r.DedupeSize = DefaultDedupeSize
	}
	if r.QueueSize <= 0 {
		r.QueueSize = DefaultQueueSize
	}
	if r.ReadTimeout <= 0 {
		r.ReadTimeout = time.Minute
	}
	if r.DrainTimeout == 0 {
		r.DrainTimeout = DefaultDrainTimeout
	}
	return r
}

// Bridge is one process's end of the HTTP bridge: it sends to one URL, serves one URL, or both. Its
// methods are safe for concurrent use.
type Bridge struct {
	opts     Options
	sendURL  string
	listenOn *url.URL
	path     string // the request target served: path and query of listenOn
	bus      *abxbus.Bus
	client   *http.Client
	ownTr    *http.Transport // the default client's transport, closed by Close

	in *inbound.Inbound // owns bus and the queue window
	dd *dedupe

	stop       context.Context // cancelled by Close: wakes waiting requests
	stopCancel context.CancelFunc

	mu        sync.Mutex
	started   bool
	closed    bool
	srv       *http.Server
	serveDone chan struct{}
	listenURL string

	hmu      sync.Mutex     // orders a request's handlers.Add before Close's handlers.Wait
	hclosed  bool           // Close waits for the handlers: no request is served any more
	handlers sync.WaitGroup // the requests being served
}

// registerErr is the error of registering the "http" and "https" schemes, if any; New reports it.
var registerErr error

func init() {
	for _, s := range []string{"http", "https"} {
		if err := bridges.Register(s, open); err != nil {
			registerErr = errors.Join(registerErr, err)
		}
	}
}

// open is the bridges.Opener of http:// and https:// addresses: a sending bridge, or with
// OpenOptions.Listen a listener on the address.
func open(_ context.Context, u *url.URL, o bridges.OpenOptions) (bridges.Bridge, error) {
	opts := &Options{Name: o.Name, Logger: o.Logger, BusOptions: o.BusOptions}
	if o.Listen {
		opts.ListenOn = u.String()
		return New("", opts)
	}
	return New(u.String(), opts)
}

// New creates a bridge that sends to sendTo (an http:// or https:// URL; empty: the bridge does not
// send) and, with opts.ListenOn, serves that URL once started (Start or On). It does not connect or
// listen yet. Errors (matching abxbus.ErrInvalidOption): a URL that does not parse or has another
// scheme or no host, neither URL given, an https listener without certificates, invalid bus options.
func New(sendTo string, opts *Options) (*Bridge, error) {
	if registerErr != nil {
		return nil, fmt.Errorf("httpbridge: %w", registerErr)
	}
	o := opts.withDefaults()
	br := &Bridge{opts: o, dd: newDedupe(o.DedupeSize)}
	if sendTo == "" && o.ListenOn == "" {
		return nil, fmt.Errorf("%w: httpbridge: neither a send URL nor Options.ListenOn", abxbus.ErrInvalidOption)
	}
	if sendTo != "" {
		u, err := parseURL("send", sendTo)
		if err != nil {
			return nil, err
		}
		br.sendURL = u.String()
	}
	if o.ListenOn != "" {
		u, err := parseURL("listen", o.ListenOn)
		if err != nil {
			return nil, err
		}
		if u.Scheme == "https" {
			c := o.TLSConfig
			if c == nil || (len(c.Certificates) == 0 && c.GetCertificate == nil && c.GetConfigForClient == nil) {
				return nil, fmt.Errorf("%w: httpbridge: listen URL %s is https but Options.TLSConfig has no certificate", abxbus.ErrInvalidOption, o.ListenOn)
			}
		}
		br.listenOn = u
		br.path = u.EscapedPath()
		if br.path == "" {
			br.path = "/"
		}
		if u.RawQuery != "" {
			br.path += "?" + u.RawQuery
		}
	}
	br.client = o.Client
	if br.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = o.TLSConfig
		tr.MaxIdleConnsPerHost = 16
		br.client, br.ownTr = &http.Client{Transport: tr}, tr
	}
	in, err := inbound.New(inbound.Options{Name: o.Name, BusOptions: o.BusOptions, Logger: o.Logger, Registry: o.Registry, QueueSize: o.QueueSize})
	if err != nil {
		return nil, fmt.Errorf("httpbridge: %w", err)
	}
	br.in, br.bus = in, in.Bus()
	br.stop, br.stopCancel = context.WithCancel(context.Background())
	return br, nil
}

func parseURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: httpbridge: %s URL %q: %v", abxbus.ErrInvalidOption, what, raw, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%w: httpbridge: %s URL %q must be http:// or https://", abxbus.ErrInvalidOption, what, raw)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%w: httpbridge: %s URL %q has no host", abxbus.ErrInvalidOption, what, raw)
	}
	return u, nil
}

// Bus returns the inbound bus: register handlers on it (or use On) to receive events.
func (br *Bridge) Bus() *abxbus.Bus { return br.bus }

// SendURL returns the URL Emit posts to ("" for a listen-only bridge).
func (br *Bridge) SendURL() string { return br.sendURL }

// ListenURL returns the URL the listener serves, with the port it actually bound, once started; ""
// before Start and for a send-only bridge.
func (br *Bridge) ListenURL() string {
	br.mu.Lock()
	defer br.mu.Unlock()
	return br.listenURL
}

// Features reports point-to-point, ordered delivery for an emitter that awaits each Emit, with no
// durability, and the body limit.
func (br *Bridge) Features() bridges.Features {
	return bridges.Features{Ordered: true, MaxMessageBytes: br.opts.MaxBodyBytes}
}

// On registers a handler for received events of eventType ("*" for all) on the inbound bus and
// starts the listener (if the bridge has a listen URL).
func (br *Bridge) On(eventType string, fn abxbus.HandlerFunc, opts ...abxbus.HandlerOption) (*abxbus.Handler, error) {
	return br.in.On(eventType, fn, opts, br.Start)
}

// Forward is a HandlerFunc that sends every event it is given: wire an application bus to the bridge
// with bus.OnType("*", br.Forward). It returns no value, so it never counts as a result.
func (br *Bridge) Forward(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
	return nil, br.Emit(ctx, e)
}

// SendError is the error of an Emit that did not get a 2xx answer. It names the URL, the last status
// (0 when no answer came) with the start of the answer's body, or the connection error, and how many
// attempts were made.
type SendError struct {
	URL      string
	Status   int    // the last answer's status; 0 when there was none
	Body     string // the start of the last answer's body
	Attempts int
	Err      error // the last connection error, or ctx's error; nil when the last attempt got an answer
}

func (e *SendError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "httpbridge: POST %s: ", e.URL)
	if e.Status != 0 {
		fmt.Fprintf(&b, "status %d %s", e.Status, http.StatusText(e.Status))
		if e.Body != "" {
			fmt.Fprintf(&b, " (%q)", e.Body)
		}
		if e.Err != nil {
			fmt.Fprintf(&b, ", then %v", e.Err)
		}
	} else {
		b.WriteString(fmt.Sprint(e.Err))
	}
	fmt.Fprintf(&b, " after %d attempt", e.Attempts)
	if e.Attempts != 1 {
		b.WriteString("s")
	}
	return b.String()
}

func (e *SendError) Unwrap() error { return e.Err }

// Emit POSTs e's JSON, as it is now, to the send URL and returns when the listener answered 2xx (202
// from a Go or TS listener: queued on its inbound bus, or handled with AckAfterHandled). It does not
// start the listener. Connection errors, 429 and retryable 5xx answers are retried (see Options),
// within ctx. Errors: a *SendError naming the URL and the last status or connection error (it
// matches ctx's error when ctx ended), an error matching bridges.ErrTooLarge for an event above
// MaxBodyBytes (nothing sent), bridges.ErrClosed after Close, abxbus.ErrInvalidOption for a bridge
// without a send URL, or the event's encoding error.
func (br *Bridge) Emit(ctx context.Context, e *abxbus.BaseEvent) error {
	br.mu.Lock()
	closed := br.closed
	br.mu.Unlock()
	if closed {
		return fmt.Errorf("httpbridge: POST %s: %w", br.sendURL, bridges.ErrClosed)
	}
	if br.sendURL == "" {
		return fmt.Errorf("%w: httpbridge %s: Emit needs a send URL (the bridge only listens)", abxbus.ErrInvalidOption, br.opts.Name)
	}
	if err := ctx.Err(); err != nil {
		return &SendError{URL: br.sendURL, Err: err}
	}
	body, err := inbound.Encode(e, "httpbridge: POST "+br.sendURL, br.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	se := &SendError{URL: br.sendURL}
	for attempt := 1; ; attempt++ {
		se.Attempts = attempt
		retry := br.attempt(ctx, body, se)
		if !retry {
			if se.Err == nil && se.Status/100 == 2 {
				return nil
			}
			return se
		}
		if attempt >= br.opts.MaxAttempts {
			return se
		}
		d := min(br.opts.RetryBackoff<<(attempt-1), br.opts.MaxRetryBackoff)
		if d <= 0 { // shifted out of range
			d = br.opts.MaxRetryBackoff
		}
		d = d/2 + rand.N(d/2+1)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			se.Err = ctx.Err()
			return se
		}
	}
}

// attempt makes one POST and records its outcome in se; it reports whether another attempt may
// succeed.
func (br *Bridge) attempt(ctx context.Context, body []byte, se *SendError) (retry bool) {
	actx, cancel := context.WithTimeout(ctx, br.opts.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, br.sendURL, bytes.NewReader(body))
	if err != nil {
		se.Err = err
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	if br.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+br.opts.Token)
	}
	resp, err := br.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // it repeats the method and the URL, which SendError names already
			err = ue.Err
		}
		se.Err = err
		if ctx.Err() != nil {
			se.Err = fmt.Errorf("%w (%v)", ctx.Err(), err)
			return false
		}
		return true // no answer: refused, reset, timed out; the listener may be back soon
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	resp.Body.Close()
	se.Status, se.Body, se.Err = resp.StatusCode, strings.TrimSpace(string(head)), nil
	switch s := resp.StatusCode; {
	case s/100 == 2:
		return false
	case s == http.StatusTooManyRequests:
		return true
	case s/100 == 5:
		return s != http.StatusNotImplemented && s != http.StatusHTTPVersionNotSupported && resp.Header.Get(RefusedHeader) == ""
	}
	return false
}

// Start starts serving the listen URL; for a send-only bridge it does nothing. It returns once the
// port is bound, so an emitter may post at once. Calling it again does nothing; after Close it returns
// an error matching bridges.ErrClosed. Errors: the address cannot be bound.
func (br *Bridge) Start() error {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.closed {
		return fmt.Errorf("httpbridge %s: %w", br.opts.Name, bridges.ErrClosed)
	}
	if br.started || br.listenOn == nil {
		return nil
	}
	host := br.listenOn.Host
	if br.listenOn.Port() == "" {
		port := "80"
		if br.listenOn.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(br.listenOn.Hostname(), port)
	}
	ln, err := net.Listen("tcp", host)
	if err != nil {
		return fmt.Errorf("httpbridge: listen on %s: %w", br.listenOn, err)
	}
	u := *br.listenOn
	u.Host = ln.Addr().String()
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && br.listenOn.Hostname() != "" && !tcp.IP.IsUnspecified() {
		u.Host = net.JoinHostPort(br.listenOn.Hostname(), fmt.Sprint(tcp.Port))
	}
	br.listenURL = u.String()
	srv := &http.Server{
		Handler:           http.HandlerFunc(br.serve),
		ReadHeaderTimeout: min(br.opts.ReadTimeout, 10*time.Second),
		ReadTimeout:       br.opts.ReadTimeout,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(br.opts.Logger.Handler(), slog.LevelWarn),
	}
	if br.listenOn.Scheme == "https" {
		srv.TLSConfig = br.opts.TLSConfig.Clone()
	}
	br.srv, br.serveDone, br.started = srv, make(chan struct{}), true
	go func() {
		defer close(br.serveDone)
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			br.opts.Logger.Error("[abxbus] http bridge: server stopped", "url", br.listenURL, "error", err)
		}
	}()
	return nil
}

// Close stops the listener (requests waiting for a queue slot or for their handlers are answered 503),
// waits for its goroutines and the requests being served (those still running after a grace of 5 s
// have their connections closed, and Close waits for their handlers to return), waits up to Options.DrainTimeout for the events already answered 202 to be
// handled, destroys the inbound bus (cancelling what is left) and closes the default client's idle
// connections. Its error says how many events the drain timeout cut short. It is safe to call more
// than once (later calls return nil); Emit and Start fail afterwards.
func (br *Bridge) Close() error {
	br.mu.Lock()
	if br.closed {
		br.mu.Unlock()
		return nil
	}
	br.closed = true
	srv, done := br.srv, br.serveDone
	br.mu.Unlock()
	br.stopCancel()
	if srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close() // closes the connections of the requests still served; it does not wait for them
		}
		cancel()
		<-done
		// The handlers of the requests cut off by srv.Close return once their reads and writes fail.
		br.hmu.Lock()
		br.hclosed = true
		br.hmu.Unlock()
		br.handlers.Wait()
	}
	err := br.in.Close(br.opts.DrainTimeout, func(n int) error {
		br.opts.Logger.Warn("[abxbus] http bridge: received events cut short by Close", "unfinished", n, "drain_timeout", br.opts.DrainTimeout, "url", br.listenURL)
		return fmt.Errorf("httpbridge %s: Close: %d received event(s) not handled within the drain timeout of %v were cancelled", br.opts.Name, n, br.opts.DrainTimeout)
	})
	if br.ownTr != nil {
		br.ownTr.CloseIdleConnections()
	}
	return err
}

// RequestError describes a request the listener refused: its status, the reason, and the remote
// address. It is logged and passed to Options.OnError.
type RequestError struct {
	Status int
	Reason string
	Remote string
	Err    error // the decoding error of a refused event, if that was the reason
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("httpbridge: refused a request from %s with %d: %s", e.Remote, e.Status, e.Reason)
}

func (e *RequestError) Unwrap() error { return e.Err }

func (br *Bridge) refuse(w http.ResponseWriter, r *http.Request, status int, body, reason string, cause error) {
	http.Error(w, body, status)
	re := &RequestError{Status: status, Reason: reason, Remote: r.RemoteAddr, Err: cause}
	br.opts.Logger.Warn("[abxbus] http bridge: refused a request", "status", status, "reason", reason, "remote", r.RemoteAddr, "url", br.listenURL)
	if br.opts.OnError != nil {
		br.opts.OnError(re)
	}
}

// serve is the listener's handler: the checks in TS's order (method, path), then ours (token, size),
// then the body.
func (br *Bridge) serve(w http.ResponseWriter, r *http.Request) {
	br.hmu.Lock()
	if br.hclosed {
		br.hmu.Unlock()
		http.Error(w, "bridge closing", http.StatusServiceUnavailable)
		return
	}
	br.handlers.Add(1)
	br.hmu.Unlock()
	defer br.handlers.Done()
	br.serveRequest(w, r)
}

// serveRequest serves one request (see serve).
func (br *Bridge) serveRequest(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		br.refuse(w, r, http.StatusMethodNotAllowed, "method not allowed", "method "+r.Method, nil)
		return
	}
	if r.RequestURI != br.path {
		br.refuse(w, r, http.StatusNotFound, "not found", "path "+r.RequestURI, nil)
		return
	}
	if tok := br.opts.Token; tok != "" {
		got := r.Header.Get("Authorization")
		if subtle.ConstantTimeCompare([]byte(got), []byte("Bearer "+tok)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="abxbus"`)
			br.refuse(w, r, http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token", nil)
			return
		}
	}
	limit := int64(br.opts.MaxBodyBytes)
	if r.ContentLength > limit {
		br.refuse(w, r, http.StatusRequestEntityTooLarge, "request body too large",
			fmt.Sprintf("body of %d bytes, the limit is %d", r.ContentLength, limit), nil)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			br.refuse(w, r, http.StatusRequestEntityTooLarge, "request body too large",
				fmt.Sprintf("body above the limit of %d bytes", limit), nil)
			return
		}
		br.refuse(w, r, http.StatusBadRequest, "unreadable body", "reading the body: "+err.Error(), err)
		return
	}
	if !json.Valid(body) {
		br.refuse(w, r, http.StatusBadRequest, "invalid json", "the body is not JSON", nil)
		return
	}
	in, ev, err := br.in.Decode(body)
	if err != nil {
		w.Header().Set(RefusedHeader, "event")
		br.refuse(w, r, http.StatusInternalServerError, "failed to process event: "+err.Error(), "invalid event", err)
		return
	}
	if br.in.Echo(ev) {
		// This bus's own event sent back (bidirectional wiring): the bus would skip it, so it would
		// never complete and would hold a queue slot for good. It was handled here already.
		br.opts.Logger.Debug("[abxbus] http bridge: echoed event, not delivered again", "event_id", in.EventID(), "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "accepted")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(br.stop, cancel)()

	id := in.EventID()
	var en *seenEntry
	for br.dd != nil {
		var first bool
		if en, first = br.dd.claim(id); first {
			break
		}
		select { // an earlier request with this id is being processed: take its outcome
		case <-en.ready:
		case <-ctx.Done():
			br.refuse(w, r, http.StatusServiceUnavailable, "bridge closing", "closing while a duplicate waited", nil)
			return
		}
		if dup := en.event; dup != nil {
			if br.opts.AckAfterHandled && !br.waitHandled(w, r, ctx, dup) {
				return
			}
			br.opts.Logger.Debug("[abxbus] http bridge: duplicate event id, not delivered again", "event_id", id, "remote", r.RemoteAddr)
			w.Header().Set("Abxbus-Duplicate", "1")
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, "accepted")
			return
		}
	}
	got, err := br.in.Emit(ctx, ev)
	if err != nil {
		got = nil // Emit returns the event it refused: not accepted, so not remembered
	}
	if en != nil {
		br.dd.done(id, en, got)
	}
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, abxbus.ErrBusDestroyed) {
			br.refuse(w, r, http.StatusServiceUnavailable, "bridge closing", "the event was not queued: "+err.Error(), err)
			return
		}
		// The inbound bus refused the event (a type bound to another Go type): a retry cannot succeed.
		w.Header().Set(RefusedHeader, "event")
		br.refuse(w, r, http.StatusInternalServerError, "failed to process event: "+err.Error(), "the inbound bus refused the event", err)
		return
	}
	if br.opts.AckAfterHandled && !br.waitHandled(w, r, ctx, got) {
		return
	}
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, "accepted")
}

// waitHandled waits for e's completion; when the bridge closes (or the client leaves) first it
// answers 503 and reports false.
func (br *Bridge) waitHandled(w http.ResponseWriter, r *http.Request, ctx context.Context, e *abxbus.BaseEvent) bool {
	select {
	case <-e.Done():
		return true
	case <-ctx.Done():
		br.refuse(w, r, http.StatusServiceUnavailable, "bridge closing", "closing before the event was handled", nil)
		return false
	}
}
