package main

import (
	"io"
	"os"
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// The demo runs end to end and shows the queue-jump order: children of a checkout run inside it, the
// detached audit event after it (F101, F109).
func TestCheckoutDemo(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	runErr := run()
	os.Stdout = stdout
	w.Close()
	got := <-out
	if runErr != nil {
		t.Fatalf("run: %v\n%s", runErr, got)
	}
	for _, want := range []string{
		"receipt: {OrderID:ord-123 Reservation:rsv-ord-123 Charge:chg-ord-123 Email:receipt-ord-123@example.com}",
		"declined order: charge: card declined by fraud check",
	} {
		if !strings.Contains(got, want) {
			t.Fatalf("output lacks %q:\n%s", want, got)
		}
	}
	order := []string{"checkout: start ord-123", "reserve book,pen", "charge 4242", "fraud-check 4242",
		"send-receipt ord-123", "checkout: end ord-123", "audit: checkout ord-123", "checkout: start ord-124"}
	pos := -1
	for _, step := range order {
		i := strings.Index(got, step)
		if i <= pos {
			t.Fatalf("step %q out of order:\n%s", step, got)
		}
		pos = i
	}
}
