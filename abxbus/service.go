package abxbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"sync"
	"time"
)

// Runtime support for the service clients and server adapters abxbus-gen generates from Go interfaces
// marked //abxbus:service (see package codegen). Each method of such an interface is an ordinary event
// type; a generated client implements the interface by emitting that event, a generated server adapter
// registers an implementation's methods as its handlers. Write code against the generated NewXClient
// and RegisterX, not against ServiceClient and RegisterService.

// ServiceReplyEventType is the event type of ServiceReply.
const ServiceReplyEventType = "abxbus.ServiceReply"

// ServiceReply is the event a generated server adapter emits to answer a call that came from another
// process: handler results stay in the process that ran the handler, so the answer travels back as an
// event of its own, through whatever carries events between the processes (a bridge). The client
// recognises its reply by CallID, the value it put into the request's abxbus_call_id field. A peer in
// another language answers a Go client by emitting this event (event type "abxbus.ServiceReply").
//
// Exactly one of Result and Error is set: Result is the method's first return value as JSON (null
// for a method that returns only an error), Error what the method (or the bus running it) failed with.
type ServiceReply struct {
	Returns[Void]

	CallID  string          `json:"call_id"`
	Service string          `json:"service"`
	Method  string          `json:"method"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *ServiceError   `json:"error,omitempty"`
}

// EventSpec declares the event type "abxbus.ServiceReply".
func (ServiceReply) EventSpec() EventSpec { return EventSpec{Type: ServiceReplyEventType} }

// ServiceError is a service call's error that came back from another process in a ServiceReply: the
// text of the server's error and its code. errors.Is matches it against the errors of this package
// and of package context that its code names (a server-side handler timeout matches ErrHandlerTimeout,
// a cancelled call context.Canceled, ...), and against a *ServiceError with the same non-empty Code,
// so a sentinel such as
//
//	var ErrDeclined = &abxbus.ServiceError{Code: "declined"}
//
// returned by the server (or any error with an `ErrorCode() string` method, which gives the code)
// is matched by errors.Is(err, ErrDeclined) in the client process.
type ServiceError struct {
	Service string `json:"service,omitempty"`
	Method  string `json:"method,omitempty"`
	Message string `json:"message"`
	Code    string `json:"code,omitempty"`
}

func (e *ServiceError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Code
	}
	if e.Service == "" && e.Method == "" {
		return msg
	}
	return fmt.Sprintf("%s.%s: %s", e.Service, e.Method, msg)
}

// ErrorCode returns Code, so a *ServiceError returned by a server keeps its code on the way to the
// client.
func (e *ServiceError) ErrorCode() string { return e.Code }

// Is reports whether target is the error of this package or of package context that e's code names,
// or a *ServiceError with the same non-empty Code.
func (e *ServiceError) Is(target error) bool {
	if t, ok := target.(*ServiceError); ok {
		return t.Code != "" && t.Code == e.Code
	}
	for _, c := range serviceErrorCodes {
		if c.code == e.Code {
			return target == c.err
		}
	}
	return false
}

// serviceErrorCodes are the codes of the errors a ServiceError matches, most specific first.
var serviceErrorCodes = []struct {
	err  error
	code string
}{
	{ErrHandlerTimeout, "handler_timeout"},
	{ErrEventTimeout, "event_timeout"},
	{ErrHandlerCancelled, "handler_cancelled"},
	{ErrHandlerAborted, "handler_aborted"},
	{ErrHandlerPanic, "handler_panic"},
	{ErrResultSchema, "result_schema"},
	{ErrNoHandler, "no_handler"},
	{ErrNoResult, "no_result"},
	{ErrBusDestroyed, "bus_destroyed"},
	{ErrInvalidOption, "invalid_option"},
	{context.DeadlineExceeded, "deadline_exceeded"},
	{context.Canceled, "canceled"},
}

// serviceErrorOf describes err for a reply: its message and its code (ErrorCode).
func serviceErrorOf(service, method string, err error) *ServiceError {
	return &ServiceError{Service: service, Method: method, Message: err.Error(), Code: ErrorCode(err)}
}

// ErrorCode returns the code that names err's kind on the wire, as a *ServiceError carries it: the
// result of an `ErrorCode() string` method in err's chain when it is not empty, else the code of the
// first of this package's errors (ErrHandlerTimeout "handler_timeout", ErrEventTimeout, ...,
// context.DeadlineExceeded "deadline_exceeded", context.Canceled "canceled") that err matches, else "".
// A *ServiceError with that code matches the same errors with errors.Is in the receiving process, so
// a transport that carries calls between processes keeps the error's kind with it.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) && coded.ErrorCode() != "" {
		return coded.ErrorCode()
	}
	for _, c := range serviceErrorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}

// ServiceOption configures a service client (the generated NewXClient).
type ServiceOption func(*serviceConfig)

type serviceConfig struct {
	replies    *Bus
	repliesSet bool
	timeout    time.Duration
}

// ServiceReplies makes the client call across processes: each call carries a fresh call id in the
// request's abxbus_call_id field, and the client waits for the ServiceReply with that id on replies
// instead of reading handler results. replies is the bus where events from the other process arrive:
// the inbound bus of a bridge (br.Bus()) is the right choice, as it has a dispatcher of its own (a
// bus whose queue is held by the calling handler would deliver the reply only after that handler
// returned, which it never does). The bus the client emits on must send the requests on (for example
// bus.OnType("*", br.Forward)). Calls without a reply wait until their context ends (see
// ServiceTimeout).
func ServiceReplies(replies *Bus) ServiceOption {
	return func(c *serviceConfig) { c.replies, c.repliesSet = replies, true }
}

// ServiceTimeout bounds every call of the client to d (a call's context may end it earlier); 0 leaves
// the calls bounded by their contexts only. A call that times out returns an error matching
// context.DeadlineExceeded; the handlers it started keep running.
func ServiceTimeout(d time.Duration) ServiceOption {
	return func(c *serviceConfig) { c.timeout = d }
}

// ServiceClient is the runtime side of a generated service client: the generated methods build the
// request event and call Call. It is safe for concurrent use.
type ServiceClient struct {
	bus     *Bus
	service string
	cfg     serviceConfig
	handler *Handler // the reply handler (across processes)

	mu      sync.Mutex
	pending map[string]chan *ServiceReply
	closed  chan struct{}
	once    sync.Once
}

var errServiceClientClosed = errors.New("service client closed")

// NewServiceClient returns the client of the service named service (the interface name) on bus.
// Errors (wrapping ErrInvalidOption): a nil bus, a nil ServiceReplies bus, a negative ServiceTimeout;
// and the errors of registering the reply handler (a destroyed bus).
func NewServiceClient(bus *Bus, service string, opts ...ServiceOption) (*ServiceClient, error) {
	if bus == nil {
		return nil, fmt.Errorf("%w: %s client: nil bus", ErrInvalidOption, service)
	}
	c := &ServiceClient{bus: bus, service: service, closed: make(chan struct{})}
	for _, o := range opts {
		if o != nil {
			o(&c.cfg)
		}
	}
	if c.cfg.timeout < 0 {
		return nil, fmt.Errorf("%w: %s client: negative ServiceTimeout %v", ErrInvalidOption, service, c.cfg.timeout)
	}
	if c.cfg.repliesSet && c.cfg.replies == nil {
		return nil, fmt.Errorf("%w: %s client: ServiceReplies(nil)", ErrInvalidOption, service)
	}
	if err := bus.unusable("NewServiceClient"); err != nil {
		return nil, err
	}
	if c.cfg.replies != nil {
		c.pending = map[string]chan *ServiceReply{}
		h, err := On(c.cfg.replies, c.onReply, WithName(service+" client replies"))
		if err != nil {
			return nil, fmt.Errorf("%s client: %w", service, err)
		}
		c.handler = h
	}
	return c, nil
}

// onReply hands a reply to the call waiting for it; replies to other clients are ignored.
func (c *ServiceClient) onReply(_ context.Context, r ServiceReply) (Void, error) {
	c.mu.Lock()
	ch := c.pending[r.CallID]
	delete(c.pending, r.CallID)
	c.mu.Unlock()
	if ch != nil {
		ch <- &r
	}
	return Void{}, nil
}

// Close unregisters the client's reply handler (across processes); calls still waiting, and later
// calls, return an error. Calling it again (or on a nil client) does nothing.
func (c *ServiceClient) Close() {
	if c == nil || c.closed == nil {
		return
	}
	c.once.Do(func() {
		close(c.closed)
		if c.handler != nil {
			c.cfg.replies.Off(c.handler)
		}
	})
}

// CallID returns the call id for the next call: "" for a client that reads handler results, a fresh
// unique id for a client that waits for replies (ServiceReplies).
func (c *ServiceClient) CallID() string {
	if c == nil || c.cfg.replies == nil {
		return ""
	}
	return newID().String()
}

// Call calls method with the request payload p (an any holding the method's event type, whose
// abxbus_call_id field is callID from CallID) and returns the method's result (an any holding the
// result type, nil for the zero value) or its error.
//
// Within a process (no ServiceReplies) the request is processed now, queue-jumping when ctx is a
// handler's context, and the answer is that of the handlers: a handler error is returned as is
// (several as *EventHandlerErrors), else the result of the handler RegisterService registered (a
// null result included) or the first non-null result of another handler; with neither, an error
// matching ErrNoResult (and ErrNoHandler when the event had no handler). Across processes the
// request is emitted and processed now (so that it is sent on), an error of its local handlers (a
// bridge that cannot write) is returned, and then the reply is awaited: a reply's error is a
// *ServiceError, its result is validated against the result type's schema and decoded.
//
// ctx (and ServiceTimeout) bound only the wait: the handlers keep running when it ends.
func (c *ServiceClient) Call(ctx context.Context, g GeneratedEvent, method, callID string, p any) (any, error) {
	if c == nil || c.bus == nil {
		return nil, fmt.Errorf("%w: service client not made by NewServiceClient", ErrInvalidOption)
	}
	if c.cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.timeout)
		defer cancel()
	}
	select {
	case <-c.closed:
		return nil, fmt.Errorf("%s.%s: %w", c.service, method, errServiceClientClosed)
	default:
	}
	e, err := g.newEvent(p)
	if e == nil || err != nil {
		return nil, err
	}
	if callID == "" {
		return c.callLocal(ctx, g, method, e)
	}
	ch := make(chan *ServiceReply, 1)
	c.mu.Lock()
	c.pending[callID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, callID)
		c.mu.Unlock()
	}()
	e.willJump(ctx, true, false)
	if _, err := c.bus.Emit(ctx, e); err != nil {
		return nil, err
	}
	if err := e.Now(ctx); err != nil {
		return nil, c.waitErr(ctx, method, err)
	}
	if _, err := e.Result(ctx); err != nil {
		return nil, err
	}
	if len(e.Results()) == 0 {
		return nil, fmt.Errorf("%s.%s: %w on %s: nothing sends the request to the other process (forward the bus to a bridge)",
			c.service, method, ErrNoHandler, c.bus)
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			se := *r.Error
			if se.Service == "" && se.Method == "" {
				se.Service, se.Method = c.service, method
			}
			return nil, &se
		}
		if g.result == voidType || len(r.Result) == 0 {
			return nil, nil
		}
		schema, err := ResultSchemaFor(g.result)
		if err != nil {
			return nil, err
		}
		v, err := decodeResult(string(schema), r.Result, g.result)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: the reply's result: %w", c.service, method, err)
		}
		return v, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%s.%s: no reply to call %s: %w", c.service, method, callID, context.Cause(ctx))
	case <-c.closed:
		return nil, fmt.Errorf("%s.%s: %w while waiting for the reply", c.service, method, errServiceClientClosed)
	}
}

// waitErr adds the call to a wait failure caused by ctx.
func (c *ServiceClient) waitErr(ctx context.Context, method string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s.%s: %w", c.service, method, err)
	}
	return err
}

// callLocal is Call within the process: the handlers' answer.
func (c *ServiceClient) callLocal(ctx context.Context, g GeneratedEvent, method string, e *BaseEvent) (any, error) {
	name := c.service + "." + method
	void := g.result == voidType
	e.willJump(ctx, true, false)
	if _, err := c.bus.Emit(ctx, e); err != nil {
		return nil, err
	}
	v, err := e.Result(ctx, ResultOptions{RequireResult: true, Include: func(r *EventResult) bool {
		if h := r.Handler(); h != nil && h.Name() == name && r.Status() == ResultCompleted {
			return true
		}
		return !void && r.valid()
	}})
	if err != nil {
		return nil, c.waitErr(ctx, method, err)
	}
	if v == nil || void || hasType(v, g.result) {
		return v, nil
	}
	return convertResult(v, g.result)
}

// valid is validLocked for a caller without the event's lock.
func (r *EventResult) valid() bool {
	r.ev.mu.Lock()
	defer r.ev.mu.Unlock()
	return r.validLocked()
}

// ServiceMethod is one method of a service for RegisterService: its name, its event type, how to read
// the call id from a request payload and how to call the implementation with it.
type ServiceMethod struct {
	Name  string
	Event GeneratedEvent
	// CallID returns the abxbus_call_id of the request payload p (an any holding the event type).
	CallID func(p any) string
	// Serve calls the implementation's method with the request payload p and returns its result (an
	// any holding the result type; Void{} for a method that returns only an error) and error.
	Serve func(ctx context.Context, p any) (any, error)
}

// ServiceHandlers are the handlers RegisterService registered for one implementation.
type ServiceHandlers struct {
	bus      *Bus
	handlers []*Handler
}

// Handlers returns the handlers, one per method, in method order.
func (s *ServiceHandlers) Handlers() []*Handler {
	if s == nil {
		return nil
	}
	return append([]*Handler(nil), s.handlers...)
}

// Off unregisters the handlers and returns how many were still registered. Calls already running
// finish; later calls no longer reach the implementation. Calling it again returns 0.
func (s *ServiceHandlers) Off() int {
	if s == nil {
		return 0
	}
	n := 0
	for _, h := range s.handlers {
		if s.bus.Off(h) {
			n++
		}
	}
	return n
}

// RegisterService registers one handler per method on b, named "<service>.<method>" (the name a
// client within the process recognises its answer by; a WithName in opts is overridden). Each
// handler calls the implementation and returns its result or error; when the request carries a call
// id (a client calling across processes), it also emits a ServiceReply on b with the result or the
// error, detached (not a child of the request), also when the method panics (the panic then goes on
// to the bus, which records it as the handler's error). Errors: a nil implementation or bus (wrapping
// ErrInvalidOption) and the errors of registering a handler, after which none stays registered.
func RegisterService(b *Bus, service string, impl any, methods []ServiceMethod, opts []HandlerOption) (*ServiceHandlers, error) {
	if b == nil {
		return nil, fmt.Errorf("%w: Register%s: nil bus", ErrInvalidOption, service)
	}
	if impl == nil || reflect.ValueOf(impl).Kind() == reflect.Pointer && reflect.ValueOf(impl).IsNil() {
		return nil, fmt.Errorf("%w: Register%s: nil implementation", ErrInvalidOption, service)
	}
	s := &ServiceHandlers{bus: b}
	for _, m := range methods {
		if m.CallID == nil || m.Serve == nil {
			s.Off()
			return nil, fmt.Errorf("%w: Register%s: method %s without CallID or Serve", ErrInvalidOption, service, m.Name)
		}
		call := func(ctx context.Context, p any) (v any, err error) {
			id := m.CallID(p)
			if id == "" {
				return m.Serve(ctx, p)
			}
			replied := false
			defer func() {
				if replied {
					return
				}
				rec := recover()
				if rec == nil { // runtime.Goexit: the method never returned
					serviceReply(b, service, m.Name, id, nil, fmt.Errorf("%w: the method did not return", ErrHandlerAborted))
					return
				}
				serviceReply(b, service, m.Name, id, nil, fmt.Errorf("%w: %v", ErrHandlerPanic, rec))
				// The result records the method's panic as the bus records any handler's.
				v, err = nil, &EventHandlerPanicError{Value: rec, Stack: debug.Stack()}
			}()
			r, err := m.Serve(ctx, p)
			replied = true
			serviceReply(b, service, m.Name, id, r, err)
			return r, err
		}
		o := append(append([]HandlerOption(nil), opts...), WithName(service+"."+m.Name))
		h, err := m.Event.On(b, m.Serve, call, o)
		if err != nil {
			s.Off()
			return nil, fmt.Errorf("registering service %s: method %s: %w", service, m.Name, err)
		}
		s.handlers = append(s.handlers, h)
	}
	return s, nil
}

// serviceReply emits the reply to call id on b. A result that does not encode is an error reply.
func serviceReply(b *Bus, service, method, id string, r any, err error) {
	reply := ServiceReply{CallID: id, Service: service, Method: method}
	if _, void := r.(Void); void && err == nil {
		reply.Result = json.RawMessage("null")
	} else if err == nil {
		data, merr := json.Marshal(r)
		if merr != nil {
			err = fmt.Errorf("%w: the result does not encode as JSON: %v", ErrResultSchema, merr)
		} else {
			reply.Result = data
		}
	}
	if err != nil {
		reply.Result = nil
		reply.Error = serviceErrorOf(service, method, err)
	}
	// Detached and with a context of its own: the handler may be over (timed out) by now.
	if _, eerr := b.Emit(context.Background(), NewEvent(reply).Base()); eerr != nil {
		b.logger.Warn("[abxbus] service reply not emitted", "service", service, "method", method, "call_id", id, "error", eerr)
	}
}
