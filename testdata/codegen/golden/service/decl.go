// Package service declares services: Go interfaces marked //abxbus:service, whose methods become
// request events with a generated client and server adapter.
package service

import (
	"context"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// ChargeRequest is the request of Billing.Charge: its fields are the event's payload.
type ChargeRequest struct {
	Customer string `json:"customer"`
	Cents    int64  `json:"cents"`
	Currency string `json:"currency,omitempty"`
}

// Receipt is what a charge returns.
type Receipt struct {
	ID      string    `json:"id"`
	Cents   int64     `json:"cents"`
	Charged time.Time `json:"charged_at"`
}

// Billing charges and refunds customers.
//
//abxbus:service version=1.0.0,timeout=30s
type Billing interface {
	// Charge charges a customer.
	//abxbus:method type=billing.charge,handler_timeout=5s
	Charge(ctx context.Context, req ChargeRequest) (Receipt, error)
	// Refund refunds a receipt: one field per parameter.
	Refund(ctx context.Context, id string, cents int64) error
	// Lookup may find nothing: a nil receipt is a valid answer.
	Lookup(ctx context.Context, id string) (*Receipt, error)
	Audited
}

// Audited is embedded in Billing: its methods are Billing's.
type Audited interface {
	// History lists what happened since a time; time.Time has its own JSON encoding, so it is a field.
	History(ctx context.Context, since time.Time) ([]string, error)
	Ping(context.Context) error
}

// Event declarations and services live side by side.
type Settled struct {
	abxbus.Returns[abxbus.Void]
	Receipt string `json:"receipt"`
}

//abxbus:service
type counter interface {
	Add(ctx context.Context, n int, string string) (int, error)
}
