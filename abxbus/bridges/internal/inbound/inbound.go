// Package inbound is the receiving half every bridge shares: the inbound bus a bridge owns, the
// handlers registered on it, the path of a received frame (decode, reset, echo skip, emit within the
// queue window) and the drain of Close. Each bridge keeps its own error texts and log lines: this
// package returns what happened and lets the bridge name it.
package inbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inflight"
	"github.com/typedbus/abxbus-go/internal/flatrow"
)

// Options configure an Inbound.
type Options struct {
	// Name is the inbound bus name; its label joins event_path.
	Name string
	// BusOptions are extra options of the bus (copied; its history size is forced to 0).
	BusOptions *abxbus.Options
	// Logger is the bus's logger when BusOptions has none.
	Logger *slog.Logger
	// Registry decodes known event types into their Go payload types (nil: untyped events).
	Registry *abxbus.Registry
	// QueueSize is how many received events may be queued or running on the bus at once (Emit and
	// Deliver wait for the oldest beyond it). 0: the window is not used (a bridge with its own).
	QueueSize int
}

// Inbound owns a bridge's inbound bus and its queue window. It is safe for concurrent use; Deliver
// is meant for one delivering goroutine at a time, Emit for any number.
type Inbound struct {
	bus    *abxbus.Bus
	reg    *abxbus.Registry
	flight inflight.Window
}

// New creates the inbound bus. Its error is abxbus.New's, for the bridge to wrap with its name.
func New(o Options) (*Inbound, error) {
	var bo abxbus.Options
	if o.BusOptions != nil {
		bo = *o.BusOptions
	}
	bo.MaxHistorySize = abxbus.Ptr(0)
	if bo.Logger == nil {
		bo.Logger = o.Logger
	}
	bus, err := abxbus.New(o.Name, &bo)
	if err != nil {
		return nil, err
	}
	in := &Inbound{bus: bus, reg: o.Registry}
	in.flight.Limit = o.QueueSize
	return in, nil
}

// Bus returns the inbound bus.
func (in *Inbound) Bus() *abxbus.Bus { return in.bus }

// On registers fn on the bus for events of eventType ("*" for all), then calls start (the bridge's
// Start) and returns the handler with start's error.
func (in *Inbound) On(eventType string, fn abxbus.HandlerFunc, opts []abxbus.HandlerOption, start func() error) (*abxbus.Handler, error) {
	h, err := in.bus.OnType(eventType, fn, opts...)
	if err != nil {
		return nil, err
	}
	return h, start()
}

// Decode decodes one received event JSON with the bus's registry (see the function Decode).
func (in *Inbound) Decode(data []byte) (sent, ev *abxbus.BaseEvent, err error) {
	return Decode(in.reg, data)
}

// Decode decodes one received event JSON with reg (nil: untyped) and resets it (a fresh id, pending,
// no results; its event_path kept). It returns the event as it was sent (for its sender's event id)
// and the reset one to emit, or the decoding or reset error.
func Decode(reg *abxbus.Registry, data []byte) (sent, ev *abxbus.BaseEvent, err error) {
	sent, err = reg.Decode(data)
	if err != nil {
		return nil, nil, err
	}
	ev, err = sent.Reset()
	if err != nil {
		return nil, nil, err
	}
	return sent, ev, nil
}

// Echo reports whether e's event_path already names the inbound bus: this bus's own event sent back
// by a two-way wiring. The bus would skip it without completing it, so a bridge does not emit it (it
// was handled here already).
func (in *Inbound) Echo(e *abxbus.BaseEvent) bool { return slices.Contains(e.Path(), in.bus.Label()) }

// Emit emits e on the bus once fewer than QueueSize received events are queued or running, waiting
// for the oldest one otherwise. It returns the emitted event, the bus's refusal, or ctx's error when
// ctx ended before a slot was free. Safe for concurrent callers: the window keeps the bus's order.
func (in *Inbound) Emit(ctx context.Context, e *abxbus.BaseEvent) (*abxbus.BaseEvent, error) {
	return in.flight.Acquire(ctx, func() (*abxbus.BaseEvent, error) { return in.bus.Emit(context.Background(), e) })
}

// RefusedError is the error of Deliver when the bus refused the decoded event (a type bound there to
// another Go type, a destroyed bus).
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// DecodeError is the error of Deliver when the data is not a valid event.
type DecodeError struct{ Err error }

