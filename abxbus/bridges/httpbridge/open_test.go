package httpbridge_test

import (
	"context"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
)

func TestOpenByAddress(t *testing.T) {
	ctx := context.Background()
	li, err := bridges.Open(ctx, "http://127.0.0.1:0/abxbus_events", &bridges.OpenOptions{Listen: true, Name: "Inbox"})
	if err != nil {
		t.Fatal(err)
	}
	defer li.Close()
	c := newCollector()
	if _, err := li.On("*", c.Handle); err != nil {
		t.Fatal(err)
	}
	url := li.(*httpbridge.Bridge).ListenURL()
	em, err := bridges.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	if err := em.Emit(ctx, ping(1)); err != nil {
		t.Fatal(err)
	}
	c.Wait(t, 1, 5*time.Second)
	if li.Bus().Name() != "Inbox" {
		t.Fatalf("bus name %q", li.Bus().Name())
	}
	if _, err := bridges.Open(ctx, "https://127.0.0.1:0/x", &bridges.OpenOptions{Listen: true}); err == nil {
		t.Fatal("an https listener without certificates opened")
	}
}
