// Package shop is the end-to-end scenario of the generator test: its events are declared here,
// generated into a temporary module and driven by main.go through the generated helpers.
package shop

import (
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// OrderID identifies an order.
type OrderID string

// CreateOrder places an order; its handler reserves stock as a child call.
type CreateOrder struct {
	abxbus.Returns[OrderID] `abxbus:"type=shop.order.create,version=2.1.0,timeout=20s,handler_timeout=10s,completion=all"`
	Customer                string   `json:"customer"`
	Items                   []string `json:"items"`
}

// Reservation is the result of Reserve.
type Reservation struct {
	ID    string    `json:"id"`
	Items []string  `json:"items"`
	At    time.Time `json:"at"`
	Note  *string   `json:"note"`
}

// Reserve holds stock for an order.
type Reserve struct {
	abxbus.Returns[Reservation] `abxbus:"handler_concurrency=serial"`
	Order                       OrderID  `json:"order"`
	Items                       []string `json:"items"`
}

// Quote asks every pricing handler; the first answer wins.
type Quote struct {
	abxbus.Returns[map[string]float64] `abxbus:"completion=first,handler_concurrency=parallel,timeout=none"`
	Items                              []string `json:"items"`
}

// Audit records a line; it returns nothing useful.
type Audit struct {
	abxbus.Returns[*string]
	Line string `json:"line"`
}
