package abxbus

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode"
)

// Sentinel errors. Every typed error below matches its sentinel with errors.Is, so callers can branch on
// the kind without a type assertion, and use errors.As for the details.
var (
	// ErrInvalidOption: a bus, event, handler or wait option has an invalid value.
	ErrInvalidOption = errors.New("abxbus: invalid option")
	// ErrBusDestroyed: the bus has been destroyed; every later operation on it is rejected.
	ErrBusDestroyed = errors.New("event bus has been destroyed")
	// ErrHistoryFull: the emit was rejected because the history is at max_history_size and every retained
	// event is still in flight.
	ErrHistoryFull = errors.New("history limit reached")
	// ErrNoResult: a result accessor asked for a result (RequireResult, or Call) and no handler returned a
	// valid one: a non-null value that is not a forwarded event, or one that passed the accessor's filter.
	// It also matches when the event had no handler at all (see ErrNoHandler).
	ErrNoResult = errors.New("no handler returned a non-null result")
	// ErrNoHandler: a result was required and the event had no handler on the buses that processed it
	// (nothing registered for its event type, and no "*" handler). An error matching it matches
	// ErrNoResult too.
	ErrNoHandler = errors.New("abxbus: no handler for the event type")
	// ErrHandlerTimeout: a handler exceeded its own time budget.
	ErrHandlerTimeout = errors.New("event handler timed out")
	// ErrHandlerCancelled: a handler never started because of an event timeout, a first-completion
	// winner, a parent timeout or a destroyed bus.
	ErrHandlerCancelled = errors.New("event handler cancelled")
	// ErrHandlerAborted: a running handler was interrupted by one of the same causes.
	ErrHandlerAborted = errors.New("event handler aborted")
	// ErrResultSchema: a handler's return value did not match the event's result type.
	ErrResultSchema = errors.New("event handler result did not match event_result_type")
	// ErrEventTimeout: the event exceeded its event-level budget.
	ErrEventTimeout = errors.New("event timed out")
	// ErrHandlerPanic: a handler panicked; the panic value and stack are recorded.
	ErrHandlerPanic = errors.New("event handler panicked")
	// ErrNotEmitted: Now/Wait on an event that was never emitted to a bus.
	ErrNotEmitted = errors.New("event has no bus attached")
	// ErrWouldDeadlock: a wait from inside a handler on an event that cannot start before that handler
	// returns. Use Now to queue-jump instead.
	ErrWouldDeadlock = errors.New("wait can never finish: the event cannot start before the waiting handler returns")
	// ErrHandlerFinished: a child emit from a handler whose run is already over (timed out, aborted or
	// returned) is refused.
	ErrHandlerFinished = errors.New("the emitting handler is no longer running")
	// ErrNotInHandler: a call that needs a running handler's context (such as EmitChild) got another one.
	ErrNotInHandler = errors.New("context does not belong to a running handler")
	// ErrLineageCycle: a linked emit of the handler's own event or of one of its ancestors, which would
	// make the event its own descendant.
	ErrLineageCycle = errors.New("an event cannot be a linked child of itself or of its descendants")
)

// Every outcome caused by a deadline (a handler's own timeout, the event timeout, a parent's timeout
// reaching its children) matches context.DeadlineExceeded with errors.Is, and every outcome caused by a
// cancellation (a first-completion loss, Destroy, a parent stopped for one of those reasons) matches
// context.Canceled, never both: the kinds below carry what caused them (Cause, Unwrap) and errors.Is
// follows it. Code that treats abxbus outcomes like any other context error can use errors.Is alone;
// errors.As tells the kinds apart.

// EventHandlerTimeoutError records a handler that exceeded its own time budget (the handler's timeout,
// else the event's handler timeout, else the event timeout, when that is shorter than what is left of
// the event deadline). It matches ErrHandlerTimeout and context.DeadlineExceeded; the handler's context
// is done with context.DeadlineExceeded.
type EventHandlerTimeoutError struct {
	Message string
	Timeout time.Duration
}

func (e *EventHandlerTimeoutError) Error() string        { return e.Message }
func (e *EventHandlerTimeoutError) Is(target error) bool { return target == ErrHandlerTimeout }
func (e *EventHandlerTimeoutError) Unwrap() error        { return context.DeadlineExceeded }

