// Package shop declares an event type named Created, for tests of two Go types sharing an event type
// name (its twin is package crm).
package shop

import "github.com/typedbus/abxbus-go/abxbus"

// Created is an order creation.
type Created struct {
	abxbus.Returns[string]
	OrderID string `json:"order_id"`
}
