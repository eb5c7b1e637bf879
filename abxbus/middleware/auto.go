package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Event type suffixes of the events AutoError and AutoReturn emit. A source event whose type ends in
// either is skipped by both, so they never react to their own events (or to each other's).
const (
	ErrorEventSuffix  = "ErrorEvent"
	ResultEventSuffix = "ResultEvent"
)

// Event types AutoHandlerChange emits.
const (
	BusHandlerRegisteredEventType   = "BusHandlerRegisteredEvent"
	BusHandlerUnregisteredEventType = "BusHandlerUnregisteredEvent"
)

// synthetic reports whether an event type is one AutoError or AutoReturn emits.
func synthetic(eventType string) bool {
	return strings.HasSuffix(eventType, ErrorEventSuffix) || strings.HasSuffix(eventType, ResultEventSuffix)
}

// ErrorInfo is a handler error as the abxbus wire writes it: its type name (abxbus.ErrorType) and its
// message.
type ErrorInfo struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// errorInfo describes err the way the event JSON writes a result error.
func errorInfo(err error) ErrorInfo {
	msg := err.Error()
	var re *abxbus.RemoteError
	if errors.As(err, &re) && re == err {
		msg = re.Message
	}
	return ErrorInfo{Type: abxbus.ErrorType(err), Message: msg}
}

// ErrorPayload is the payload of the `<Type>ErrorEvent` events AutoError emits: the handler error
// ({"type", "message"}, as in a result's "error") and its type name again as error_type. Decode one
// with json.Unmarshal of BaseEvent.PayloadJSON.
type ErrorPayload struct {
	Error     ErrorInfo `json:"error"`
	ErrorType string    `json:"error_type"`
}

// ResultPayload is the payload of the `<Type>ResultEvent` events AutoReturn emits: the handler's return
// value as JSON.
type ResultPayload struct {
	Data json.RawMessage `json:"data"`
}

// AutoError emits, for every handler result that completes with an error, an event of type
// `<event type>ErrorEvent` on the same bus with payload {"error": {"type", "message"}, "error_type"}
// (see ErrorPayload), so that failures travel where events travel (bridges, other runtimes) while
// return values and errors do not. Cancelled and aborted handlers (timeouts, a first-completion win)
// are errors too. Events whose type ends in ErrorEvent or ResultEvent are skipped: no recursion.
//
// The event is emitted fire-and-forget, as a new top-level event (the failed handler has returned, so
// it is not its child); on a bus-serial bus it queues behind the event being processed. An emit that
// fails (a destroyed bus, a full history) is logged through the bus logger. The zero value is ready to
// use and safe for concurrent use; it implements abxbus.ResultChangeHook.
type AutoError struct{}

// OnEventResultChange implements abxbus.ResultChangeHook.
func (AutoError) OnEventResultChange(b *abxbus.Bus, e *abxbus.BaseEvent, r *abxbus.EventResult, phase abxbus.EventStatus) {
	if phase != abxbus.EventCompleted || synthetic(e.Type()) {
		return
	}
	err := r.Err()
	if err == nil {
		return
	}
	info := errorInfo(err)
	emitAuto(b, e, e.Type()+ErrorEventSuffix, ErrorPayload{Error: info, ErrorType: info.Type})
}

// AutoReturn emits, for every handler result that completes with a value, an event of type
// `<event type>ResultEvent` on the same bus with payload {"data": <value as JSON>} (see ResultPayload):
// return values do not cross bridges, events do. Results without a value (an error, a null or Void
// return) and results that are events (a forwarding handler's return) are skipped, and so are events
// whose type ends in ErrorEvent or ResultEvent: no recursion.
//
// Emitting is fire-and-forget, as for AutoError. A value that does not encode to JSON is logged and
// skipped. The zero value is ready to use and safe for concurrent use; it implements
// abxbus.ResultChangeHook.
type AutoReturn struct{}

// OnEventResultChange implements abxbus.ResultChangeHook.
func (AutoReturn) OnEventResultChange(b *abxbus.Bus, e *abxbus.BaseEvent, r *abxbus.EventResult, phase abxbus.EventStatus) {
	if phase != abxbus.EventCompleted || synthetic(e.Type()) || r.Status() != abxbus.ResultCompleted {
		return
	}
	v, err := r.Value()
	if err != nil || v == nil {
		return
	}
	switch v.(type) {
	case abxbus.Void, *abxbus.BaseEvent, interface{ Base() *abxbus.BaseEvent }:
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		b.Logger().Error("[abxbus] AutoReturn: the result does not encode to JSON", "bus", b.Label(), "event", e, "result", r, "error", err)
		return
	}
	if string(data) == "null" {
		return
	}
	emitAuto(b, e, e.Type()+ResultEventSuffix, ResultPayload{Data: data})
}

// BusHandlerRegisteredEvent is the event AutoHandlerChange emits after a handler registration, with the
// handler's registration record as bus JSON writes it (see abxbus.Handler.MarshalJSON). Register
// handlers for it with abxbus.OnNotify.
type BusHandlerRegisteredEvent struct {
	abxbus.Returns[abxbus.Void]
	Handler json.RawMessage `json:"handler"`
}

// BusHandlerUnregisteredEvent is the event AutoHandlerChange emits after a handler was unregistered,
// with its registration record.
type BusHandlerUnregisteredEvent struct {
	abxbus.Returns[abxbus.Void]
	Handler json.RawMessage `json:"handler"`
}

// AutoHandlerChange emits BusHandlerRegisteredEvent after each new handler registration on the bus and
// BusHandlerUnregisteredEvent after each removal (Off, OffID, OffPattern), with payload {"handler":
// <registration record>}: a snapshot taken when the change happened. Emitting is
// fire-and-forget on the same bus, from the goroutine that called On or Off. The zero value is ready to
// use and safe for concurrent use; it implements abxbus.HandlersChangeHook.
type AutoHandlerChange struct{}

// OnBusHandlersChange implements abxbus.HandlersChangeHook.
func (AutoHandlerChange) OnBusHandlersChange(b *abxbus.Bus, h *abxbus.Handler, registered bool) {
	rec, err := h.MarshalJSON()
	if err != nil {
		b.Logger().Error("[abxbus] AutoHandlerChange: cannot encode the handler", "bus", b.Label(), "handler", h.Label(), "error", err)
		return
	}
	var ev *abxbus.BaseEvent
	if registered {
		ev = abxbus.NewEvent(BusHandlerRegisteredEvent{Handler: rec}).Base()
	} else {
		ev = abxbus.NewEvent(BusHandlerUnregisteredEvent{Handler: rec}).Base()
	}
	if _, err := b.Emit(context.Background(), ev); err != nil {
		b.Logger().Error("[abxbus] AutoHandlerChange: emit failed", "bus", b.Label(), "handler", h.Label(), "error", err)
	}
}

// emitAuto emits an untyped event of eventType with payload on b, logging a failure.
func emitAuto(b *abxbus.Bus, src *abxbus.BaseEvent, eventType string, payload any) {
	ev, err := abxbus.NewBaseEvent(eventType, payload)
	if err == nil {
		_, err = b.Emit(context.Background(), ev)
	}
	if err != nil {
		b.Logger().Error("[abxbus] middleware: emit failed", "bus", b.Label(), "event", src, "emit", eventType, "error", err)
	}
}
