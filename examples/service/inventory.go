package main

import (
	"context"
	"fmt"
	"sync"
)

// This file is the application as it was before it used a bus: an interface, an implementation and
// the code that calls it. The migration added two lines: the //abxbus:service directive on the
// interface and the go:generate directive below; nothing else here changed.

//go:generate go run github.com/typedbus/abxbus-go/cmd/abxbus-gen

// Reservation holds stock for an order.
type Reservation struct {
	ID  string `json:"id"`
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Inventory reserves and releases stock.
//
//abxbus:service version=1.0.0,timeout=10s
type Inventory interface {
	// Reserve holds qty units of sku; it fails when fewer are in stock.
	//abxbus:method type=inventory.reserve
	Reserve(ctx context.Context, sku string, qty int) (Reservation, error)
	// Release gives a reservation's units back.
	Release(ctx context.Context, id string) error
}

// warehouse is the implementation the application always had.
type warehouse struct {
	mu       sync.Mutex
	stock    map[string]int
	reserved map[string]Reservation
	n        int
}

func newWarehouse() *warehouse {
	return &warehouse{stock: map[string]int{"apple": 5, "pear": 1}, reserved: map[string]Reservation{}}
}

func (w *warehouse) Reserve(ctx context.Context, sku string, qty int) (Reservation, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stock[sku] < qty {
		return Reservation{}, fmt.Errorf("only %d %s in stock", w.stock[sku], sku)
	}
	w.stock[sku] -= qty
	w.n++
	r := Reservation{ID: fmt.Sprintf("res-%d", w.n), SKU: sku, Qty: qty}
	w.reserved[r.ID] = r
	return r, nil
}

func (w *warehouse) Release(ctx context.Context, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.reserved[id]
	if !ok {
		return fmt.Errorf("no reservation %s", id)
	}
	delete(w.reserved, id)
	w.stock[r.SKU] += r.Qty
	return nil
}

// checkout is a call site: it takes an Inventory and does not know (or care) what is behind it.
func checkout(ctx context.Context, inv Inventory, order map[string]int, skus []string) ([]string, error) {
	var held []Reservation
	for _, sku := range skus {
		r, err := inv.Reserve(ctx, sku, order[sku])
		if err != nil {
			for _, h := range held {
				inv.Release(ctx, h.ID)
			}
			return nil, fmt.Errorf("checkout: %w", err)
		}
		held = append(held, r)
	}
	ids := make([]string, len(held))
	for i, h := range held {
		ids[i] = h.ID
	}
	return ids, nil
}
