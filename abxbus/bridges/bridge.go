// Package bridges defines what every abxbus bridge offers: the Bridge interface that the JSONL, HTTP,
// Unix socket, SQLite, Postgres, Redis and NATS bridges implement, and the Features that describe the
// delivery guarantees of each one. A bridge carries events between processes in the abxbus event JSON,
// so a Go process and a TypeScript or Python process on the same transport see each other's events.
//
// # Wiring
//
// A bridge has two directions. Outbound, Emit (or Forward, its HandlerFunc form) sends an event as it
// is now. Inbound, every event received from the transport is reset (a fresh id, pending state, no
// results; its event_path kept) and emitted on the bridge's own bus, whose handlers (registered with
// On) therefore see received events in the order the bridge delivers them. Handler results never cross
// a bridge: send an event back instead.
//
// The usual wiring forwards everything an application bus processes and re-emits everything received
// on it:
//
//	app.OnType("*", br.Forward)
//	br.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
//		_, err := app.Emit(ctx, e)
//		return nil, err
//	})
//
// It does not echo: an event carries in event_path the labels of the buses it went through, and a bus
// does not process an event whose path already names it.
//
// # Life cycle
//
// Start begins listening; On starts it too. Start is idempotent and safe for concurrent use: a bridge
// never listens twice. Close stops listening, waits for the bridge's goroutines, and destroys its bus;
// events received but not yet processed are handled before Close returns, or (durable bridges) left
// for the next start. Emit after Close fails.
//
// # Conformance
//
// Package bridgetest is the conformance suite of this contract: every bridge of the project runs it,
// and a bridge written elsewhere can too (bridgetest.Run from a test).
package bridges

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Bridge is one process's end of a transport. Implementations are safe for concurrent use.
type Bridge interface {
	// Emit sends e, as it is now, to the transport. It returns once the transport accepted the event
	// (written, acknowledged by the peer or the server, as the bridge's Features say) or with an error
	// that names what failed; an event is never dropped without an error. ctx bounds the attempt.
	Emit(ctx context.Context, e *abxbus.BaseEvent) error
	// Forward is Emit as a HandlerFunc, for app.OnType("*", br.Forward). It returns no value.
	Forward(ctx context.Context, e *abxbus.BaseEvent) (any, error)
	// On registers fn on the bridge's bus for received events of eventType ("*" for all) and starts
	// listening.
	On(eventType string, fn abxbus.HandlerFunc, opts ...abxbus.HandlerOption) (*abxbus.Handler, error)
	// Bus is the bridge's inbound bus.
	Bus() *abxbus.Bus
	// Start begins listening. Calling it again does nothing; after Close it returns ErrClosed.
	Start() error
	// Close stops listening, waits for the bridge's goroutines and destroys its bus. Calling it again
	// does nothing.
	Close() error
	// Features describes the bridge's delivery guarantees.
	Features() Features
}

// Features describes what a bridge guarantees, so an application (and the conformance suite) knows what
// to rely on.
type Features struct {
	// Ordered: events from one emitter are received in the order they were emitted.
	Ordered bool
	// Durable: events emitted while no listener runs are kept by the transport and delivered when a
	// listener with the same identity (a named consumer or a cursor) starts again.
	Durable bool
	// AtLeastOnce: an event is redelivered when the listener stopped before its handlers finished, so
	// a handler may see an event twice after a crash (the event id survives for deduplication).
	AtLeastOnce bool
	// FanOut: every listener receives every event. false: point-to-point, each event goes to one of
	// the listeners.
	FanOut bool
	// MaxMessageBytes is the largest event JSON the bridge sends; Emit refuses a larger one with an
	// error matching ErrTooLarge. 0: no limit of the bridge's own.
	MaxMessageBytes int
}

// ErrClosed is matched (errors.Is) by the error of Emit or Start on a closed bridge.
var ErrClosed = errors.New("bridge closed")

// ErrTooLarge is matched by the error of Emit for an event whose JSON exceeds the bridge's
// MaxMessageBytes (or the transport's own limit).
var ErrTooLarge = errors.New("event too large for the bridge")

