package abxbus

import (
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Timeout is an optional duration with three states, as on the wire: unset (the zero value: inherit the
// next level at processing time), disabled (NoTimeout: no limit at this level), or a positive duration
// of at most MaxTimeout. It is a small value type; copy it freely.
type Timeout struct {
	d   time.Duration
	set bool
	bad badSeconds // Seconds got NaN or an infinity: rejected where the timeout is used
}

type badSeconds uint8

const (
	secondsOK badSeconds = iota
	secondsNaN
	secondsPosInf
	secondsNegInf
)

// MaxTimeout is the longest timeout (100 years of 365 days, 3153600000 s): a longer one given to
// TimeoutOf or Seconds, or read from JSON, is this one. It means "effectively no limit" while keeping
// every deadline computed from it representable in int64 nanoseconds. A bus writes it back as
// 3153600000.
const MaxTimeout = 100 * 365 * 24 * time.Hour

// NoTimeout explicitly disables a timeout level (the wire value 0).
var NoTimeout = Timeout{set: true}

// TimeoutOf returns a set timeout of d. d == 0 is the same as NoTimeout; d beyond MaxTimeout is
// MaxTimeout. A negative d is kept (bounded by -MaxTimeout) so that the option that carries it is
// rejected with an error where it is used.
func TimeoutOf(d time.Duration) Timeout {
	return Timeout{d: max(-MaxTimeout, min(d, MaxTimeout)), set: true}
}

// Seconds returns a set timeout of s seconds (the wire unit). 0 is NoTimeout; a positive s is rounded to
// the nearest nanosecond, at least 1 ns (a tiny positive timeout never turns into "disabled") and at most
// MaxTimeout. NaN and infinite values, like negative ones, make the option that carries the timeout fail
// with an error naming it.
func Seconds(s float64) Timeout {
	switch {
	case math.IsNaN(s):
		return Timeout{set: true, bad: secondsNaN}
	case math.IsInf(s, 1):
		return Timeout{set: true, bad: secondsPosInf}
	case math.IsInf(s, -1):
		return Timeout{set: true, bad: secondsNegInf}
	}
	return Timeout{d: secondsToDuration(s), set: true}
}

// secondsToDuration converts finite seconds to a duration within ±MaxTimeout, keeping the sign: a
// non-zero value never becomes 0.
func secondsToDuration(s float64) time.Duration {
	limit := MaxTimeout.Seconds()
	switch {
	case s >= limit:
		return MaxTimeout
	case s <= -limit:
		return -MaxTimeout
	case s == 0:
		return 0
	}
	d := time.Duration(math.Round(s * 1e9))
	if d == 0 {
		d = time.Duration(math.Copysign(1, s))
	}
	return d
}

// IsSet reports whether the timeout is set (to a duration or to NoTimeout).
func (t Timeout) IsSet() bool { return t.set }

// Duration returns the duration and whether it is set. A set zero duration means "disabled". For an
// invalid timeout (Seconds of NaN or an infinity) it returns 0 and true.
func (t Timeout) Duration() (time.Duration, bool) { return t.d, t.set }

// Seconds returns the wire value in seconds and whether it is set (NaN or the infinity that Seconds was
// given, for an invalid timeout).
func (t Timeout) Seconds() (float64, bool) {
	switch t.bad {
	case secondsNaN:
		return math.NaN(), t.set
	case secondsPosInf:
		return math.Inf(1), t.set
	case secondsNegInf:
		return math.Inf(-1), t.set
	}
	return t.d.Seconds(), t.set
}

func (t Timeout) String() string {
	switch {
	case !t.set:
		return "unset"
	case t.bad != secondsOK:
		s, _ := t.Seconds()
		return fmt.Sprintf("invalid (%v seconds)", s)
	case t.d == 0:
		return "disabled"
	}
	return t.d.String()
}

func (t Timeout) check(field string) error {
	if !t.set {
		return nil
	}
	if t.bad != secondsOK {
		s, _ := t.Seconds()
		return fmt.Errorf("%w: %s must be a finite number of seconds >= 0, got %v", ErrInvalidOption, field, s)
	}
	if t.d < 0 {
		return fmt.Errorf("%w: %s must be >= 0 or unset, got %gs", ErrInvalidOption, field, t.d.Seconds())
	}
	return nil
}

// orElse returns t when set, else next.
func (t Timeout) orElse(next Timeout) Timeout {
	if t.set {
		return t
	}
	return next
}

// EventConcurrency is the event scheduling policy (spec §11). The zero value means "use the processing
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

// HandlerConcurrency is the handler scheduling policy within one event (spec §12). The zero value means
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

// Completion is the handler completion policy (spec §13). The zero value means "use the processing bus's
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

// Options configures a Bus. The zero value (or a nil *Options) gives the documented defaults (F52):
// bus-serial events, serial handlers, completion "all", a 60 s event timeout, 300 s slow-event and 30 s
// slow-handler warnings, history of 100 events without dropping.
type Options struct {
	// ID is the bus id, in the form ParseID accepts (New fails with an error matching ErrInvalidOption
	// and ErrInvalidID otherwise); empty means a fresh UUIDv7.
	ID string
	// MaxHistorySize caps the history. nil: 100. 0: keep only in-flight events. Negative (see
	// UnlimitedHistory): unbounded.
	MaxHistorySize *int
	// MaxHistoryDrop: false (default) evicts completed events to make room and rejects an emit only when
	// every retained event is still in flight (D1); true never rejects and drops oldest entries.
	MaxHistoryDrop bool

	EventConcurrency   EventConcurrency
	HandlerConcurrency HandlerConcurrency
	Completion         Completion

	// EventTimeout is the default per-event budget, also the default handler timeout (F131-F134).
	// Unset: 60 s. NoTimeout: none.
	EventTimeout Timeout
	// EventSlowTimeout is the slow-event warning threshold. Unset: 300 s. NoTimeout: no warning.
	EventSlowTimeout Timeout
	// HandlerSlowTimeout is the slow-handler warning threshold. Unset: 30 s. NoTimeout: no warning.
	HandlerSlowTimeout Timeout

	// DetectFilePaths controls whether handler_file_path is captured at registration. nil: true. The
	// path is the handler function's package import path, file name and line (see Handler.FilePath).
	DetectFilePaths *bool

	// LockDomain names the global-serial lock domain (D10). Empty: the process-wide domain. Buses with
	// the same non-empty name share a separate global-serial slot.
	LockDomain string

	// Logger receives slow-event/slow-handler warnings and history-drop warnings. nil: slog.Default().
	Logger *slog.Logger
}

// UnlimitedHistory is the MaxHistorySize value for an unbounded history.
const UnlimitedHistory = -1

// Ptr returns a pointer to v: handy for the optional pointer fields of Options.
func Ptr[T any](v T) *T { return &v }

// EventOptions are the per-event overrides of the processing bus's defaults (F10-F17). Zero fields are
// unset: each bus that processes the event applies its own default at processing time, and unset fields
// stay unset on the wire.
type EventOptions struct {
	Timeout            Timeout
	HandlerTimeout     Timeout
	SlowTimeout        Timeout
	HandlerSlowTimeout Timeout
	Concurrency        EventConcurrency
	HandlerConcurrency HandlerConcurrency
	Completion         Completion
}

func (o *EventOptions) check() error {
	if err := o.Timeout.check("event_timeout"); err != nil {
		return err
	}
	if err := o.HandlerTimeout.check("event_handler_timeout"); err != nil {
		return err
	}
	if err := o.SlowTimeout.check("event_slow_timeout"); err != nil {
		return err
	}
	if err := o.HandlerSlowTimeout.check("event_handler_slow_timeout"); err != nil {
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
	o.Timeout = o.Timeout.orElse(d.Timeout)
	o.HandlerTimeout = o.HandlerTimeout.orElse(d.HandlerTimeout)
	o.SlowTimeout = o.SlowTimeout.orElse(d.SlowTimeout)
	o.HandlerSlowTimeout = o.HandlerSlowTimeout.orElse(d.HandlerSlowTimeout)
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