// EventHandlerCancelledError records a handler that never started. Cause says why: an
// *EventTimeoutError (the event deadline passed), a first-completion loss, an *EventBusDestroyedError,
// or the stop of the parent event's handler that was waiting for this event (which wraps what stopped
// that handler). It matches ErrHandlerCancelled, and through Cause context.DeadlineExceeded or
// context.Canceled.
type EventHandlerCancelledError struct {
	Message string
	Cause   error
}

func (e *EventHandlerCancelledError) Error() string        { return e.Message }
func (e *EventHandlerCancelledError) Is(target error) bool { return target == ErrHandlerCancelled }
func (e *EventHandlerCancelledError) Unwrap() error        { return e.Cause }

// EventHandlerAbortedError records a handler interrupted while running: its context was done, with
// context.DeadlineExceeded when Cause is a deadline and context.Canceled otherwise. Cause is one of the
// causes listed for EventHandlerCancelledError. It matches ErrHandlerAborted, and through Cause
// context.DeadlineExceeded or context.Canceled.
type EventHandlerAbortedError struct {
	Message string
	Cause   error
}

func (e *EventHandlerAbortedError) Error() string        { return e.Message }
func (e *EventHandlerAbortedError) Is(target error) bool { return target == ErrHandlerAborted }
func (e *EventHandlerAbortedError) Unwrap() error        { return e.Cause }

// EventHandlerResultSchemaError records a return value that did not match event_result_type. The value
// is discarded (the result's value is null).
type EventHandlerResultSchemaError struct {
	Message string
}

func (e *EventHandlerResultSchemaError) Error() string        { return e.Message }
func (e *EventHandlerResultSchemaError) Is(target error) bool { return target == ErrResultSchema }

// EventTimeoutError is the event-level timeout: the Cause of the cancelled and aborted handler errors
// it produced. It matches ErrEventTimeout and context.DeadlineExceeded.
type EventTimeoutError struct {
	Message string
	Timeout time.Duration
}

func (e *EventTimeoutError) Error() string        { return e.Message }
func (e *EventTimeoutError) Is(target error) bool { return target == ErrEventTimeout }
func (e *EventTimeoutError) Unwrap() error        { return context.DeadlineExceeded }

// EventHandlerPanicError records a handler panic: the recovered value and the goroutine stack.
type EventHandlerPanicError struct {
	Value any
	Stack []byte
}

func (e *EventHandlerPanicError) Error() string        { return fmt.Sprintf("handler panicked: %v", e.Value) }
func (e *EventHandlerPanicError) Is(target error) bool { return target == ErrHandlerPanic }
func (e *EventHandlerPanicError) Unwrap() error {
	if err, ok := e.Value.(error); ok {
		return err
	}
	return nil
}

// EventHandlerErrors aggregates several handler errors of one event. errors.Is/As look through it.
type EventHandlerErrors struct {
	EventType string
	EventID   string
	Errors    []error
}

