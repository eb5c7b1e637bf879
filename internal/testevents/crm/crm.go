// Package crm declares an event type named Created, for tests of two Go types sharing an event type
// name (its twin is package shop).
package crm

import "github.com/typedbus/abxbus-go/abxbus"

// Created is a customer creation.
type Created struct {
	abxbus.Returns[string]
	CustomerID string `json:"customer_id"`
}
