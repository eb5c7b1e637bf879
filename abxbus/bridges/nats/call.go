package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

// callQueue is the queue group of the call subscriptions: one listener answers each call.
const callQueue = "abxbus"

// HeaderDeadline carries the caller's deadline (RFC 3339, nanoseconds) on a call request.
const HeaderDeadline = "Abxbus-Deadline"

// Call sends the event for p to a listener of the bridge's subject in another process (NATS
// request/reply on the call subject) and returns its typed result, as abxbus.Call would in that
// process: the first valid result of the handlers the event reached there, or their error. A remote
// error is a *abxbus.ServiceError: errors.Is matches it against the kind it had (a handler timeout
// matches abxbus.ErrHandlerTimeout, an error with an ErrorCode method a *abxbus.ServiceError with that
// code, ...). ctx bounds the call; its deadline travels with the request, and the remote side stops
// waiting for the handlers then (they are not cancelled). opts apply on the remote side's result.
//
// Errors besides the remote one: no process serves the call subject (matching ErrNoResponders; TS
// peers never do), ctx ended, the event does not encode or is too large, the result does not decode
// into R.
func Call[P abxbus.Payload[R], R any](ctx context.Context, br *Bridge, p P, opts ...abxbus.ResultOptions) (R, error) {
	var zero R
	raw, err := br.CallEvent(ctx, abxbus.NewEvent(p).Base(), opts...)
	if err != nil {
		return zero, err
	}
	var r R
	if len(raw) == 0 || string(raw) == "null" {
		return zero, nil
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return zero, fmt.Errorf("nats bridge %s: the result of %T: %w", br.subject, p, err)
	}
	return r, nil
}

// callReply is the body of a call's answer: the result as JSON, or the error in the service reply
// wire form.
type callReply struct {
	Result json.RawMessage      `json:"result,omitempty"`
	Error  *abxbus.ServiceError `json:"error,omitempty"`
}

// CallEvent is the untyped Call: it sends e and returns the remote result as JSON (null when no
// handler returned a value), or the remote error (a *abxbus.ServiceError).
func (br *Bridge) CallEvent(ctx context.Context, e *abxbus.BaseEvent, opts ...abxbus.ResultOptions) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(opts) > 1 {
		return nil, fmt.Errorf("%w: nats bridge: CallEvent takes at most one ResultOptions", abxbus.ErrInvalidOption)
	}
	data, err := e.ToJSON()
	if err != nil {
		return nil, fmt.Errorf("nats bridge %s: %w", br.subject, err)
	}
	msg := &nats.Msg{Subject: br.opts.CallSubject, Data: data, Header: nats.Header{}}
	if d, ok := ctx.Deadline(); ok {
		msg.Header.Set(HeaderDeadline, d.UTC().Format(time.RFC3339Nano))
	} else {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 24*time.Hour) // nats.go needs a deadline
		defer cancel()
	}
	if len(opts) == 1 {
		o, err := json.Marshal(resultOpts{RequireResult: opts[0].RequireResult, IgnoreErrors: opts[0].IgnoreErrors, First: opts[0].First})
		if err == nil {
			msg.Header.Set("Abxbus-Result-Options", string(o))
		}
	}
	if max := int(br.nc.MaxPayload()); max > 0 && len(data) > max-512 {
		return nil, fmt.Errorf("nats bridge %s: call %s: %d bytes exceed the server's max_payload %d", br.subject, e, len(data), max)
	}
	resp, err := br.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, fmt.Errorf("nats bridge %s: call %s: no listener serves %s: %w", br.subject, e, br.opts.CallSubject, err)
		}
		return nil, fmt.Errorf("nats bridge %s: call %s: %w", br.subject, e, err)
	}
	r, err := parseReply(resp.Data)
	var se *abxbus.ServiceError
	if err != nil && !errors.As(err, &se) {
		return nil, fmt.Errorf("nats bridge %s: call %s: %w", br.subject, e, err)
	}
	return r, err
}

// parseReply decodes a call's answer: the result, or the remote error.
func parseReply(data []byte) (json.RawMessage, error) {
	var rep callReply
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("the reply is not a call reply: %w", err)
	}
	if rep.Error != nil {
		return nil, rep.Error
	}
	return rep.Result, nil
}