func (e *DecodeError) Error() string { return e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// Deliver is the whole path of one received frame for a bridge that delivers from one goroutine:
// decode and reset (a *DecodeError), skip an echo (nil, nil), then emit on the bus (the event and a
// *RefusedError when the bus refuses it). With window, the event counts in the queue window and Deliver first waits
// for a free slot (ctx's error, unwrapped, when ctx ends first); without it (a bridge that waits for
// each event to complete before the next) it is emitted at once.
func (in *Inbound) Deliver(ctx context.Context, data []byte, window bool) (*abxbus.BaseEvent, error) {
	_, e, err := in.Decode(data)
	if err != nil {
		return nil, &DecodeError{Err: err}
	}
	if in.Echo(e) {
		return nil, nil
	}
	if !window {
		if _, err := in.bus.Emit(context.Background(), e); err != nil {
			return e, &RefusedError{Err: err}
		}
		return e, nil
	}
	emitted := false
	got, err := in.flight.Acquire(ctx, func() (*abxbus.BaseEvent, error) {
		emitted = true
		return in.bus.Emit(context.Background(), e)
	})
	if err != nil {
		if emitted {
			return e, &RefusedError{Err: err}
		}
		return nil, err
	}
	return got, nil
}

// Await waits until e completed. When ctx ends first it reports ctx's error, unless e completed by
// then after all.
func Await(ctx context.Context, e *abxbus.BaseEvent) error {
	select {
	case <-e.Done():
		return nil
	case <-ctx.Done():
		select {
		case <-e.Done():
			return nil
		default:
			return ctx.Err()
		}
	}
}

// Unfinished returns how many events of the queue window have not completed.
func (in *Inbound) Unfinished() int { return in.flight.Unfinished() }

// Drain waits until the bus is idle or d passed (d <= 0: it does not wait) and reports whether the
// bus became idle.
func (in *Inbound) Drain(d time.Duration) bool { return inflight.Drain(in.bus, d) }

// Destroy destroys the bus, cancelling the handlers still running.
func (in *Inbound) Destroy() { in.bus.Destroy(true) }

// Close drains the bus for up to d (see Drain), then destroys it. When the bus did not become idle and
// cut is not nil, Close returns cut's error, called with the number of unfinished events of the
// window before the bus is destroyed (the bridge names and logs them there).
func (in *Inbound) Close(d time.Duration, cut func(unfinished int) error) error {
	var err error
	if !in.Drain(d) && cut != nil {
		err = cut(in.Unfinished())
	}
	in.Destroy()
	return err
}

// Cause returns the error a *DecodeError or *RefusedError wraps, and any other error as it is, for a
// bridge that reports the bare cause.
func Cause(err error) error {
	switch e := err.(type) {
	case *DecodeError:
		return e.Err
	case *RefusedError:
		return e.Err
	}
	return err
}

// DeliverRow is Deliver for a bridge that reads table rows (the flattened columns of the event, see
// flatrow) in order and may keep a cursor (durable): a row that does not decode, or whose event the
// bus refuses for good, is passed to skip (refused tells which) and counts as handled; an echo is
// handled at once; without durable the event joins the queue window (handled once emitted), with it
// DeliverRow waits until the event completed. handled (saving the cursor past the row) then runs,
// with a ctx that is not cancelled once the event completed. It returns handled's error, ctx's error
// (the row is to be read again), or the error of a destroyed bus.
func (in *Inbound) DeliverRow(ctx context.Context, cols []flatrow.Column, durable bool, skip func(refused bool, err error), handled func(context.Context) error) error {
	data, err := flatrow.Decode(cols)
	if err != nil {
		skip(false, err)
		return handled(ctx)
	}
	e, err := in.Deliver(ctx, data, !durable)
	var de *DecodeError
	var re *RefusedError
	switch {
	case errors.As(err, &de):
		skip(false, de.Err)
		return handled(ctx)
	case errors.As(err, &re):
		if errors.Is(re.Err, abxbus.ErrBusDestroyed) {
			return re.Err
		}
		// Refused for good (a binding conflict, a full history): retrying would refuse it again.
		skip(true, re.Err)
		return handled(ctx)
	case err != nil:
		return err
	case e == nil:
		return handled(ctx) // an echo
	case !durable:
		return nil
	}
	if err := Await(ctx, e); err != nil {
		return err
	}
	return handled(context.WithoutCancel(ctx))
}

// RowSkipper returns a skip function for DeliverRow that warns on logger "[abxbus] <bridge>:
// skipping a row" (refused: "... a row the inbound bus refused") with args and the error.
func RowSkipper(logger *slog.Logger, bridge string, args ...any) func(refused bool, err error) {
	return func(refused bool, err error) {
		msg := "[abxbus] " + bridge + ": skipping a row"
		if refused {
			msg += " the inbound bus refused"
		}
		logger.Warn(msg, append(args[:len(args):len(args)], "error", err)...)
	}
}

// Encode is the check every bridge's Emit makes before sending: e's JSON as it is now, or the
// encoding error as "<what>: <error>", or, when limit > 0 and the JSON is longer, an error matching
// bridges.ErrTooLarge that names what, the event and both sizes.
func Encode(e *abxbus.BaseEvent, what string, limit int) ([]byte, error) {
	data, err := e.ToJSON()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if limit > 0 && len(data) > limit {
		return nil, bridges.TooLarge(what, e, len(data), limit)
	}
	return data, nil
}
