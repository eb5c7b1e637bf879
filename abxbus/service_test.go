package abxbus_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
)

// The runtime side of generated service clients (issue 17 item 3, F265-F267), driven here by code
// written the way abxbus-gen writes it for
//
//	type Ledger interface {
//		Post(ctx context.Context, req PostRequest) (*Entry, error)
//		Void(ctx context.Context, id string) error
//	}

type PostRequest struct {
	Account string `json:"account"`
	Cents   int    `json:"cents"`
}

type Entry struct {
	ID    string `json:"id"`
	Cents int    `json:"cents"`
}

type LedgerPost struct {
	abxbus.Returns[*Entry]
	PostRequest
	AbxbusCallID string `json:"abxbus_call_id,omitempty"`
}

type LedgerVoid struct {
	abxbus.Returns[abxbus.Void]
	ID           string `json:"id"`
	AbxbusCallID string `json:"abxbus_call_id,omitempty"`
}

var (
	abxbusLedgerPost = abxbus.Generated[LedgerPost, *Entry]()
	abxbusLedgerVoid = abxbus.Generated[LedgerVoid, abxbus.Void]()
)

type ledger interface {
	Post(ctx context.Context, req PostRequest) (*Entry, error)
	Void(ctx context.Context, id string) error
}

type ledgerClient struct{ c *abxbus.ServiceClient }

func (c *ledgerClient) Post(ctx context.Context, req PostRequest) (*Entry, error) {
	id := c.c.CallID()
	v, err := c.c.Call(ctx, abxbusLedgerPost, "Post", id, LedgerPost{PostRequest: req, AbxbusCallID: id})
	r, _ := v.(*Entry)
	return r, err
}

func (c *ledgerClient) Void(ctx context.Context, x string) error {
	id := c.c.CallID()
	_, err := c.c.Call(ctx, abxbusLedgerVoid, "Void", id, LedgerVoid{ID: x, AbxbusCallID: id})
	return err
}