// TooLarge returns an error matching ErrTooLarge that names the bridge, the event and both sizes.
func TooLarge(bridge string, e *abxbus.BaseEvent, size, limit int) error {
	return fmt.Errorf("%s: %w: %s is %d bytes, the limit is %d", bridge, ErrTooLarge, e, size, limit)
}

// OpenOptions are the options every bridge understands when it is opened from an address (Open). The
// zero value (or nil) gives each bridge's defaults.
type OpenOptions struct {
	// Name is the bridge's bus name. Empty: the bridge's default.
	Name string
	// Listen asks for the receiving end where a transport distinguishes the two (HTTP listens on the
	// address instead of posting to it). Transports with one address for both directions ignore it.
	Listen bool
	// Logger receives the bridge's warnings (refused frames, reconnects). nil: slog.Default().
	Logger *slog.Logger
	// BusOptions configure the bridge's inbound bus; nil: the bridge's defaults.
	BusOptions *abxbus.Options
}

// Opener opens a bridge from a parsed address; a bridge package registers one per URL scheme.
type Opener func(ctx context.Context, addr *url.URL, opts OpenOptions) (Bridge, error)

var (
	openersMu sync.RWMutex
	openers   = map[string]Opener{}
	conflicts = map[string]error{} // schemes registered more than once
)

// Register makes a bridge package's Opener available to Open under scheme (lower case, without
// "://"), as database/sql drivers do; bridge packages call it from init and keep its error (init must
// not panic). It returns an error matching abxbus.ErrInvalidOption, and registers nothing, when scheme
// is empty, open is nil or the scheme is already registered. A scheme registered twice is ambiguous:
// Open then refuses it with that error rather than pick one of the two packages silently.
func Register(scheme string, open Opener) error {
	if scheme == "" || open == nil {
		return fmt.Errorf("%w: bridges.Register: empty scheme or nil Opener", abxbus.ErrInvalidOption)
	}
	scheme = strings.ToLower(scheme)
	openersMu.Lock()
	defer openersMu.Unlock()
	if _, dup := openers[scheme]; dup {
		err := fmt.Errorf("%w: bridges.Register: scheme %q is already registered", abxbus.ErrInvalidOption, scheme)
		conflicts[scheme] = err
		return err
	}
	openers[scheme] = open
	return nil
}

// Schemes returns the registered schemes, sorted.
func Schemes() []string {
	openersMu.RLock()
	defer openersMu.RUnlock()
	out := make([]string, 0, len(openers))
	for s := range openers {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Open opens the bridge an address names; its scheme picks the bridge package, which must have been
// imported (its init registers it). An address without a scheme is a file path, opened by the "file"
// scheme (the JSONL bridge). The bridge is not started. Errors: the address does not parse, no
// imported bridge package handles its scheme (the error lists the ones that do), two registered it
// (see Register), or the bridge's own.
func Open(ctx context.Context, address string, opts *OpenOptions) (Bridge, error) {
	var o OpenOptions
	if opts != nil {
		o = *opts
	}
	u, err := parseAddress(address)
	if err != nil {
		return nil, err
	}
	openersMu.RLock()
	open, conflict := openers[u.Scheme], conflicts[u.Scheme]
	openersMu.RUnlock()
	if conflict != nil {
		return nil, fmt.Errorf("bridge address %q: two imported packages registered its scheme: %w", address, conflict)
	}
	if open == nil {
		return nil, fmt.Errorf("%w: bridge address %q: no bridge for scheme %q (registered: %s; import the bridge package)",
			abxbus.ErrInvalidOption, address, u.Scheme, strings.Join(Schemes(), ", "))
	}
	return open(ctx, u, o)
}

func parseAddress(address string) (*url.URL, error) {
	if address == "" {
		return nil, fmt.Errorf("%w: empty bridge address", abxbus.ErrInvalidOption)
	}
	if !strings.Contains(address, "://") {
		return &url.URL{Scheme: "file", Path: address}, nil
	}
	u, err := url.Parse(address)
	if err != nil {
		return nil, fmt.Errorf("%w: bridge address %q: %v", abxbus.ErrInvalidOption, address, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return u, nil
}
