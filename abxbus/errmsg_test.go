package abxbus_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Issue 12 item 7: the messages a user reads say what happened in the user's terms.

type CreateUser struct {
	abxbus.Returns[string]
	Email string `json:"email"`
}

// SpecUser declares its options with an EventSpec method, as generated code does.
type SpecUser struct {
	abxbus.Returns[string]
}

func (SpecUser) EventSpec() abxbus.EventSpec { return abxbus.EventSpec{Type: "SpecUser"} }

func shortID(e *abxbus.BaseEvent) string {
	id := e.ID().String()
	return id[len(id)-4:]
}

// noPythonWords checks a message for the upstream runtime's vocabulary.
func noPythonWords(t *testing.T, err error) {
	t.Helper()
	for _, w := range []string{"None", "raise_if_any", "Expected at least"} {
		if strings.Contains(err.Error(), w) {
			t.Errorf("message %q uses %q", err, w)
		}
	}
}

func TestNoHandlerMessageIssue12(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "Users", nil)
	_, err := abxbus.Call(ctx, bus, CreateUser{Email: "a@b"})
	want := `abxbus: no handler for event type "CreateUser" on bus ` + bus.Label() + " (event CreateUser#"
	var none *abxbus.EventResultNoneError
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.As(err, &none) || none.Handlers != 0 {
		t.Fatalf("Call: %v, want %s...", err, want)
	}
	if !errors.Is(err, abxbus.ErrNoResult) || !errors.Is(err, abxbus.ErrNoHandler) {
		t.Fatalf("Call: %v does not match ErrNoResult and ErrNoHandler", err)
	}
	noPythonWords(t, err)

	e := must[*abxbus.Event[CreateUser, string]](t)(abxbus.Emit(ctx, bus, CreateUser{}))
	_, err = e.Result(ctx, abxbus.ResultOptions{RequireResult: true})
	if want := want + shortID(e.Base()) + ")"; err == nil || err.Error() != want {
		t.Fatalf("Result(RequireResult) = %v, want %s", err, want)
	}
	if v, err := e.Result(ctx); err != nil || v != "" {
		t.Fatalf("Result without RequireResult = %q, %v", v, err)
	}
}

func TestNoResultMessagesNameWhatHandlersDidIssue12(t *testing.T) {
	ctx := tctx(t)
	for _, c := range []struct {
		name     string
		handlers []abxbus.HandlerFunc
		opts     abxbus.ResultOptions
		detail   string
	}{
		{"one null", []abxbus.HandlerFunc{nullHandler}, abxbus.ResultOptions{}, "its one handler returned null"},
		{"two null", []abxbus.HandlerFunc{nullHandler, nullHandler}, abxbus.ResultOptions{}, "both handlers returned null"},
		{"three null", []abxbus.HandlerFunc{nullHandler, nullHandler, nullHandler}, abxbus.ResultOptions{}, "all 3 handlers returned null"},
		{"errors ignored", []abxbus.HandlerFunc{nullHandler, failHandler}, abxbus.ResultOptions{IgnoreErrors: true},
			"1 returned null, 1 failed (errors ignored)"},
		{"filtered", []abxbus.HandlerFunc{valueHandler, nullHandler}, abxbus.ResultOptions{Include: func(r *abxbus.EventResult) bool { return false }},
			"1 returned null, 1 returned a value the filter left out"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bus := newBus(t, "Nulls", nil)
			for i, h := range c.handlers {
				must[*abxbus.Handler](t)(bus.OnType("CreateUser", h, abxbus.WithName(fmt.Sprint("h", i))))
			}
			e := must[*abxbus.Event[CreateUser, string]](t)(abxbus.Emit(ctx, bus, CreateUser{}))
			opts := c.opts
			opts.RequireResult = true
			_, err := e.Result(ctx, opts)
			want := "abxbus: no handler returned a result for CreateUser#" + shortID(e.Base()) + ": " + c.detail
			if err == nil || err.Error() != want {
				t.Fatalf("Result = %v, want %s", err, want)
			}
			if !errors.Is(err, abxbus.ErrNoResult) || errors.Is(err, abxbus.ErrNoHandler) {
				t.Fatalf("%v: want ErrNoResult, not ErrNoHandler", err)
			}
			noPythonWords(t, err)
		})
	}
}

// A forwarder that hands the event to a bus without handlers: the message says the event was
// forwarded, and names both buses when no handler ran anywhere.
func TestNoResultAfterForwardIssue12(t *testing.T) {
	ctx := tctx(t)
	a := newBus(t, "Front", nil)
	b := newBus(t, "Back", nil)
	must[*abxbus.Handler](t)(a.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return b.Emit(ctx, e)
	}, abxbus.WithName("forward")))
	e := must[*abxbus.Event[CreateUser, string]](t)(abxbus.Emit(ctx, a, CreateUser{}))
	_, err := e.Result(ctx, abxbus.ResultOptions{RequireResult: true})
	if want := "abxbus: no handler returned a result for CreateUser#" + shortID(e.Base()) + ": its one handler forwarded the event"; err == nil || err.Error() != want {
		t.Fatalf("Result = %v, want %s", err, want)
	}

	c := newBus(t, "Third", nil)
	d := newBus(t, "Fourth", nil)
	must[*abxbus.Handler](t)(c.OnType("Unrelated", nullHandler))
	e2 := must[*abxbus.Event[CreateUser, string]](t)(abxbus.Emit(ctx, c, CreateUser{}))
	must[*abxbus.BaseEvent](t)(d.Emit(ctx, e2.Base()))
	_, err = e2.Result(ctx, abxbus.ResultOptions{RequireResult: true})
	if want := `abxbus: no handler for event type "CreateUser" on buses ` + c.Label() + ", " + d.Label(); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Result = %v, want %s...", err, want)
	}
}

