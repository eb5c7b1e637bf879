package cli

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
)

// tail only receives: "abxbus tail http://…" listens on the address without --listen. It used to
// open a send-only bridge, print "listening on" and wait for good.
func TestTailListensWithoutListenFlag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String() + "/events"
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wait := tailAsync(t, ctx, addr, "--count", "1")
	em, err := httpbridge.New(addr, &httpbridge.Options{MaxAttempts: 40, RetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	type Hello struct {
		abxbus.Returns[abxbus.Void]
		Who string `json:"who"`
	}
	if err := em.Emit(ctx, abxbus.NewEvent(Hello{Who: "tail"}).Base()); err != nil {
		t.Fatalf("emit to tail's address: %v", err)
	}
	out, errs, code := wait()
	if code != 0 || !strings.Contains(out, " Hello ") || !strings.Contains(out, `"who":"tail"`) {
		t.Fatalf("tail: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}
