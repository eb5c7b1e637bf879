package abxbus

import (
	"fmt"
	"log/slog"
	"math"
	"time"
)

// NoTimeout disables a timeout level: "no limit (or no warning) here", even where the level would
// otherwise inherit one. It is a sentinel, not a length: the most negative time.Duration, which no real
// timeout can be. Compare with it using ==; never compute with it. JSON carries it as 0.
//
// Every timeout in this package (the fields of Options, EventOptions and ResultUpdate, the handler
// options and Handler accessors) is a plain time.Duration with three states, the three the wire format
// has:
//
//   - 0: unset. The level inherits the next one when the event is processed: a handler's own timeout
//     falls back to the event's handler timeout, then to the event timeout; an event's option falls
//     back to the processing bus's default; a bus option falls back to the documented default. Zero
//     means "inherit" so that a zero value (Options{}, EventOptions{}, a field left out of a composite
//     literal) means "use the defaults", and only the fields you set override anything. On the wire:
//     null, or the key is absent.
//   - NoTimeout: no limit at this level. On the wire: 0.
//   - A positive duration: the limit, for example EventOptions{Timeout: 5 * time.Second}. A duration
//     longer than MaxTimeout is MaxTimeout; a tiny positive one (even 1 ns) stays a limit. On the wire:
//     seconds.
//
// Any other negative duration is invalid: it is rejected where it is used (New, SetOptions, the Emit
// functions, handler registration, Handler.SetTimeout, UpdateResult) with an error matching
// ErrInvalidOption that names the field and the value.
const NoTimeout = time.Duration(math.MinInt64)

// MaxTimeout is the longest timeout (100 years of 365 days, 3153600000 s): a longer timeout given in an
// option, or read from JSON, is this one. It means "effectively no limit" while keeping every deadline
// computed from it representable in int64 nanoseconds. A bus writes it back as 3153600000.
const MaxTimeout = 100 * 365 * 24 * time.Hour

// checkTimeout validates the timeout *d of field and clamps it to MaxTimeout: 0 (unset), NoTimeout and
// positive durations are valid; any other negative duration is an error naming the field.
func checkTimeout(field string, d *time.Duration) error {
	switch {
	case *d == NoTimeout || *d == 0:
		return nil
	case *d < 0:
		return fmt.Errorf("%w: %s must be a positive duration, 0 (unset) or NoTimeout, got %v", ErrInvalidOption, field, *d)
	case *d > MaxTimeout:
		*d = MaxTimeout
	}
	return nil
}

// secondsToDuration converts finite positive seconds (the wire unit) to a duration: rounded to the
// nearest nanosecond, at least 1 ns (a tiny positive timeout never turns into "disabled") and at most
// MaxTimeout.
func secondsToDuration(s float64) time.Duration {
	if s >= MaxTimeout.Seconds() {
		return MaxTimeout
	}
	return max(time.Duration(math.Round(s*1e9)), 1)
}

// timeoutSeconds returns the wire value of a set timeout: 0 for NoTimeout, else seconds.
func timeoutSeconds(d time.Duration) float64 {
	if d == NoTimeout {
		return 0
	}
	return d.Seconds()
}

// orElse returns d when set (non-zero), else next.
func orElse(d, next time.Duration) time.Duration {
	if d != 0 {
		return d
	}
	return next
}

// EventConcurrency is the event scheduling policy. The zero value means "use the processing
// bus's default".
type EventConcurrency string

const (
	// GlobalSerial: one event at a time across every bus of the lock domain (process-wide by default).
	GlobalSerial EventConcurrency = "global-serial"
	// BusSerial: one event at a time per bus, FIFO; other buses proceed independently. The default.
	BusSerial EventConcurrency = "bus-serial"
	// Parallel: no event-level lock; the event starts as soon as it is emitted.
	Parallel EventConcurrency = "parallel"
)

func (m EventConcurrency) valid() bool {
	return m == "" || m == GlobalSerial || m == BusSerial || m == Parallel
}

// HandlerConcurrency is the handler scheduling policy within one event. The zero value means
// "use the processing bus's default".
type HandlerConcurrency string

const (
	// HandlersSerial runs an event's handlers one at a time in registration order. The default.
	HandlersSerial HandlerConcurrency = "serial"
	// HandlersParallel runs an event's handlers concurrently.
	HandlersParallel HandlerConcurrency = "parallel"
)

func (m HandlerConcurrency) valid() bool {
	return m == "" || m == HandlersSerial || m == HandlersParallel
}

// Completion is the handler completion policy. The zero value means "use the processing bus's
// default".
type Completion string

const (
	// CompleteAll lets every handler run; the event completes when all are terminal. The default.
	CompleteAll Completion = "all"
	// CompleteFirst completes the event at the first non-null successful result; pending handlers are
	// cancelled and running ones aborted (their contexts are cancelled).
	CompleteFirst Completion = "first"
)

func (m Completion) valid() bool { return m == "" || m == CompleteAll || m == CompleteFirst }

