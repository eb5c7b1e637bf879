// Command generated shows events declared as Go types and used through the helpers abxbus-gen
// generates for them (see events.go and the generated abxbus_gen.go): typed handler registration,
// request/response calls with a queue-jumping child call, first-completion quotes, lookups, the
// declared per-event defaults, the result JSON Schema and decoding a result that arrives as JSON.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bus, err := abxbus.New("Accounts", nil)
	if err != nil {
		return err
	}
	defer bus.Destroy(true)

	var mu sync.Mutex
	var welcomed []AccountID

	// Handlers: plain typed functions, registered through the generated helpers.
	if err := registerAccounts(bus, func(id AccountID) {
		mu.Lock()
		welcomed = append(welcomed, id)
		mu.Unlock()
	}); err != nil {
		return err
	}
	fast := make(chan struct{})
	if _, err := OnPriceQuote(bus, func(ctx context.Context, q PriceQuote) (map[string]float64, error) {
		defer close(fast)
		return map[string]float64{q.Plan: 9.5}, nil
	}, abxbus.WithName("fast_pricer")); err != nil {
		return err
	}
	if _, err := OnPriceQuote(bus, func(ctx context.Context, q PriceQuote) (map[string]float64, error) {
		<-fast // answers only after the fast pricer did, so the fast one wins the race
		<-ctx.Done()
		return nil, ctx.Err()
	}, abxbus.WithName("slow_pricer")); err != nil {
		return err
	}

	// Request/response through the generated helper.
	id, err := CallSignUp(ctx, bus, SignUp{Email: "ada@example.com", Plan: "pro"})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "CallSignUp -> %s\n", id)

	// A handler error comes back from the call like a function's error.
	if _, err := CallSignUp(ctx, bus, SignUp{Email: "not-an-email", Plan: "free"}); err != nil {
		fmt.Fprintf(w, "CallSignUp(bad email) -> error: %v\n", err)
	} else {
		return errors.New("a bad email was accepted")
	}

	// The declared defaults are on every SignUp event.
	ev, err := AwaitSignUp(ctx, bus, SignUp{Email: "bob@example.com", Plan: "team"})
	if err != nil {
		return err
	}
	o := ev.Base().Options()
	fmt.Fprintf(w, "AwaitSignUp -> %s: type %s, version %s, timeout %v, handler timeout %v\n",
		ev.Status(), ev.Base().Type(), ev.Base().Version(), o.Timeout, o.HandlerTimeout)

	// First completion: the fast pricer's answer wins; the slow one is cancelled.
	quote, err := CallPriceQuote(ctx, bus, PriceQuote{Plan: "pro"})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "CallPriceQuote -> %v\n", quote)

	// Lookups: the email check that ran as bob's child, and every welcome so far.
	check, err := FindCheckEmail(ctx, bus, abxbus.FindOptions{ChildOf: ev.Base()})
	if err != nil || check == nil {
		return fmt.Errorf("no email check under %s: %v", ev, err)
	}
	p, _ := check.Payload()
	fmt.Fprintf(w, "FindCheckEmail(child of %s) -> %s for %s\n", ev.Base().Type(), check.Base().Type(), p.Email)
	if err := bus.WaitUntilIdle(ctx); err != nil {
		return err
	}
	welcomes, err := FilterWelcome(ctx, bus, abxbus.FindOptions{})
	if err != nil {
		return err
	}
	mu.Lock()
	fmt.Fprintf(w, "FilterWelcome -> %d events, handled for %v\n", len(welcomes), welcomed)
	mu.Unlock()

	// The result type's JSON Schema, as other runtimes see it on the wire (event_result_type).
	fmt.Fprintf(w, "CheckEmailResultSchema = %s\n", CheckEmailResultSchema)

	// A result that arrives as JSON (from a bridge or another runtime) is validated, then typed.
	v, err := DecodeCheckEmailResult([]byte(`{"ok":true,"checked_at":"2026-01-02T03:04:05Z"}`))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "DecodeCheckEmailResult(valid) -> ok=%v at %s\n", v.OK, v.At.Format(time.RFC3339))
	_, err = DecodeCheckEmailResult([]byte(`{"ok":"yes","checked_at":"2026-01-02T03:04:05Z"}`))
	var schemaErr *abxbus.EventHandlerResultSchemaError
	if !errors.As(err, &schemaErr) {
		return fmt.Errorf("a mismatching result was accepted: %v", err)
	}
	fmt.Fprintln(w, "DecodeCheckEmailResult(mismatch) -> EventHandlerResultSchemaError")

	// The package registry knows every declared event type.
	reg := abxbus.NewRegistry()
	if err := RegisterEvents(reg); err != nil {
		return err
	}
	fmt.Fprintf(w, "RegisterEvents -> %v\n", EventTypes())
	return nil
}

// registerAccounts adds the sign-up handlers to bus: SignUp checks the address with a CheckEmail child
// call and emits a Welcome, which runs after it; the Welcome handler reports the account to welcomed.
func registerAccounts(bus *abxbus.Bus, welcomed func(AccountID)) error {
	if _, err := OnSignUp(bus, func(ctx context.Context, s SignUp) (AccountID, error) {
		verdict, err := CallCheckEmailChild(ctx, CheckEmail{Email: s.Email}) // queue-jumps, like a call
		if err != nil {
			return "", err
		}
		if !verdict.OK {
			return "", fmt.Errorf("email %s rejected: %s", s.Email, verdict.Reason)
		}
		id := AccountID("acct-" + strings.Split(s.Email, "@")[0])
		if _, err := EmitWelcomeChild(ctx, Welcome{Account: id}); err != nil { // runs after this event
			return "", err
		}
		return id, nil
	}); err != nil {
		return err
	}
	if _, err := OnCheckEmail(bus, func(ctx context.Context, c CheckEmail) (EmailVerdict, error) {
		if !strings.Contains(c.Email, "@") {
			return EmailVerdict{OK: false, Reason: "no @", At: time.Now().UTC()}, nil
		}
		return EmailVerdict{OK: true, At: time.Now().UTC()}, nil
	}); err != nil {
		return err
	}
	if _, err := OnWelcome(bus, func(ctx context.Context, wl Welcome) (*string, error) {
		welcomed(wl.Account)
		return nil, nil
	}); err != nil {
		return err
	}
	return nil
}