func nullHandler(ctx context.Context, e *abxbus.BaseEvent) (any, error)  { return nil, nil }
func valueHandler(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return "v", nil }
func failHandler(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
	return nil, errors.New("boom")
}

// A pointer payload satisfies the Payload constraint (a pointer's method set includes the value's
// methods), so it is refused at run time, by every typed entry point, with the fix in the message; an
// EventSpec method on the value type is not called through a nil pointer.
func TestPointerPayloadRefusedIssue12(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "Pointers", nil)
	check := func(api string, err error, typ string) {
		t.Helper()
		want := fmt.Sprintf("payload type *abxbus_test.%s is a pointer; pass the value abxbus_test.%s (events are values)", typ, typ)
		if err == nil || !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error saying %q", api, err, want)
		}
	}
	_, err := abxbus.Emit(ctx, bus, &CreateUser{Email: "a@b"})
	check("Emit", err, "CreateUser")
	_, err = abxbus.Call(ctx, bus, &CreateUser{})
	check("Call", err, "CreateUser")
	_, err = abxbus.On(bus, func(ctx context.Context, p *CreateUser) (string, error) { return "", nil })
	check("On", err, "CreateUser")
	_, err = abxbus.OnEvent(bus, func(ctx context.Context, e *abxbus.Event[*CreateUser, string]) (string, error) { return "", nil })
	check("OnEvent", err, "CreateUser")
	ne := abxbus.NewEvent(&CreateUser{})
	_, err = bus.Emit(ctx, ne.Base())
	check("NewEvent then Bus.Emit", err, "CreateUser")
	check("NewEvent then Wait", ne.Wait(ctx), "CreateUser")
	check("Register", abxbus.Register[*CreateUser](abxbus.NewRegistry()), "CreateUser")
	_, err = abxbus.Find[*CreateUser](ctx, bus, abxbus.FindOptions{})
	check("Find", err, "CreateUser")
	_, err = abxbus.Emit(ctx, bus, &SpecUser{})
	check("Emit with EventSpec", err, "SpecUser")
	check("Register with EventSpec", abxbus.Register[*SpecUser](abxbus.NewRegistry()), "SpecUser")
	if bus.HistoryLen() != 0 || len(bus.Handlers()) != 0 {
		t.Fatalf("a refused pointer payload left %d events, %d handlers", bus.HistoryLen(), len(bus.Handlers()))
	}
	// the value path is unaffected
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p CreateUser) (string, error) { return p.Email, nil }))
	if v, err := abxbus.Call(ctx, bus, CreateUser{Email: "a@b"}); err != nil || v != "a@b" {
		t.Fatalf("Call with a value = %q, %v", v, err)
	}
}

// Result type mismatches name the event, the handler and what in the value was wrong, and no made-up
// schema location.
func TestResultSchemaMessagesIssue12(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "Schemas", nil)
	h := must[*abxbus.Handler](t)(bus.OnType("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return []string{"x"}, nil
	}, abxbus.WithName("wrong_shape")))
	e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, bus, Ping{}))
	_, err := e.Result(ctx)
	who := bus.Label() + "." + h.Label() + "(Ping#" + shortID(e.Base()) + ")"
	want := "handler " + who + ` returned ["x"] ([]string), which does not fit the event's result type int: json: cannot unmarshal array into Go value of type int`
	if !errors.Is(err, abxbus.ErrResultSchema) || err.Error() != want {
		t.Fatalf("typed mismatch: %v\nwant %s", err, want)
	}

	fe := must[*abxbus.BaseEvent](t)(abxbus.FromJSON([]byte(`{"event_type":"Account","event_result_type":{"type":"object","properties":{"id":{"type":"integer"}},"$defs":{"n":{"type":"integer"}}}}`)))
	fh := must[*abxbus.Handler](t)(bus.OnType("Account", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return map[string]any{"id": "x"}, nil
	}, abxbus.WithName("stringly")))
	must[*abxbus.BaseEvent](t)(bus.Emit(ctx, fe))
	_, err = fe.Result(ctx)
	want = "handler " + bus.Label() + "." + fh.Label() + "(Account#" + shortID(fe) + `) returned {"id":"x"}, which does not match event_result_type of event "Account": at '/id': got string, want integer`
	if !errors.Is(err, abxbus.ErrResultSchema) || err.Error() != want {
		t.Fatalf("foreign schema mismatch: %v\nwant %s", err, want)
	}

	err = abxbus.ValidateResult([]byte(`{"$defs":{"n":{"type":"integer"}},"$ref":"#/$defs/n"}`), "abc")
	want = `result "abc" does not match event_result_type: at the top level: got string, want integer`
	if !errors.Is(err, abxbus.ErrResultSchema) || err.Error() != want {
		t.Fatalf("ValidateResult: %v\nwant %s", err, want)
	}
	for _, bad := range []string{"abxbus:///", "file:", "jsonschema validation failed", "EventHandlerResultSchemaError:"} {
		if strings.Contains(err.Error(), bad) {
			t.Fatalf("message %q contains %q", err, bad)
		}
	}
}