func (e *EventHandlerErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Event %s#%s had %d handler error(s): ", e.EventType, lastN(e.EventID, 4), len(e.Errors))
	for i, err := range e.Errors {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}
func (e *EventHandlerErrors) Unwrap() []error { return e.Errors }

// EventResultNoneError reports that a result was required (Call, or ResultOptions.RequireResult) and
// none passed the filter. It matches ErrNoResult, and also ErrNoHandler when the event had no handler at
// all (no handler registered for its type, nor a "*" handler, on the buses that processed it). The
// message says which: no handler for the event type on the named buses, or what the handlers that ran
// did instead (returned null, forwarded the event, failed with errors ignored, lost a first-completion
// race, did not pass the filter, were still running).
type EventResultNoneError struct {
	EventType string
	EventID   string
	// Buses are the labels of the buses that processed the event, in the order they accepted it.
	Buses []string
	// Handlers is the number of handler results the event has (0: no handler ran).
	Handlers int
	// Detail says, for Handlers > 0, what the handlers did instead of returning a result.
	Detail string
}

func (e *EventResultNoneError) Error() string {
	if e.Handlers == 0 {
		msg := fmt.Sprintf("abxbus: no handler for event type %q", e.EventType)
		switch len(e.Buses) {
		case 0:
		case 1:
			msg += " on bus " + e.Buses[0]
		default:
			msg += " on buses " + strings.Join(e.Buses, ", ")
		}
		return msg + " (event " + e.EventType + "#" + lastN(e.EventID, 4) + ")"
	}
	msg := fmt.Sprintf("abxbus: no handler returned a result for %s#%s", e.EventType, lastN(e.EventID, 4))
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}
func (e *EventResultNoneError) Is(target error) bool {
	return target == ErrNoResult || target == ErrNoHandler && e.Handlers == 0
}

// EventBusDestroyedError names the rejected operation and bus. It matches ErrBusDestroyed. Cause is
// context.Canceled when Destroy ended work that was already under way (Op "Destroy": the cause of the
// aborted and cancelled handlers of events in flight, and the error of events still queued, so these
// match context.Canceled); it is nil when an operation was attempted on a bus already destroyed.
type EventBusDestroyedError struct {
	Bus   string
	Op    string
	Cause error
}

func (e *EventBusDestroyedError) Error() string {
	return e.Bus + "." + e.Op + " rejected: event bus has been destroyed"
}
func (e *EventBusDestroyedError) Is(target error) bool { return target == ErrBusDestroyed }
func (e *EventBusDestroyedError) Unwrap() error        { return e.Cause }

// HistoryFullError names the bus and its limit. Matches ErrHistoryFull.
type HistoryFullError struct {
	Bus   string
	Limit int
	Event string
}

func (e *HistoryFullError) Error() string {
	return fmt.Sprintf("%s.Emit(%s) rejected: history limit reached (%d/%d) and every retained event is still in flight", e.Bus, e.Event, e.Limit, e.Limit)
}
func (e *HistoryFullError) Is(target error) bool { return target == ErrHistoryFull }

// RemoteError is an error that arrived as data (from JSON written by another runtime or process): the
// wire {"type", "message"} pair. Its Type is kept verbatim.
//
// A RemoteError whose Type names one of this library's error kinds (EventHandlerTimeoutError,
// EventTimeoutError, EventHandlerCancelledError, EventHandlerAbortedError, EventHandlerResultSchemaError,
// EventHandlerPanicError, EventBusDestroyedError; the names every abxbus runtime writes) matches that
// kind's sentinel with errors.Is, and the two timeout kinds match context.DeadlineExceeded, so code
// that branches on errors.Is treats a decoded result like a local one. The cause of a remote
// cancellation or abort is not on the wire: those match their sentinel only, neither
// context.DeadlineExceeded nor context.Canceled. errors.As to the kind's own type does not match.
type RemoteError struct {
	Type    string
	Message string
}

// remoteKinds maps the wire type names of this library's error kinds to what they match.
var remoteKinds = map[string][]error{
	"EventHandlerTimeoutError":      {ErrHandlerTimeout, context.DeadlineExceeded},
	"EventTimeoutError":             {ErrEventTimeout, context.DeadlineExceeded},
	"EventHandlerCancelledError":    {ErrHandlerCancelled},
	"EventHandlerAbortedError":      {ErrHandlerAborted},
	"EventHandlerResultSchemaError": {ErrResultSchema},
	"EventHandlerPanicError":        {ErrHandlerPanic},
	"EventBusDestroyedError":        {ErrBusDestroyed},
}

// Is reports whether target is the sentinel (or context error) of the kind e.Type names.
func (e *RemoteError) Is(target error) bool {
	for _, k := range remoteKinds[e.Type] {
		if k == target {
			return true
		}
	}
	return false
}

func (e *RemoteError) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// ErrorType returns the wire type name of err: the upstream names for this library's error kinds
// (EventHandlerTimeoutError, ...), the original name of a RemoteError, the exported Go type name of other
// errors, and "Error" when there is none.
func ErrorType(err error) string {
	switch e := err.(type) {
	case nil:
		return ""
	case *RemoteError:
		if e.Type != "" {
			return e.Type
		}
		return "Error"
	case interface{ ErrorType() string }:
		return e.ErrorType()
	}
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	name := t.Name()
	if name == "" || !unicode.IsUpper(rune(name[0])) {
		return "Error"
	}
	return name
}

func lastN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
