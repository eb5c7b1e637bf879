package abxbus_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/internal/testevents/crm"
	"github.com/typedbus/abxbus-go/internal/testevents/shop"
)

// FakePing claims the event type name of Ping through an EventSpec override.
type FakePing struct {
	abxbus.Returns[int]
	Other string `json:"other"`
}

func (FakePing) EventSpec() abxbus.EventSpec { return abxbus.EventSpec{Type: "Ping"} }

const (
	shopCreated = "github.com/typedbus/abxbus-go/internal/testevents/shop.Created"
	crmCreated  = "github.com/typedbus/abxbus-go/internal/testevents/crm.Created"
)

// Issue 10 item 17: one event type name, one Go type per bus. Two packages' Created types cannot both
// register typed handlers on one bus (the second would run on the first's events with a zeroed
// payload); the error names both Go types with their package paths. A typed emit of the other Go type
// is refused the same way and runs no handler.
func TestOneGoTypePerEventTypeTwoPackages(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "Bind", nil)
	var shopRuns, crmRuns atomic.Int32
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p shop.Created) (string, error) {
		shopRuns.Add(1)
		if p.OrderID == "" {
			t.Errorf("shop handler got a zeroed payload")
		}
		return p.OrderID, nil
	}))
	// The same Go type again is fine, and so is an untyped handler for the name.
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p shop.Created) (string, error) { return "", nil }))
	must[*abxbus.Handler](t)(bus.OnType("Created", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil }))

	h, err := abxbus.On(bus, func(ctx context.Context, p crm.Created) (string, error) {
		crmRuns.Add(1)
		return p.CustomerID, nil
	})
	if err == nil || h != nil {
		t.Fatalf("second Go type for event type Created registered: %v %v", h, err)
	}
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), shopCreated) || !strings.Contains(err.Error(), crmCreated) {
		t.Fatalf("error %q: want ErrInvalidOption naming %s and %s", err, shopCreated, crmCreated)
	}
	if _, err := abxbus.OnEvent(bus, func(ctx context.Context, e *abxbus.Event[crm.Created, string]) (string, error) {
		crmRuns.Add(1)
		return "", nil
	}); err == nil || !strings.Contains(err.Error(), crmCreated) {
		t.Fatalf("OnEvent of the second Go type: %v", err)
	}

	// A typed emit of the other Go type is refused and runs nothing.
	e, err := abxbus.Emit(ctx, bus, crm.Created{CustomerID: "c1"})
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), shopCreated) || !strings.Contains(err.Error(), crmCreated) {
		t.Fatalf("Emit of crm.Created: %v", err)
	}
	if werr := e.Now(ctx); !errors.Is(werr, abxbus.ErrInvalidOption) {
		t.Fatalf("Now of the refused event: %v", werr)
	}
	if _, err := abxbus.Call(ctx, bus, crm.Created{CustomerID: "c2"}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("Call of crm.Created: %v", err)
	}
	if _, err := abxbus.EmitWith(ctx, bus, crm.Created{CustomerID: "c3"}, abxbus.EventOptions{}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("EmitWith of crm.Created: %v", err)
	}
	if _, err := bus.Emit(ctx, abxbus.NewEvent(crm.Created{CustomerID: "c4"}).Base()); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("Bus.Emit of a typed crm.Created record: %v", err)
	}

	// The bound type still works; an untyped event of that name is decoded into it.
	if v, err := abxbus.Call(ctx, bus, shop.Created{OrderID: "o1"}); err != nil || v != "o1" {
		t.Fatalf("Call(shop.Created) = %q %v", v, err)
	}
	raw := must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("Created", map[string]any{"order_id": "o2"}))
	if v, err := must[*abxbus.BaseEvent](t)(bus.Emit(ctx, raw)).Result(ctx); err != nil || v != "o2" {
		t.Fatalf("untyped Created = %v %v", v, err)
	}
	idle(t, bus)
	if shopRuns.Load() != 2 || crmRuns.Load() != 0 {
		t.Fatalf("shop handler ran %d times (want 2), crm handler %d (want 0)", shopRuns.Load(), crmRuns.Load())
	}

	// The binding is per bus: another bus may bind the name to the other type.
	other := newBus(t, "BindOther", nil)
	must[*abxbus.Handler](t)(abxbus.On(other, func(ctx context.Context, p crm.Created) (string, error) { return p.CustomerID, nil }))
	if v, err := abxbus.Call(ctx, other, crm.Created{CustomerID: "c5"}); err != nil || v != "c5" {
		t.Fatalf("Call(crm.Created) on its own bus = %q %v", v, err)
	}
}

// Issue 10 item 17: an EventSpec Type override colliding with another Go type's name is the same
// conflict; a typed emit binds the name as a registration does.
func TestOneGoTypePerEventTypeSpecOverride(t *testing.T) {
	ctx := tctx(t)
	bus := newBus(t, "BindSpec", nil)
	must[*abxbus.Handler](t)(abxbus.On(bus, func(ctx context.Context, p Ping) (int, error) { return p.N, nil }))
	_, err := abxbus.On(bus, func(ctx context.Context, p FakePing) (int, error) { return 7, nil })
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "abxbus_test.Ping") || !strings.Contains(err.Error(), "abxbus_test.FakePing") {
		t.Fatalf("FakePing registration: %v", err)
	}
	if _, err := abxbus.Emit(ctx, bus, FakePing{Other: "x"}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("FakePing emit: %v", err)
	}

	// A bus without handlers is bound by the first typed emit.
	quiet := newBus(t, "BindEmit", nil)
	must[*abxbus.Event[FakePing, int]](t)(abxbus.Emit(ctx, quiet, FakePing{Other: "first"}))
	if _, err := abxbus.On(quiet, func(ctx context.Context, p Ping) (int, error) { return p.N, nil }); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("Ping handler on a bus that carried FakePing: %v", err)
	}
	if _, err := abxbus.Emit(ctx, quiet, Ping{N: 1}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("Ping emit on a bus that carried FakePing: %v", err)
	}
	idle(t, quiet)
}
