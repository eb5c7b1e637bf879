package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/abxbustest"
)

// steps collects the steps the handlers report.
type steps struct {
	mu   sync.Mutex
	list []string
}

func (s *steps) add(step string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.list = append(s.list, step)
}

func (s *steps) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.list)
}

func newShop(t *testing.T) (*abxbus.Bus, *abxbustest.Recorder, *steps) {
	t.Helper()
	bus := abxbustest.NewBus(t, "ShopBus", nil)
	rec := abxbustest.Record(t, bus)
	var s steps
	if err := register(bus, s.add); err != nil {
		t.Fatal(err)
	}
	return bus, rec, &s
}

// A checkout calls its three children like functions, the charge calls the fraud check, and the audit
// event it emitted first (detached) is accepted second but runs after the checkout.
func TestCheckoutWorkflow(t *testing.T) {
	bus, rec, s := newShop(t)
	receipt, err := abxbus.Call(context.Background(), bus, Checkout{OrderID: "ord-1", Items: []string{"book"}, Card: "4242"})
	if err != nil {
		t.Fatal(err)
	}
	want := Receipt{OrderID: "ord-1", Reservation: "rsv-ord-1", Charge: "chg-ord-1", Email: "receipt-ord-1@example.com"}
	if receipt != want {
		t.Errorf("receipt = %+v, want %+v", receipt, want)
	}

	events := abxbustest.ExpectExactly(t, rec, // waits for the bus to go idle: the audit has run
		abxbustest.Type[Checkout](func(c Checkout) bool { return c.OrderID == "ord-1" }),
		abxbustest.Type[AuditLog](func(a AuditLog) bool { return a.Message == "checkout ord-1" }),
		abxbustest.Type[ReserveInventory](func(r ReserveInventory) bool { return r.OrderID == "ord-1" }),
		abxbustest.Type[ChargeCard](func(c ChargeCard) bool { return c.Card == "4242" }),
		abxbustest.Type[FraudCheck](nil),
		abxbustest.Type[SendReceipt](func(r SendReceipt) bool { return r.OrderID == "ord-1" }),
	)
	checkout, audit, charge, fraud := events[0], events[1], events[3], events[4]
	for _, child := range []*abxbus.BaseEvent{events[2], charge, events[5]} {
		if child.ParentID() != checkout.ID() || !child.BlocksParentCompletion() {
			t.Errorf("%s is not an awaited child of %s", child, checkout)
		}
	}
	if !fraud.IsChildOf(charge) {
		t.Errorf("%s is not a child of %s", fraud, charge)
	}
	if audit.BlocksParentCompletion() {
		t.Errorf("the detached %s blocks its parent's completion", audit)
	}

	got := strings.Join(s.get(), " | ")
	if want := "checkout: start ord-1 | reserve book | charge 4242 | fraud-check 4242 | send-receipt ord-1 | checkout: end ord-1 | audit: checkout ord-1"; got != want {
		t.Errorf("steps:\n got %s\nwant %s", got, want)
	}
}

// A declined card fails the checkout with the charge's error; no receipt is sent, and the audit still
// runs once the checkout is over.
func TestCheckoutDeclined(t *testing.T) {
	bus, rec, _ := newShop(t)
	_, err := abxbus.Call(context.Background(), bus, Checkout{OrderID: "ord-2", Items: []string{"lamp"}, Card: "0000-1111"})
	if err == nil || !strings.Contains(err.Error(), "charge: card declined by fraud check") {
		t.Fatalf("Call = %v, want the declined charge", err)
	}
	events := abxbustest.ExpectExactly(t, rec,
		abxbustest.Type[Checkout](nil),
		abxbustest.Type[AuditLog](nil),
		abxbustest.Type[ReserveInventory](nil),
		abxbustest.Type[ChargeCard](nil),
		abxbustest.Type[FraudCheck](func(f FraudCheck) bool { return f.Card == "0000-1111" }),
	)
	fraud, ok := abxbus.As[FraudCheck](events[4])
	if !ok {
		t.Fatalf("%s is not a FraudCheck", events[4])
	}
	if passed, err := fraud.Result(context.Background()); err != nil || passed {
		t.Errorf("fraud check result = %v, %v; want false (declined)", passed, err)
	}
}
