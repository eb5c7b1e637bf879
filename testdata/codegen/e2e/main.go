// Command e2e drives the generated helpers of package shop on a real bus, and checks that every
// golden package's generated schema constants equal the runtime's ResultSchemaFor (the test that runs
// it writes schemaChecks in cases.go). It prints what it checked and exits non-zero on the first
// failure.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"

	"abxbusgene2e/samples"
	"abxbusgene2e/shop"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func ok(format string, args ...any) { fmt.Printf("ok: "+format+"\n", args...) }

func main() {
	for _, name := range slices.Sorted(mapsKeys(schemaChecks)) {
		if bad := schemaChecks[name](); len(bad) > 0 {
			fail("package %s: schema check failed:\n%s", name, strings.Join(bad, "\n"))
		}
		ok("package %s: generated schema constants agree with ResultSchemaFor and accept the zero and a populated value", name)
	}
	if err := samples.Write(os.Getenv("ABXBUS_E2E_SAMPLES")); err != nil {
		fail("writing the samples: %v", err)
	}
	if err := scenario(); err != nil {
		fail("%v", err)
	}
	fmt.Println("PASS")
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func scenario() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bus, err := abxbus.New("ShopBus", nil)
	if err != nil {
		return err
	}
	defer bus.Destroy(true)

	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var awaitedMu sync.Mutex
	awaited := map[string]*abxbus.Event[shop.Audit, *string]{}
	if _, err := shop.OnCreateOrder(bus, func(ctx context.Context, o shop.CreateOrder) (shop.OrderID, error) {
		r, err := shop.CallReserveChild(ctx, shop.Reserve{Order: "o-" + shop.OrderID(o.Customer), Items: o.Items})
		if err != nil {
			return "", err
		}
		if _, err := shop.EmitAuditChild(ctx, shop.Audit{Line: "reserved " + r.ID}); err != nil {
			return "", err
		}
		// AwaitAuditChild: a linked child, complete when it returns.
		a, err := shop.AwaitAuditChild(ctx, shop.Audit{Line: "awaited " + o.Customer})
		if err != nil {
			return "", err
		}
		if st := a.Status(); st != abxbus.EventCompleted {
			return "", fmt.Errorf("AwaitAuditChild returned a %s event", st)
		}
		awaitedMu.Lock()
		awaited[o.Customer] = a
		awaitedMu.Unlock()
		return shop.OrderID("o-" + o.Customer), nil
	}); err != nil {
		return err
	}
	if _, err := shop.OnReserve(bus, func(ctx context.Context, r shop.Reserve) (shop.Reservation, error) {
		return shop.Reservation{ID: "r-" + string(r.Order), Items: r.Items, At: at}, nil
	}); err != nil {
		return err
	}
	// Audit handlers can run at the same time: an Await from outside a handler runs its event beside
	// the one the dispatcher runs (an unawaited Audit child of the order before), and the Audit it
	// awaits inside its handler runs with it.
	var auditsMu sync.Mutex
	var audits []string
	if _, err := shop.OnAuditEvent(bus, func(ctx context.Context, e *abxbus.Event[shop.Audit, *string]) (*string, error) {
		p, err := e.Payload()
		if err != nil {
			return nil, err
		}
		auditsMu.Lock()
		audits = append(audits, p.Line)
		auditsMu.Unlock()
		return nil, nil
	}); err != nil {
		return err
	}

	// Call: request/response through the generated helper, with a queue-jumping child call inside.
	id, err := shop.CallCreateOrder(ctx, bus, shop.CreateOrder{Customer: "ada", Items: []string{"book"}})
	if err != nil || id != "o-ada" {
		return fmt.Errorf("CallCreateOrder = %q, %v; want o-ada", id, err)
	}
	ok("CallCreateOrder returned %q", id)

	// Await: the event is complete when it returns; the declared options are on it.
	ev, err := shop.AwaitCreateOrder(ctx, bus, shop.CreateOrder{Customer: "bob", Items: []string{"pen", "ink"}})
	if err != nil {
		return fmt.Errorf("AwaitCreateOrder: %v", err)
	}
	if st := ev.Status(); st != abxbus.EventCompleted {
		return fmt.Errorf("AwaitCreateOrder returned a %s event", st)
	}
	if ev.Base().Type() != shop.CreateOrderEventType || ev.Base().Type() != "shop.order.create" || ev.Base().Version() != "2.1.0" {
		return fmt.Errorf("event type/version %s/%s, want shop.order.create/2.1.0", ev.Base().Type(), ev.Base().Version())
	}
	o := ev.Base().Options()
	if o.Timeout != 20*time.Second {
		return fmt.Errorf("event timeout %v, want the declared 20s", o.Timeout)
	}
	if o.HandlerTimeout != 10*time.Second {
		return fmt.Errorf("handler timeout %v, want the declared 10s", o.HandlerTimeout)
	}
	if o.Completion != abxbus.CompleteAll {
		return fmt.Errorf("completion %q, want all", o.Completion)
	}
	if r, err := ev.Result(ctx); err != nil || r != "o-bob" {
		return fmt.Errorf("Await result %q, %v", r, err)
	}
	ok("AwaitCreateOrder: %s completed with type %s, version %s and the declared defaults", ev, ev.Base().Type(), ev.Base().Version())

	// AwaitAuditChild inside bob's handler made a linked child of bob's order (issue 11 item 12).
	awaitedMu.Lock()
	a := awaited["bob"]
	awaitedMu.Unlock()
	if a == nil || a.Base().ParentID() != ev.ID() || !slices.Contains(ev.Base().Children(), a.Base()) || a.Base().EmittedByHandlerID().IsZero() {
		return fmt.Errorf("AwaitAuditChild in bob's handler: event %v is not a linked child of %s", a, ev)
	}
	if _, err := shop.AwaitAuditChild(ctx, shop.Audit{Line: "outside"}); !errors.Is(err, abxbus.ErrNotInHandler) {
		return fmt.Errorf("AwaitAuditChild outside a handler: %v, want ErrNotInHandler", err)
	}
	ok("AwaitAuditChild: the awaited child is linked to its parent and complete")

	// EmitWith: per-event options override the declared defaults.
	ev2, err := shop.EmitCreateOrderWith(ctx, bus, shop.CreateOrder{Customer: "cy"}, abxbus.EventOptions{Timeout: 3 * time.Second})
	if err != nil {
		return err
	}
	if d := ev2.Base().Options().Timeout; d != 3*time.Second {
		return fmt.Errorf("EmitWith timeout %v, want 3s", d)
	}
	if d := ev2.Base().Options().HandlerTimeout; d != 10*time.Second {
		return fmt.Errorf("EmitWith handler timeout %v, want the declared 10s", d)
	}
	if err := ev2.Wait(ctx); err != nil {
		return err
	}
	ok("EmitCreateOrderWith: override kept, other defaults applied")

	// Find/Filter: the reservation made as bob's child, and every audit line.
	child, err := shop.FindReserve(ctx, bus, abxbus.FindOptions{ChildOf: ev.Base()})
	if err != nil || child == nil {
		return fmt.Errorf("FindReserve(ChildOf bob's order) = %v, %v", child, err)
	}
	if p, _ := child.Payload(); p.Order != "o-bob" || !slices.Equal(p.Items, []string{"pen", "ink"}) {
		return fmt.Errorf("found reservation payload %+v", p)
	}
	res, err := child.Result(ctx)
	if err != nil || res.ID != "r-o-bob" || !res.At.Equal(at) {
		return fmt.Errorf("found reservation result %+v, %v", res, err)
	}
	all, err := shop.FilterAudit(ctx, bus, abxbus.FindOptions{})
	if err != nil || len(all) != 6 {
		return fmt.Errorf("FilterAudit = %d events, %v; want 6 (an emitted and an awaited child per order)", len(all), err)
	}
	ok("FindReserve and FilterAudit found the children (%d audits)", len(all))

	// A result that arrives as JSON: valid, null, and failing validation.
	r, err := shop.DecodeReserveResult([]byte(`{"id":"r-9","items":["a"],"at":"2026-01-02T03:04:05Z","note":null}`))
	if err != nil || r.ID != "r-9" || !r.At.Equal(at) {
		return fmt.Errorf("DecodeReserveResult(valid) = %+v, %v", r, err)
	}
	if r, err := shop.DecodeReserveResult([]byte(`null`)); err != nil || r.ID != "" {
		return fmt.Errorf("DecodeReserveResult(null) = %+v, %v", r, err)
	}
	for _, bad := range []string{`{"id":9,"items":[],"at":"2026-01-02T03:04:05Z","note":null}`, `{"id":"x"}`, `["r"]`, `{"id":"x","items":[],"at":"2026-01-02T03:04:05Z","note":null,"extra":1}`, `not json`} {
		_, err := shop.DecodeReserveResult([]byte(bad))
		var schemaErr *abxbus.EventHandlerResultSchemaError
		if !errors.As(err, &schemaErr) || !errors.Is(err, abxbus.ErrResultSchema) {
			return fmt.Errorf("DecodeReserveResult(%s) error %v (%T), want *abxbus.EventHandlerResultSchemaError", bad, err, err)
		}
	}
	ok("DecodeReserveResult accepts valid JSON and null, rejects mismatches with EventHandlerResultSchemaError")

	// A handler that answers with JSON data (an untyped handler, as a bridge would) that does not fit
	// the declared result type: the call fails with the result-schema error.
	if _, err := bus.OnType(shop.QuoteEventType, func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return map[string]any{"book": "cheap"}, nil
	}); err != nil {
		return err
	}
	q, err := shop.CallQuote(ctx, bus, shop.Quote{Items: []string{"book"}})
	if !errors.Is(err, abxbus.ErrResultSchema) {
		return fmt.Errorf("CallQuote with a mismatching JSON answer = %v, %v; want ErrResultSchema", q, err)
	}
	ok("CallQuote with a mismatching JSON answer: %v", err)

	// The package registry decodes events of the declared types from JSON into typed payloads.
	reg := abxbus.NewRegistry()
	if err := shop.RegisterEvents(reg); err != nil {
		return fmt.Errorf("RegisterEvents: %v", err)
	}
	if got := shop.EventTypes(); !slices.Equal(got, []string{"shop.order.create", "Reserve", "Quote", "Audit"}) {
		return fmt.Errorf("EventTypes() = %v", got)
	}
	// As the TypeScript package writes a fresh event of this type.
	data := []byte(`{"customer":"bob","items":["pen"],"event_result_type":` + shop.CreateOrderResultSchema + `,` +
		`"event_id":"01a20279-ee2e-77cb-ae51-eb99b00d1ebf","event_created_at":"2026-11-22T08:57:54.990655083Z",` +
		`"event_type":"shop.order.create","event_version":"2.1.0","event_timeout":20,"event_blocks_parent_completion":false,` +
		`"event_parent_id":null,"event_path":[],"event_emitted_by_handler_id":null,"event_pending_bus_count":0,` +
		`"event_status":"pending","event_started_at":null,"event_completed_at":null}`)
	back, err := reg.Decode(data)
	if err != nil {
		return fmt.Errorf("Registry.Decode: %v", err)
	}
	typed, okAs := abxbus.As[shop.CreateOrder](back)
	if !okAs {
		return fmt.Errorf("decoded event %s is not a CreateOrder", back)
	}
	if p, err := typed.Payload(); err != nil || p.Customer != "bob" {
		return fmt.Errorf("decoded payload %+v, %v", p, err)
	}
	ok("RegisterEvents + Registry.Decode give a typed CreateOrder back")

	if err := bus.WaitUntilIdle(ctx); err != nil {
		return err
	}
	auditsMu.Lock()
	defer auditsMu.Unlock()
	if !slices.Contains(audits, "reserved r-o-ada") {
		return fmt.Errorf("audit lines %v", audits)
	}
	return nil
}