func newLedgerClient(t *testing.T, bus *abxbus.Bus, opts ...abxbus.ServiceOption) ledger {
	t.Helper()
	c, err := abxbus.NewServiceClient(bus, "Ledger", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &ledgerClient{c}
}

func registerLedger(bus *abxbus.Bus, impl ledger) (*abxbus.ServiceHandlers, error) {
	return abxbus.RegisterService(bus, "Ledger", impl, []abxbus.ServiceMethod{
		{Name: "Post", Event: abxbusLedgerPost,
			CallID: func(p any) string { return p.(LedgerPost).AbxbusCallID },
			Serve: func(ctx context.Context, p any) (any, error) {
				return impl.Post(ctx, p.(LedgerPost).PostRequest)
			}},
		{Name: "Void", Event: abxbusLedgerVoid,
			CallID: func(p any) string { return p.(LedgerVoid).AbxbusCallID },
			Serve: func(ctx context.Context, p any) (any, error) {
				return abxbus.Void{}, impl.Void(ctx, p.(LedgerVoid).ID)
			}},
	}, nil)
}

var errOverdrawn = &abxbus.ServiceError{Code: "overdrawn"}

type memLedger struct {
	block chan struct{} // Post of account "slow" waits for it (or its context)
}

func (m *memLedger) Post(ctx context.Context, req PostRequest) (*Entry, error) {
	switch req.Account {
	case "none":
		return nil, nil // a legitimate nil result
	case "overdrawn":
		return nil, errOverdrawn
	case "panic":
		panic("ledger is on fire")
	case "slow":
		select {
		case <-m.block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &Entry{ID: "e-" + req.Account, Cents: req.Cents}, nil
}

func (m *memLedger) Void(ctx context.Context, id string) error {
	if id == "" {
		return errors.New("no entry id")
	}
	return nil
}

func TestServiceInProcess(t *testing.T) {
	ctx := context.Background()
	bus, _ := abxbus.New("LedgerBus", nil)
	defer bus.Destroy(true)
	client := newLedgerClient(t, bus)

	// No implementation registered: a void method too is an error, not a silent success.
	if err := client.Void(ctx, "e-1"); !errors.Is(err, abxbus.ErrNoHandler) {
		t.Fatalf("Void without a server: %v, want ErrNoHandler", err)
	}
	reg, err := registerLedger(bus, &memLedger{})
	if err != nil {
		t.Fatal(err)
	}
	// A forwarder-like handler returning nothing does not count as the answer; the server's does.
	if _, err := bus.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	e, err := client.Post(ctx, PostRequest{Account: "acme", Cents: 250})
	if err != nil || e == nil || *e != (Entry{ID: "e-acme", Cents: 250}) {
		t.Fatalf("Post = %+v, %v", e, err)
	}
	if e, err := client.Post(ctx, PostRequest{Account: "none"}); err != nil || e != nil {
		t.Fatalf("Post returning nil, nil = %+v, %v", e, err)
	}
	// The implementation's error comes back as is.
	if _, err := client.Post(ctx, PostRequest{Account: "overdrawn"}); err != errOverdrawn {
		t.Fatalf("Post error = %v, want the implementation's error itself", err)
	}
	if err := client.Void(ctx, "e-1"); err != nil {
		t.Fatal(err)
	}
	if err := client.Void(ctx, ""); err == nil || err.Error() != "no entry id" {
		t.Fatalf("Void error = %v", err)
	}
	if got := reg.Handlers(); len(got) != 2 || got[0].Name() != "Ledger.Post" || got[1].Name() != "Ledger.Void" {
		t.Fatalf("handlers %v", got)
	}
	if n := reg.Off(); n != 2 {
		t.Fatalf("Off = %d", n)
	}
	if n := reg.Off(); n != 0 {
		t.Fatalf("second Off = %d", n)
	}
	if _, err := client.Post(ctx, PostRequest{Account: "acme"}); !errors.Is(err, abxbus.ErrNoResult) {
		t.Fatalf("Post after Off: %v, want ErrNoResult", err)
	}
}

// A call from inside a handler queue-jumps instead of waiting behind the handler's own event.
func TestServiceCallFromHandler(t *testing.T) {
	ctx := context.Background()
	bus, _ := abxbus.New("LedgerBus", nil)
	defer bus.Destroy(true)
	if _, err := registerLedger(bus, &memLedger{}); err != nil {
		t.Fatal(err)
	}
	client := newLedgerClient(t, bus)
	type Outer struct {
		abxbus.Returns[int]
	}
	abxbus.On(bus, func(ctx context.Context, _ Outer) (int, error) {
		e, err := client.Post(ctx, PostRequest{Account: "inner", Cents: 7})
		if err != nil {
			return 0, err
		}
		return e.Cents, nil
	})
	if n, err := abxbus.Call(ctx, bus, Outer{}); err != nil || n != 7 {
		t.Fatalf("outer = %d, %v", n, err)
	}
}

func TestServiceBadInput(t *testing.T) {
	bus, _ := abxbus.New("LedgerBus", nil)
	defer bus.Destroy(true)
	for name, f := range map[string]func() error{
		"nil bus":     func() error { _, err := abxbus.NewServiceClient(nil, "Ledger"); return err },
		"nil replies": func() error { _, err := abxbus.NewServiceClient(bus, "Ledger", abxbus.ServiceReplies(nil)); return err },
		"neg timeout": func() error { _, err := abxbus.NewServiceClient(bus, "Ledger", abxbus.ServiceTimeout(-1)); return err },
		"nil impl":    func() error { _, err := registerLedger(bus, nil); return err },
		"nil *impl":   func() error { _, err := registerLedger(bus, (*memLedger)(nil)); return err },
		"nil reg bus": func() error { _, err := registerLedger(nil, &memLedger{}); return err },
		"nil call fns": func() error {
			_, err := abxbus.RegisterService(bus, "X", 1, []abxbus.ServiceMethod{{Name: "M"}}, nil)
			return err
		},
	} {
		if err := f(); !errors.Is(err, abxbus.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
	if len(bus.Handlers()) != 0 {
		t.Errorf("handlers left after failed registrations: %v", bus.Handlers())
	}
}

// Across processes (here two JSONL bridges on one file, as two processes would have): the request
// carries a call id, the server adapter answers with a ServiceReply event, the client waits for it.
func TestServiceAcrossJSONLBridge(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	fast := &jsonl.Options{PollInterval: 10 * time.Millisecond}

	// Server side: requests from the file reach the app bus, everything the app bus emits goes out.
	srvApp, _ := abxbus.New("LedgerServer", nil)
	defer srvApp.Destroy(true)
	srvBr, err := jsonl.New(path, fast)
	if err != nil {
		t.Fatal(err)
	}
	defer srvBr.Close()
	impl := &memLedger{block: make(chan struct{})}
	defer close(impl.block)
	reg, err := registerLedger(srvApp, impl)
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Handlers()[0].SetTimeout(300 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	srvApp.OnType("*", srvBr.Forward)
	if _, err := srvBr.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return srvApp.Emit(ctx, e) }); err != nil {
		t.Fatal(err)
	}

	// Client side: the app bus forwards requests to the file, replies arrive on the bridge's bus.
	cliApp, _ := abxbus.New("LedgerClient", nil)
	defer cliApp.Destroy(true)
	cliBr, err := jsonl.New(path, fast)
	if err != nil {
		t.Fatal(err)
	}
	defer cliBr.Close()
	if err := cliBr.Start(); err != nil {
		t.Fatal(err)
	}
	cliApp.OnType("*", cliBr.Forward)
	client := newLedgerClient(t, cliApp, abxbus.ServiceReplies(cliBr.Bus()))

	e, err := client.Post(ctx, PostRequest{Account: "acme", Cents: 250})
	if err != nil || e == nil || *e != (Entry{ID: "e-acme", Cents: 250}) {
		t.Fatalf("Post = %+v, %v", e, err)
	}
	if e, err := client.Post(ctx, PostRequest{Account: "none"}); err != nil || e != nil {
		t.Fatalf("Post returning nil, nil = %+v, %v", e, err)
	}
	if err := client.Void(ctx, "e-1"); err != nil {
		t.Fatal(err)
	}
	// Errors come back as *ServiceError, matched by their code.
	_, err = client.Post(ctx, PostRequest{Account: "overdrawn"})
	var se *abxbus.ServiceError
	if !errors.Is(err, errOverdrawn) || !errors.As(err, &se) || se.Method != "Post" || se.Service != "Ledger" {
		t.Fatalf("Post error = %#v, want a ServiceError matching errOverdrawn", err)
	}
	if err := client.Void(ctx, ""); !errors.As(err, &se) || se.Message != "no entry id" || err.Error() != "Ledger.Void: no entry id" {
		t.Fatalf("Void error = %v", err)
	}
	if _, err := client.Post(ctx, PostRequest{Account: "panic"}); !errors.Is(err, abxbus.ErrHandlerPanic) || !strings.Contains(err.Error(), "ledger is on fire") {
		t.Fatalf("Post panicking: %v, want a ServiceError matching ErrHandlerPanic", err)
	}
	// The server's handler timeout ends the method's context; the reply says so.
	if _, err := client.Post(ctx, PostRequest{Account: "slow"}); !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &se) {
		t.Fatalf("Post timing out on the server: %v", err)
	}
	// Replies to other clients on the same file are ignored; concurrent calls get their own.
	other := newLedgerClient(t, cliApp, abxbus.ServiceReplies(cliBr.Bus()))
	errs := make(chan error, 8)
	for i := range 8 {
		c := client
		if i%2 == 1 {
			c = other
		}
		go func() {
			acct := strings.Repeat("a", i+1)
			e, err := c.Post(ctx, PostRequest{Account: acct, Cents: i})
			if err == nil && (e == nil || e.ID != "e-"+acct || e.Cents != i) {
				err = errors.New("wrong reply " + e.ID)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// A call across processes that nobody answers ends with its context (or ServiceTimeout); a client
// whose bus sends nothing on says so at once.
func TestServiceNoReply(t *testing.T) {
	ctx := context.Background()
	app, _ := abxbus.New("Lonely", nil)
	defer app.Destroy(true)
	replies, _ := abxbus.New("Replies", nil)
	defer replies.Destroy(true)
	client := newLedgerClient(t, app, abxbus.ServiceReplies(replies))
	if _, err := client.Post(ctx, PostRequest{Account: "acme"}); !errors.Is(err, abxbus.ErrNoHandler) {
		t.Fatalf("Post with nothing forwarding: %v, want ErrNoHandler", err)
	}
	app.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil })
	timed := newLedgerClient(t, app, abxbus.ServiceReplies(replies), abxbus.ServiceTimeout(50*time.Millisecond))
	if _, err := timed.Post(ctx, PostRequest{Account: "acme"}); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no reply") {
		t.Fatalf("Post without a server: %v, want a deadline error", err)
	}
	c, err := abxbus.NewServiceClient(app, "Ledger", abxbus.ServiceReplies(replies))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	if err := (&ledgerClient{c}).Void(ctx, "x"); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("call on a closed client: %v", err)
	}
}
