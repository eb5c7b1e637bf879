package abxbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Issue 12 item 5: notifications, events declared with Returns[abxbus.Void].

type UserLoggedIn struct {
	abxbus.Returns[abxbus.Void]
	UserID string `json:"user_id"`
}

// Tick declares its result as struct{}: the same as Void.
type Tick struct {
	abxbus.Returns[struct{}]
	N int `json:"n"`
}

// Call on a notification nobody handles is (Void{}, nil), not ErrNoResult.
func TestVoidCallWithoutHandlers(t *testing.T) {
	b := newBus(t, "VoidBus", nil)
	v, err := abxbus.Call(tctx(t), b, UserLoggedIn{UserID: "u1"})
	if err != nil || v != (abxbus.Void{}) {
		t.Fatalf("Call(no handler) = %v, %v; want Void{}, nil", v, err)
	}
	var s struct{} = v // Void is struct{}
	_ = s
	if v, err := abxbus.Call(tctx(t), b, Tick{N: 1}); err != nil || v != struct{}{} {
		t.Fatalf("Call(Tick, no handler) = %v, %v", v, err)
	}
}

// Call on a notification waits for every handler and returns (Void{}, nil) when they all succeeded:
// handlers registered with OnNotify, with On returning Void{}, and untyped ones returning nil or Void{}.
func TestVoidCallHandlersSucceed(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "VoidBus", &abxbus.Options{HandlerConcurrency: abxbus.HandlersParallel})
	var ran atomic.Int32
	must[*abxbus.Handler](t)(abxbus.OnNotify(b, func(ctx context.Context, u UserLoggedIn) error {
		if u.UserID != "u1" {
			return errors.New("wrong payload")
		}
		ran.Add(1)
		return nil
	}))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, u UserLoggedIn) (abxbus.Void, error) {
		ran.Add(1)
		return abxbus.Void{}, nil
	}))
	must[*abxbus.Handler](t)(b.OnType("UserLoggedIn", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		ran.Add(1)
		return abxbus.Void{}, nil
	}))
	must[*abxbus.Handler](t)(b.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		ran.Add(1)
		return nil, nil
	}))
	v, err := abxbus.Call(ctx, b, UserLoggedIn{UserID: "u1"})
	if err != nil || v != (abxbus.Void{}) || ran.Load() != 4 {
		t.Fatalf("Call = %v, %v after %d handlers; want Void{}, nil after 4", v, err, ran.Load())
	}

	// First cannot return early (no handler gives a valid result): it waits for all of them.
	ran.Store(0)
	v, err = abxbus.Call(ctx, b, UserLoggedIn{UserID: "u1"}, abxbus.ResultOptions{First: true})
	if err != nil || v != (abxbus.Void{}) || ran.Load() != 4 {
		t.Fatalf("Call(First) = %v, %v after %d handlers", v, err, ran.Load())
	}

	// The results are completed without a value; none is a valid result.
	e := must[*abxbus.Event[UserLoggedIn, abxbus.Void]](t)(abxbus.Emit(ctx, b, UserLoggedIn{UserID: "u1"}))
	if err := e.Now(ctx); err != nil {
		t.Fatal(err)
	}
	rows := e.EventResults()
	if len(rows) != 4 {
		t.Fatalf("%d results; want 4", len(rows))
	}
	for _, r := range rows {
		if val, err := r.Value(); r.Status() != abxbus.ResultCompleted || val != nil || err != nil {
			t.Fatalf("result of %s = %s %v %v; want completed, no value", r.HandlerName(), r.Status(), val, err)
		}
	}
	if vs, err := e.Results(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("Results = %v, %v; want none", vs, err)
	}
	if v, err := e.Result(ctx); err != nil || v != (abxbus.Void{}) {
		t.Fatalf("Result = %v, %v", v, err)
	}
	if _, err := e.Result(ctx, abxbus.ResultOptions{RequireResult: true}); !errors.Is(err, abxbus.ErrNoResult) {
		t.Fatalf("Result(RequireResult) = %v; want ErrNoResult (a notification has no value)", err)
	}
}

// Handler errors are Call's answer, with the usual policy: one as is, several aggregated.
func TestVoidCallHandlerErrors(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "VoidBus", nil)
	failed := errors.New("mailer down")
	must[*abxbus.Handler](t)(abxbus.OnNotify(b, func(ctx context.Context, u UserLoggedIn) error { return nil }))
	must[*abxbus.Handler](t)(abxbus.OnNotify(b, func(ctx context.Context, u UserLoggedIn) error { return failed }))
	if v, err := abxbus.Call(ctx, b, UserLoggedIn{}); !errors.Is(err, failed) || v != (abxbus.Void{}) {
		t.Fatalf("Call = %v, %v; want the handler error", v, err)
	}
	if _, err := abxbus.Call(ctx, b, UserLoggedIn{}, abxbus.ResultOptions{IgnoreErrors: true}); err != nil {
		t.Fatalf("Call(IgnoreErrors) = %v; want nil", err)
	}
	also := errors.New("audit down")
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, u UserLoggedIn) (abxbus.Void, error) { return abxbus.Void{}, also }))
	_, err := abxbus.Call(ctx, b, UserLoggedIn{})
	var many *abxbus.EventHandlerErrors
	if !errors.As(err, &many) || !errors.Is(err, failed) || !errors.Is(err, also) {
		t.Fatalf("Call with two failures = %v; want *EventHandlerErrors with both", err)
	}

	// An untyped handler returning a value on a notification breaks the declared result type.
	c := newBus(t, "VoidBus2", nil)
	must[*abxbus.Handler](t)(c.OnType("UserLoggedIn", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return "a value", nil
	}))
	var schemaErr *abxbus.EventHandlerResultSchemaError
	if _, err := abxbus.Call(ctx, c, UserLoggedIn{}); !errors.As(err, &schemaErr) {
		t.Fatalf("Call with a value on a notification = %v; want a result schema error", err)
	}
}

