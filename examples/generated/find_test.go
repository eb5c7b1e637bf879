package main

import (
	"context"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Issue 12 item 4: the generated FindX/FilterX take predicates on the typed payload, ANDed with the
// options and with each other.
func TestGeneratedFindTakesPayloadPredicates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bus, err := abxbus.New("GenFind", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Destroy(true)
	if _, err := OnSignUp(bus, func(ctx context.Context, p SignUp) (AccountID, error) {
		return AccountID("acct-" + p.Email), nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []SignUp{{Email: "a@x", Plan: "pro"}, {Email: "b@x", Plan: "free"}, {Email: "c@x", Plan: "pro"}} {
		if _, err := EmitSignUp(ctx, bus, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := bus.WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}

	pro := func(p SignUp) bool { return p.Plan == "pro" }
	notC := func(p SignUp) bool { return p.Email != "c@x" }
	e, err := FindSignUp(ctx, bus, abxbus.FindOptions{}, pro, notC)
	if err != nil || e == nil {
		t.Fatalf("FindSignUp(pro, notC) = %v, %v", e, err)
	}
	if p, _ := e.Payload(); p.Email != "a@x" {
		t.Fatalf("FindSignUp(pro, notC) found %+v; want a@x", p)
	}
	list, err := FilterSignUp(ctx, bus, abxbus.FindOptions{}, pro)
	if err != nil || len(list) != 2 {
		t.Fatalf("FilterSignUp(pro) = %v, %v; want 2 events", list, err)
	}
	if all, err := FilterSignUp(ctx, bus, abxbus.FindOptions{}); err != nil || len(all) != 3 {
		t.Fatalf("FilterSignUp() = %v, %v; want 3 events", all, err)
	}
}