// resultOpts is the wire form of the ResultOptions a call carries (its Filter cannot travel).
type resultOpts struct {
	RequireResult bool `json:"require_result,omitempty"`
	IgnoreErrors  bool `json:"ignore_errors,omitempty"`
	First         bool `json:"first,omitempty"`
}

// startCalls subscribes to the call subject in the queue group.
func (br *Bridge) startCalls() error {
	sub, err := br.nc.QueueSubscribe(br.opts.CallSubject, callQueue, br.onCall)
	if err != nil {
		return err
	}
	br.callSub = sub
	return nil
}

// onCall serves one request: the event is emitted on the inbound bus (after the events received
// before it) and its result sent back once it completed. It runs on its own goroutine, at most
// QueueSize at once.
//
// Close waits for the callback from the moment it has a request to answer until the answer is sent,
// so the reply goes out before the connection closes; OnError (user code that may call Close) runs
// outside that span.
func (br *Bridge) onCall(m *nats.Msg) {
	if m.Reply == "" {
		br.refuse(m.Subject, 0, len(m.Data), errors.New("a call request without a reply subject"))
		return
	}
	e, err := br.decode(m.Data)
	if err != nil {
		_, counted := br.enterOnCall()
		br.reply(m, callReply{Error: &abxbus.ServiceError{Service: br.subject, Message: "the request is not an abxbus event: " + err.Error(), Code: "invalid_option"}})
		if counted {
			br.leaveOnCall()
		}
		br.refuse(m.Subject, 0, len(m.Data), err)
		return
	}
	stopping, counted := br.enterOnCall()
	if counted {
		defer br.leaveOnCall()
	}
	ctx := br.ctx
	var cancel context.CancelFunc = func() {}
	if d, err := time.Parse(time.RFC3339Nano, m.Header.Get(HeaderDeadline)); err == nil {
		ctx, cancel = context.WithDeadline(ctx, d)
	}
	var ro abxbus.ResultOptions
	if h := m.Header.Get("Abxbus-Result-Options"); h != "" {
		var w resultOpts
		if json.Unmarshal([]byte(h), &w) == nil {
			ro = abxbus.ResultOptions{RequireResult: w.RequireResult, IgnoreErrors: w.IgnoreErrors, First: w.First}
		}
	}
	closed := func() {
		cancel()
		br.reply(m, callReply{Error: serviceError(br.subject, e.Type(), fmt.Errorf("nats bridge %s: %w", br.subject, bridges.ErrClosed))})
	}
	select {
	case br.calls <- struct{}{}:
	case <-stopping:
		closed()
		return
	case <-ctx.Done():
		cancel()
		return
	}
	if !br.startCall() {
		<-br.calls
		closed()
		return
	}
	br.serving.Store(e.ID(), struct{}{})
	if _, err := br.bus.Emit(context.Background(), e); err != nil {
		br.serving.Delete(e.ID())
		<-br.calls
		cancel()
		br.reply(m, callReply{Error: serviceError(br.subject, e.Type(), err)})
		br.wg.Done()
		return
	}
	go func() {
		defer br.wg.Done()
		defer func() { <-br.calls }()
		defer cancel()
		defer br.serving.Delete(e.ID())
		v, err := e.Result(ctx, ro)
		if err != nil {
			br.reply(m, callReply{Error: serviceError(br.subject, e.Type(), err)})
			return
		}
		raw, err := json.Marshal(v)
		if err != nil {
			br.reply(m, callReply{Error: serviceError(br.subject, e.Type(), fmt.Errorf("the result does not encode: %w", err))})
			return
		}
		br.reply(m, callReply{Result: raw})
	}()
}

func (br *Bridge) reply(m *nats.Msg, r callReply) {
	data, err := json.Marshal(r)
	if err != nil {
		data, _ = json.Marshal(callReply{Error: &abxbus.ServiceError{Service: br.subject, Message: err.Error()}})
	}
	if err := m.Respond(data); err != nil {
		br.opts.Logger.Warn("[abxbus] nats bridge: call reply not sent", "subject", m.Subject, "error", err)
	}
}

// serviceError describes err in the service reply's wire form: its text and its code (abxbus.ErrorCode).
func serviceError(service, method string, err error) *abxbus.ServiceError {
	return &abxbus.ServiceError{Service: service, Method: method, Message: err.Error(), Code: abxbus.ErrorCode(err)}
}