// CallChild of a notification from a handler, and a void handler's own children.
func TestVoidCallChild(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "VoidBus", nil)
	var notified atomic.Int32
	must[*abxbus.Handler](t)(abxbus.OnNotify(b, func(ctx context.Context, tk Tick) error {
		notified.Add(1)
		return nil
	}))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Parent) (string, error) {
		if _, err := abxbus.CallChild(ctx, Tick{N: 1}); err != nil {
			return "", err
		}
		return "parent done", nil
	}))
	if v, err := abxbus.Call(ctx, b, Parent{Name: "p"}); err != nil || v != "parent done" || notified.Load() != 1 {
		t.Fatalf("Call(Parent) = %q, %v, child handler ran %d times", v, err, notified.Load())
	}
}

// Non-void events keep requiring a result: Returns[any] with a nil-returning handler is ErrNoResult.
func TestVoidOnlyVoidSkipsTheResultRequirement(t *testing.T) {
	type Anything struct {
		abxbus.Returns[any]
	}
	b := newBus(t, "AnyBus", nil)
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, a Anything) (any, error) { return nil, nil }))
	if _, err := abxbus.Call(tctx(t), b, Anything{}); !errors.Is(err, abxbus.ErrNoResult) {
		t.Fatalf("Call(Returns[any], nil result) = %v; want ErrNoResult", err)
	}
}

// The wire form: no event_result_type (as TypeScript writes an event without a result schema) and
// "result": null for each completed void handler; it decodes back, typed, with the same bytes.
func TestVoidWireForm(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "VoidBus", nil)
	must[*abxbus.Handler](t)(abxbus.OnNotify(b, func(ctx context.Context, u UserLoggedIn) error { return nil }, abxbus.WithName("notify")))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, u UserLoggedIn) (abxbus.Void, error) {
		return abxbus.Void{}, nil
	}, abxbus.WithName("on")))
	e := must[*abxbus.Event[UserLoggedIn, abxbus.Void]](t)(abxbus.Emit(ctx, b, UserLoggedIn{UserID: "u1"}))
	if err := e.Now(ctx); err != nil {
		t.Fatal(err)
	}
	raw := must[[]byte](t)(e.Base().ToJSON())
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	if _, has := obj["event_result_type"]; has {
		t.Fatalf("a notification carries event_result_type: %s", raw)
	}
	var rows map[string]map[string]json.RawMessage
	if err := json.Unmarshal(obj["event_results"], &rows); err != nil || len(rows) != 2 {
		t.Fatalf("event_results = %s, %v", obj["event_results"], err)
	}
	for id, row := range rows {
		if string(row["result"]) != "null" || string(row["status"]) != `"completed"` {
			t.Fatalf("row %s: result %s, status %s; want null, completed", id, row["result"], row["status"])
		}
	}

	var back *abxbus.Event[UserLoggedIn, abxbus.Void]
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if again := must[[]byte](t)(json.Marshal(back)); string(again) != string(raw) {
		t.Fatalf("round trip:\n%s\n%s", again, raw)
	}
	if v, err := back.Result(ctx); err != nil || v != (abxbus.Void{}) {
		t.Fatalf("decoded Result = %v, %v", v, err)
	}
	// The result schema of the type itself is still derivable (it describes {}), as the generator writes it.
	if s, err := abxbus.ResultSchemaFor(reflect.TypeFor[abxbus.Void]()); err != nil || !strings.Contains(string(s), `"type":"object"`) {
		t.Fatalf("ResultSchemaFor(Void) = %s, %v", s, err)
	}
}

// OnNotify refuses what On refuses.
func TestOnNotifyErrors(t *testing.T) {
	b := newBus(t, "VoidBus", nil)
	if _, err := abxbus.OnNotify[UserLoggedIn](b, nil); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("OnNotify(nil fn) = %v", err)
	}
	if _, err := abxbus.OnNotify(nil, func(ctx context.Context, u UserLoggedIn) error { return nil }); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("OnNotify(nil bus) = %v", err)
	}
	h := must[*abxbus.Handler](t)(abxbus.OnNotify(b, namedNotifyHandler))
	if !strings.Contains(h.Name(), "namedNotifyHandler") {
		t.Fatalf("OnNotify handler name = %q; want the function's name", h.Name())
	}
}

func namedNotifyHandler(ctx context.Context, u UserLoggedIn) error { return nil }
