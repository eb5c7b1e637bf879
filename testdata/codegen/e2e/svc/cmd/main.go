// Command cmd drives the generated Billing client and server adapter: in one process ("inproc"), and
// as the two ends of a JSONL bridge in two processes ("server FILE" runs the implementation until its
// standard input closes, "client FILE" calls it; "tsclient FILE" calls the Refund method a
// TypeScript peer serves). It prints what it checked and PASS, or FAIL and
// exits 1.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"

	"abxbusgene2e/billing"
)

func fail(format string, args ...any) {
	fmt.Printf("FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func ok(format string, args ...any) { fmt.Printf("ok: "+format+"\n", args...) }

func main() {
	if len(os.Args) < 2 {
		fail("usage: cmd inproc | server FILE | client FILE")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	switch os.Args[1] {
	case "inproc":
		inproc(ctx)
	case "server":
		server(os.Args[2])
		return
	case "client":
		client(ctx, os.Args[2])
	case "tsclient":
		tsClient(ctx, os.Args[2])
	default:
		fail("unknown mode %q", os.Args[1])
	}
	fmt.Println("PASS")
}

// calls runs the checks every mode shares, on b (a client of a fresh server).
func calls(ctx context.Context, b billing.Billing, remote bool) {
	r, err := b.Charge(ctx, billing.ChargeRequest{Customer: "ada", Cents: 1250})
	if err != nil || r.Cents != 1250 || !strings.HasPrefix(r.ID, "r-ada-") {
		fail("Charge = %+v, %v", r, err)
	}
	ok("Charge returned %s", r.ID)
	_, err = b.Charge(ctx, billing.ChargeRequest{Customer: "bob", Cents: 1 << 20})
	var se *abxbus.ServiceError
	if !errors.Is(err, billing.ErrDeclined) || !errors.As(err, &se) || remote != (err != error(billing.ErrDeclined)) {
		fail("declined Charge: %#v", err)
	}
	ok("a declined charge is ErrDeclined (remote %v): %v", remote, err)
	if err := b.Refund(ctx, r.ID, 250); err != nil {
		fail("Refund: %v", err)
	}
	if err := b.Refund(ctx, "r-nobody", 1); err == nil || !strings.Contains(err.Error(), "no receipt r-nobody") {
		fail("Refund of an unknown receipt: %v", err)
	}
	ok("Refund (a void method) works and reports errors: %v", b.Refund(ctx, "r-nobody", 1))
	got, err := b.Lookup(ctx, r.ID)
	if err != nil || got == nil || got.Cents != 1000 {
		fail("Lookup = %+v, %v", got, err)
	}
	if none, err := b.Lookup(ctx, "r-nobody"); err != nil || none != nil {
		fail("Lookup of nothing = %+v, %v", none, err)
	}
	ok("Lookup sees the refund (%d cents left) and returns nil for nothing", got.Cents)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	werr := b.Wait(short, time.Minute)
	if !errors.Is(werr, context.DeadlineExceeded) {
		fail("Wait beyond the call's deadline: %v", werr)
	}
	ok("ctx bounds the call: %v", werr)
}

func inproc(ctx context.Context) {
	bus, err := abxbus.New("Billing", nil)
	if err != nil {
		fail("%v", err)
	}
	defer bus.Destroy(true)
	c, err := billing.NewBillingClient(bus)
	if err != nil {
		fail("%v", err)
	}
	if _, err := c.Charge(ctx, billing.ChargeRequest{Customer: "ada", Cents: 1}); !errors.Is(err, abxbus.ErrNoHandler) {
		fail("Charge without a server: %v", err)
	}
	reg, err := billing.RegisterBilling(bus, billing.NewMemory())
	if err != nil {
		fail("%v", err)
	}
	var _ billing.Billing = c
	calls(ctx, c, false)
	// The request is an ordinary abxbus event: the request struct's fields are its payload.
	e, err := billing.AwaitBillingCharge(ctx, bus, billing.BillingCharge{ChargeRequest: billing.ChargeRequest{Customer: "eve", Cents: 5}})
	if err != nil {
		fail("%v", err)
	}
	data, _ := e.Base().ToJSON()
	var wire map[string]any
	json.Unmarshal(data, &wire)
	if wire["event_type"] != "billing.charge" || wire["event_version"] != "1.0.0" || wire["customer"] != "eve" || wire["cents"] != 5.0 || wire["abxbus_call_id"] != nil {
		fail("request event JSON: %s", data)
	}
	ok("the request event on the wire: event_type %v, customer %v, cents %v", wire["event_type"], wire["customer"], wire["cents"])
	if n := reg.Off(); n != 4 {
		fail("Off = %d", n)
	}
	if _, err := c.Lookup(ctx, "x"); !errors.Is(err, abxbus.ErrNoResult) {
		fail("Lookup after Off: %v", err)
	}
	ok("after Off the client reports that nobody answers")
}

// wire connects app to the JSONL file at path the usual way: everything app processes goes to the
// file, everything read from the file is emitted on app.
func wire(app *abxbus.Bus, path string) *jsonl.Bridge {
	br, err := jsonl.New(path, &jsonl.Options{PollInterval: 20 * time.Millisecond})
	if err != nil {
		fail("%v", err)
	}
	app.OnType("*", br.Forward)
	if err := br.Start(); err != nil {
		fail("%v", err)
	}
	return br
}

func server(path string) {
	app, err := abxbus.New("BillingServer", nil)
	if err != nil {
		fail("%v", err)
	}
	defer app.Destroy(true)
	if _, err := billing.RegisterBilling(app, billing.NewMemory()); err != nil {
		fail("%v", err)
	}
	br := wire(app, path)
	defer br.Close()
	if _, err := br.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return app.Emit(ctx, e) }); err != nil {
		fail("%v", err)
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n') // until the test closes stdin
	fmt.Println("server done")
}

func client(ctx context.Context, path string) {
	app, err := abxbus.New("BillingClient", nil)
	if err != nil {
		fail("%v", err)
	}
	defer app.Destroy(true)
	br := wire(app, path)
	defer br.Close()
	c, err := billing.NewBillingClient(app, abxbus.ServiceReplies(br.Bus()), abxbus.ServiceTimeout(30*time.Second))
	if err != nil {
		fail("%v", err)
	}
	defer c.ServiceClient().Close()
	calls(ctx, c, true)
}

// tsClient calls Refund, which a TypeScript peer on the file answers (too large refunds fail with
// the code too_large).
func tsClient(ctx context.Context, path string) {
	app, err := abxbus.New("BillingClient", nil)
	if err != nil {
		fail("%v", err)
	}
	defer app.Destroy(true)
	br := wire(app, path)
	defer br.Close()
	c, err := billing.NewBillingClient(app, abxbus.ServiceReplies(br.Bus()), abxbus.ServiceTimeout(30*time.Second))
	if err != nil {
		fail("%v", err)
	}
	defer c.ServiceClient().Close()
	if err := c.Refund(ctx, "r-1", 50); err != nil {
		fail("Refund served by TypeScript: %v", err)
	}
	ok("Refund served by TypeScript")
	err = c.Refund(ctx, "r-1", 500)
	var se *abxbus.ServiceError
	if !errors.As(err, &se) || se.Code != "too_large" || !errors.Is(err, &abxbus.ServiceError{Code: "too_large"}) || err.Error() != "Billing.Refund: refund of 500 is too large" {
		fail("failing Refund served by TypeScript: %#v", err)
	}
	ok("a TypeScript error arrives as a ServiceError: %v", err)
}
