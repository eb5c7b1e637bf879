package postgres

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	"github.com/typedbus/abxbus-go/internal/testservers"
)

// The shared harness pieces (bridgetesting), by the names these tests use.
var (
	newCounter = bridgetesting.NewCounter
	ping       = bridgetesting.FaultPing
)

// A server restart mid-stream (issue 15 item 8): the emitter's Emit retries through the outage, the
// listener reconnects and catches up from its cursor; nothing is lost (TS: the listener stays dead).
func TestFaultServerRestartMidStream(t *testing.T) {
	pg := testservers.StartPostgres(t)
	table := freshTable()
	em := openForTest(t, pg.DSN, table, Options{})
	li := openForTest(t, pg.DSN, table, Options{Consumer: "restart"})
	c := newCounter()
	if _, err := li.On("FaultPing", c.Handler); err != nil {
		t.Fatal(err)
	}
	const n = 300
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	emitErrs := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			if err := em.Emit(ctx, ping(t, i, "")); err != nil {
				t.Errorf("Emit %d: %v", i, err)
				emitErrs++
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for {
		k := c.Distinct()
		if k >= n/3 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	pg.Restart(t)
	t.Logf("server restarted in %v", time.Since(start).Round(time.Millisecond))
	<-done
	delivered, dup, lost := c.Wait(ctx, n)
	t.Logf("server restart mid-stream: emitted %d (Emit errors %d), delivered %d, duplicated %d, lost %d", n, emitErrs, delivered, dup, lost)
	if lost > 0 || emitErrs > 0 {
		t.Fatalf("%d events lost, %d Emit errors", lost, emitErrs)
	}
}

// A 10 MB event goes through intact (issue 15 item 8).
func TestFaultTenMegabyteEvent(t *testing.T) {
	pg := testservers.StartPostgres(t)
	table := freshTable()
	o := Options{}
	em, err := New(pg.DSN, &Options{Table: table, Channel: table})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	li := openForTest(t, pg.DSN, table, o)
	li.opts.MaxEventBytes = DefaultMaxEventBytes
	c := newCounter()
	if _, err := li.On("FaultPing", c.Handler); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pad := strings.Repeat("x", 10<<20)
	dup, lost := c.EmitBig(ctx, t, em, pad)
	if lost > 0 || dup > 0 || c.Pad(0) != len(pad) {
		t.Fatalf("lost %d, dup %d, pad of the big event %d bytes, want %d", lost, dup, c.Pad(0), len(pad))
	}
}

// A row the inbound bus refuses is logged and skipped (not taken for a lost connection): the rows
// around it are each delivered once, with and without a Consumer.
func TestFaultRefusedRowSkipped(t *testing.T) {
	pg := testservers.StartPostgres(t)
	for _, consumer := range []string{"", "durable"} {
		t.Run("consumer="+consumer, func(t *testing.T) {
			table := freshTable()
			reg := bridgetesting.ClashRegistry(t)
			em := openForTest(t, pg.DSN, table, Options{})
			li := openForTest(t, pg.DSN, table, Options{Registry: reg, Consumer: consumer})
			bridgetesting.BindClash(li.Bus())
			c := newCounter()
			if _, err := li.On("FaultPing", c.Handler); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c.EmitAroundRefused(ctx, t, em, 500*time.Millisecond)
		})
	}
}

// Close lets the events already received finish (non-durable mode): 5 events with a 50 ms handler,
// all 5 handled when Close returns.
func TestCloseFinishesReceived(t *testing.T) {
	pg := testservers.StartPostgres(t)
	table := freshTable()
	li := openForTest(t, pg.DSN, table, Options{})
	h := &bridgetesting.SlowHandler{}
	if _, err := li.On("FaultPing", h.Handle); err != nil {
		t.Fatal(err)
	}
	em := openForTest(t, pg.DSN, table, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 5 {
		if err := em.Emit(ctx, ping(t, i, "")); err != nil {
			t.Fatal(err)
		}
	}
	h.WaitStarted(ctx)
	time.Sleep(100 * time.Millisecond) // the listener has read all 5 rows (notified)
	if err := li.Close(); err != nil {
		t.Fatal(err)
	}
	h.ExpectFinished(t, 5)
}
