package main

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/abxbustest"
)

// The sign-up workflow through the generated helpers: a SignUp calls CheckEmail as a child and emits
// a detached Welcome child, which runs after the sign-up; a bad address fails the call and welcomes
// no one.
func TestSignUpWorkflow(t *testing.T) {
	ctx := context.Background()
	bus := abxbustest.NewBus(t, "Accounts", nil)
	rec := abxbustest.Record(t, bus)
	var mu sync.Mutex
	var welcomed []AccountID
	if err := registerAccounts(bus, func(id AccountID) {
		mu.Lock()
		welcomed = append(welcomed, id)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}

	id, err := CallSignUp(ctx, bus, SignUp{Email: "ada@example.com", Plan: "pro"})
	if err != nil || id != "acct-ada" {
		t.Fatalf("CallSignUp = %q, %v; want acct-ada", id, err)
	}
	if _, err := CallSignUp(ctx, bus, SignUp{Email: "not-an-email", Plan: "free"}); err == nil ||
		!strings.Contains(err.Error(), "email not-an-email rejected: no @") {
		t.Fatalf("CallSignUp(bad email) = %v, want the rejection", err)
	}

	email := func(addr string) abxbustest.Matcher {
		return abxbustest.Type[CheckEmail](func(c CheckEmail) bool { return c.Email == addr })
	}
	events := abxbustest.ExpectExactly(t, rec, // waits for the bus to be idle: the welcome has run
		abxbustest.Type[SignUp](func(s SignUp) bool { return s.Email == "ada@example.com" }),
		email("ada@example.com"),
		abxbustest.Type[Welcome](func(w Welcome) bool { return w.Account == "acct-ada" }),
		abxbustest.Type[SignUp](func(s SignUp) bool { return s.Email == "not-an-email" }),
		email("not-an-email"),
	)
	ada, check, welcome := events[0], events[1], events[2]
	if !check.IsChildOf(ada) || !check.BlocksParentCompletion() {
		t.Errorf("%s is not an awaited child of %s", check, ada)
	}
	if !welcome.IsChildOf(ada) || welcome.BlocksParentCompletion() {
		t.Errorf("%s is not a detached child of %s", welcome, ada)
	}
	// The declared defaults are on every SignUp event (the struct tag in events.go).
	if got := ada.Options().Timeout.String(); got != "5s" {
		t.Errorf("SignUp timeout = %s, want the declared 5s", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(welcomed) != 1 || welcomed[0] != "acct-ada" {
		t.Errorf("welcomed %v, want [acct-ada]", welcomed)
	}
}

// Expect is order-aware without being exact: each sign-up's email check comes after it, whatever
// else happens between.
func TestSignUpsInOrder(t *testing.T) {
	ctx := context.Background()
	bus := abxbustest.NewBus(t, "Accounts", &abxbus.Options{EventConcurrency: abxbus.Parallel})
	rec := abxbustest.Record(t, bus)
	if err := registerAccounts(bus, func(AccountID) {}); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"a", "b", "c"} {
		if _, err := EmitSignUp(ctx, bus, SignUp{Email: who + "@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, who := range []string{"a", "b", "c"} {
		abxbustest.Expect(t, rec,
			abxbustest.Type[SignUp](func(s SignUp) bool { return s.Email == who+"@example.com" }),
			abxbustest.Type[CheckEmail](func(c CheckEmail) bool { return c.Email == who+"@example.com" }),
			abxbustest.Type[Welcome](func(w Welcome) bool { return w.Account == AccountID("acct-"+who) }),
		)
	}
	abxbustest.WaitIdle(t, bus, 0)
}
