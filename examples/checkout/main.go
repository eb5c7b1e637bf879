// Command checkout is the library's demo: a checkout workflow on one strict-FIFO bus. The checkout
// handler calls three child events like functions (each queue-jumps ahead of unrelated queued work),
// one of which calls a grandchild; a detached audit event emitted first runs only after the checkout
// finishes. It prints the typed results and the order in which handlers ran.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Each event is one Go type: the payload fields plus the result type it declares.

type Checkout struct {
	abxbus.Returns[Receipt]
	OrderID string   `json:"order_id"`
	Items   []string `json:"items"`
	Card    string   `json:"card"`
}

type Receipt struct {
	OrderID     string `json:"order_id"`
	Reservation string `json:"reservation"`
	Charge      string `json:"charge"`
	Email       string `json:"email"`
}

type ReserveInventory struct {
	abxbus.Returns[string]
	OrderID string   `json:"order_id"`
	Items   []string `json:"items"`
}

type ChargeCard struct {
	abxbus.Returns[string]
	OrderID string `json:"order_id"`
	Card    string `json:"card"`
}

type FraudCheck struct {
	abxbus.Returns[bool]
	Card string `json:"card"`
}

type SendReceipt struct {
	abxbus.Returns[string]
	OrderID string `json:"order_id"`
}

type AuditLog struct {
	abxbus.Returns[string]
	Message string `json:"message"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "checkout:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	// Timeouts are plain durations: each checkout gets 5 s, each handler without its own limit as much.
	bus, err := abxbus.New("ShopBus", &abxbus.Options{EventTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer bus.Destroy(true)

	var mu sync.Mutex
	var trace []string
	step := func(s string) {
		mu.Lock()
		trace = append(trace, s)
		mu.Unlock()
	}

	if err := register(bus, step); err != nil {
		return err
	}

	receipt, err := abxbus.Call(ctx, bus, Checkout{OrderID: "ord-123", Items: []string{"book", "pen"}, Card: "4242"})
	if err != nil {
		return err
	}
	fmt.Printf("receipt: %+v\n", receipt)
	// Call processes its event at once, ahead of anything queued: let the queued audit event run first.
	if err := bus.WaitUntilIdle(ctx); err != nil {
		return err
	}

	_, err = abxbus.Call(ctx, bus, Checkout{OrderID: "ord-124", Items: []string{"lamp"}, Card: "0000-1111"})
	fmt.Printf("declined order: %v\n", err)

	if err := bus.WaitUntilIdle(ctx); err != nil {
		return err
	}
	fmt.Println("handler order:")
	for i, s := range trace {
		fmt.Printf("  %2d. %s\n", i+1, s)
	}
	// The causality tree of everything the bus saw: handlers, children, results and errors (F205).
	fmt.Println(bus.LogTree())
	return nil
}

// register adds the workflow's handlers to bus; each handler reports the step it runs through step.
func register(bus *abxbus.Bus, step func(string)) error {
	if _, err := abxbus.On(bus, func(ctx context.Context, c Checkout) (Receipt, error) {
		step("checkout: start " + c.OrderID)
		// Detached: queued behind this event, runs after the checkout completes (F109).
		if _, err := abxbus.Emit(ctx, bus, AuditLog{Message: "checkout " + c.OrderID}); err != nil {
			return Receipt{}, err
		}
		// Linked children awaited like function calls: each runs now, ahead of the audit event.
		res, err := abxbus.CallChild(ctx, ReserveInventory{OrderID: c.OrderID, Items: c.Items})
		if err != nil {
			return Receipt{}, fmt.Errorf("reserve: %w", err)
		}
		charge, err := abxbus.CallChild(ctx, ChargeCard{OrderID: c.OrderID, Card: c.Card})
		if err != nil {
			return Receipt{}, fmt.Errorf("charge: %w", err)
		}
		email, err := abxbus.CallChild(ctx, SendReceipt{OrderID: c.OrderID})
		if err != nil {
			return Receipt{}, fmt.Errorf("receipt: %w", err)
		}
		step("checkout: end " + c.OrderID)
		return Receipt{OrderID: c.OrderID, Reservation: res, Charge: charge, Email: email}, nil
	}, abxbus.WithName("checkout")); err != nil {
		return err
	}
	if _, err := abxbus.On(bus, func(ctx context.Context, r ReserveInventory) (string, error) {
		step("reserve " + strings.Join(r.Items, ","))
		return "rsv-" + r.OrderID, nil
	}, abxbus.WithName("reserve")); err != nil {
		return err
	}
	if _, err := abxbus.On(bus, func(ctx context.Context, c ChargeCard) (string, error) {
		step("charge " + c.Card)
		ok, err := abxbus.CallChild(ctx, FraudCheck{Card: c.Card})
		if err != nil {
			return "", err
		}
		if !ok {
			return "", errors.New("card declined by fraud check")
		}
		return "chg-" + c.OrderID, nil
	}, abxbus.WithName("charge"), abxbus.WithHandlerTimeout(2*time.Second)); err != nil { // the card network gets 2 s
		return err
	}
	if _, err := abxbus.On(bus, func(ctx context.Context, f FraudCheck) (bool, error) {
		step("fraud-check " + f.Card)
		return !strings.HasPrefix(f.Card, "0000"), nil
	}, abxbus.WithName("fraud_check")); err != nil {
		return err
	}
	if _, err := abxbus.On(bus, func(ctx context.Context, s SendReceipt) (string, error) {
		step("send-receipt " + s.OrderID)
		return "receipt-" + s.OrderID + "@example.com", nil
	}, abxbus.WithName("send_receipt")); err != nil {
		return err
	}
	if _, err := abxbus.On(bus, func(ctx context.Context, a AuditLog) (string, error) {
		step("audit: " + a.Message)
		return "logged", nil
	}, abxbus.WithName("audit")); err != nil {
		return err
	}
	return nil
}
