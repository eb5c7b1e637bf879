// Package billing is the service of the service end-to-end test: an interface marked
// //abxbus:service and an implementation that knows nothing about buses.
package billing

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// ChargeRequest is the payload of Billing.Charge (its fields are the event's).
type ChargeRequest struct {
	Customer string `json:"customer"`
	Cents    int64  `json:"cents"`
}

// Receipt is a completed charge.
type Receipt struct {
	ID    string `json:"id"`
	Cents int64  `json:"cents"`
}

// ErrDeclined is returned for a charge over the limit; its code survives the trip to another process.
var ErrDeclined = &abxbus.ServiceError{Code: "declined", Message: "charge declined"}

// Billing charges, refunds and looks up receipts.
//
//abxbus:service version=1.0.0
type Billing interface {
	//abxbus:method type=billing.charge
	Charge(ctx context.Context, req ChargeRequest) (Receipt, error)
	Refund(ctx context.Context, id string, cents int64) error
	Lookup(ctx context.Context, id string) (*Receipt, error)
	Wait(ctx context.Context, d time.Duration) error
}

// Memory is an in-memory Billing.
type Memory struct {
	mu       sync.Mutex
	n        int
	receipts map[string]*Receipt
}

func NewMemory() *Memory { return &Memory{receipts: map[string]*Receipt{}} }

func (m *Memory) Charge(ctx context.Context, req ChargeRequest) (Receipt, error) {
	if req.Cents > 10000 {
		return Receipt{}, ErrDeclined
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	r := &Receipt{ID: fmt.Sprintf("r-%s-%d", req.Customer, m.n), Cents: req.Cents}
	m.receipts[r.ID] = r
	return *r, nil
}

func (m *Memory) Refund(ctx context.Context, id string, cents int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.receipts[id]
	switch {
	case r == nil:
		return fmt.Errorf("no receipt %s", id)
	case cents > r.Cents:
		return errors.New("refund exceeds the charge")
	}
	r.Cents -= cents
	return nil
}

func (m *Memory) Lookup(ctx context.Context, id string) (*Receipt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.receipts[id]; r != nil {
		c := *r
		return &c, nil
	}
	return nil, nil
}

func (m *Memory) Wait(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