// Options configures a Bus. The zero value (or a nil *Options) gives the documented defaults:
// bus-serial events, serial handlers, completion "all", a 60 s event timeout, 300 s slow-event and 30 s
// slow-handler warnings, history of 100 events without dropping. Each zero field means its default,
// the timeouts included: a timeout of 0 is "use the default", NoTimeout is "no limit" (see NoTimeout),
// so Options{EventTimeout: 5 * time.Second} changes only the event timeout.
type Options struct {
	// ID is the bus id, in the form ParseID accepts (New fails with an error matching ErrInvalidOption
	// and ErrInvalidID otherwise); empty means a fresh UUIDv7.
	ID string
	// MaxHistorySize caps the history. nil: 100. 0: keep only in-flight events. Negative (see
	// UnlimitedHistory): unbounded.
	MaxHistorySize *int
	// MaxHistoryDrop: false (default) evicts completed events to make room and rejects an emit only when
	// every retained event is still in flight; true never rejects and drops oldest entries.
	MaxHistoryDrop bool

	EventConcurrency   EventConcurrency
	HandlerConcurrency HandlerConcurrency
	Completion         Completion

	// The timeouts follow the rules described at NoTimeout: 0 is the default given here, NoTimeout
	// disables the level, a positive duration is the limit (at most MaxTimeout), any other negative
	// duration makes New fail with an error matching ErrInvalidOption.

	// EventTimeout is the default per-event budget, also the default handler timeout.
	// 0: 60 s. NoTimeout: none.
	EventTimeout time.Duration
	// EventSlowTimeout is the slow-event warning threshold. 0: 300 s. NoTimeout: no warning.
	EventSlowTimeout time.Duration
	// HandlerSlowTimeout is the slow-handler warning threshold. 0: 30 s. NoTimeout: no warning.
	HandlerSlowTimeout time.Duration

	// DetectFilePaths controls whether handler_file_path is captured at registration. nil: true. The
	// path is the handler function's package import path, file name and line (see Handler.FilePath).
	DetectFilePaths *bool

	// LockDomain names the global-serial lock domain. Empty: the process-wide domain. Buses with
	// the same non-empty name share a separate global-serial slot.
	LockDomain string

	// Logger receives slow-event/slow-handler warnings, history-drop warnings and the panics of
	// middleware hooks. nil: slog.Default().
	Logger *slog.Logger

	// Middlewares observe and extend the bus through lifecycle hooks, called in this order (see
	// Middleware). Each entry must implement at least one hook interface; New refuses a nil entry or
	// one that implements none with an error matching ErrInvalidOption. nil: none, at no cost.
	Middlewares []Middleware
}

// UnlimitedHistory is the MaxHistorySize value for an unbounded history.
const UnlimitedHistory = -1

// Ptr returns a pointer to v: handy for the optional pointer fields of Options.
func Ptr[T any](v T) *T { return &v }

// EventOptions are the per-event overrides of the processing bus's defaults. Zero fields are
// unset: each bus that processes the event applies its own default at processing time, and unset fields
// stay unset on the wire. Timeouts follow the rules described at NoTimeout (0: inherit, NoTimeout: no
// limit at this level, positive: the limit), for example EventOptions{Timeout: 5 * time.Second}.
type EventOptions struct {
	// Timeout is the event's budget (event_timeout), counted from when a bus starts processing it.
	Timeout time.Duration
	// HandlerTimeout is the default budget of each handler of the event (event_handler_timeout).
	HandlerTimeout time.Duration
	// SlowTimeout is the slow-event warning threshold (event_slow_timeout).
	SlowTimeout time.Duration
	// HandlerSlowTimeout is the slow-handler warning threshold (event_handler_slow_timeout).
	HandlerSlowTimeout time.Duration
	Concurrency        EventConcurrency
	HandlerConcurrency HandlerConcurrency
	Completion         Completion
}

// check validates o and clamps its timeouts to MaxTimeout.
func (o *EventOptions) check() error {
	if err := checkTimeout("event_timeout", &o.Timeout); err != nil {
		return err
	}
	if err := checkTimeout("event_handler_timeout", &o.HandlerTimeout); err != nil {
		return err
	}
	if err := checkTimeout("event_slow_timeout", &o.SlowTimeout); err != nil {
		return err
	}
	if err := checkTimeout("event_handler_slow_timeout", &o.HandlerSlowTimeout); err != nil {
		return err
	}
	if !o.Concurrency.valid() {
		return fmt.Errorf("%w: event_concurrency %q is not one of global-serial, bus-serial, parallel", ErrInvalidOption, o.Concurrency)
	}
	if !o.HandlerConcurrency.valid() {
		return fmt.Errorf("%w: event_handler_concurrency %q is not one of serial, parallel", ErrInvalidOption, o.HandlerConcurrency)
	}
	if !o.Completion.valid() {
		return fmt.Errorf("%w: event_handler_completion %q is not one of all, first", ErrInvalidOption, o.Completion)
	}
	return nil
}

// merge returns o with every unset field taken from d.
func (o EventOptions) merge(d EventOptions) EventOptions {
	o.Timeout = orElse(o.Timeout, d.Timeout)
	o.HandlerTimeout = orElse(o.HandlerTimeout, d.HandlerTimeout)
	o.SlowTimeout = orElse(o.SlowTimeout, d.SlowTimeout)
	o.HandlerSlowTimeout = orElse(o.HandlerSlowTimeout, d.HandlerSlowTimeout)
	if o.Concurrency == "" {
		o.Concurrency = d.Concurrency
	}
	if o.HandlerConcurrency == "" {
		o.HandlerConcurrency = d.HandlerConcurrency
	}
	if o.Completion == "" {
		o.Completion = d.Completion
	}
	return o
}
