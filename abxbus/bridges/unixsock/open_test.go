package unixsock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
)

func TestOpenByAddress(t *testing.T) {
	ctx := context.Background()
	path := sockPath(t)
	li, err := bridges.Open(ctx, "unix://"+path, &bridges.OpenOptions{Name: "Inbox"})
	if err != nil {
		t.Fatal(err)
	}
	defer li.Close()
	c := newCollector()
	if _, err := li.On("*", c.Handle); err != nil {
		t.Fatal(err)
	}
	em, err := bridges.Open(ctx, "unix://"+path+"?persistent=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	if ub := em.(*unixsock.Bridge); ub.SendPath() != path {
		t.Fatalf("send path %q", ub.SendPath())
	}
	if err := em.Emit(ctx, ping(1)); err != nil {
		t.Fatal(err)
	}
	c.Wait(t, 1, 5*time.Second)
	if li.Bus().Name() != "Inbox" {
		t.Fatalf("bus name %q", li.Bus().Name())
	}
	if _, err := bridges.Open(ctx, "unix://"+path+"?persistent=maybe", nil); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("bad query: %v", err)
	}
}
