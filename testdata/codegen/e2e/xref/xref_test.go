package xref_test

import (
	"context"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"

	"abxbusgene2e/xref"
)

// Lookup returns a type of the package under test.
type Lookup struct {
	abxbus.Returns[xref.Item]
	SKU string `json:"sku"`
}

// Peek returns a type that only export_test.go makes visible here.
type Peek struct {
	abxbus.Returns[xref.Hidden]
}

func TestGeneratedInExternalTests(t *testing.T) {
	bus, err := abxbus.New("XrefBus", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Destroy(true)
	if _, err := OnLookup(bus, func(ctx context.Context, l Lookup) (xref.Item, error) { return xref.Item{SKU: l.SKU}, nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := OnPeek(bus, func(ctx context.Context, p Peek) (xref.Hidden, error) { return xref.Hidden{Secret: "s"}, nil }); err != nil {
		t.Fatal(err)
	}
	if it, err := CallLookup(context.Background(), bus, Lookup{SKU: "k"}); err != nil || it.SKU != "k" {
		t.Fatalf("CallLookup = %+v, %v", it, err)
	}
	if h, err := CallPeek(context.Background(), bus, Peek{}); err != nil || h.Secret != "s" {
		t.Fatalf("CallPeek = %+v, %v", h, err)
	}
}
