package abxbus_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// rupHandler registers an untyped Order handler on b (it is never run by these tests unless emitted).
func rupHandler(t *testing.T, b *abxbus.Bus, name string) *abxbus.Handler {
	t.Helper()
	return must[*abxbus.Handler](t)(b.OnType("Order", func(context.Context, *abxbus.BaseEvent) (any, error) {
		return "ran:" + name, nil
	}, abxbus.WithName(name)))
}

// F160: create-or-update keyed by handler: seed a pending row, then complete it; the same row is
// updated, and the accessors see the value.
func TestUpdateResultSeedF160(t *testing.T) {
	b := newBus(t, "SeedBus", nil)
	h := rupHandler(t, b, "seeder")
	e := abxbus.NewEvent(Order{OrderID: "o1"}).Base()

	row, err := e.UpdateResult(h, abxbus.ResultUpdate{Status: abxbus.ResultPending})
	if err != nil || row.Status() != abxbus.ResultPending || row.Handler() != h || row.Bus() != b || row.Event() != e {
		t.Fatalf("seeded row: %v, status %s", err, row.Status())
	}
	if !row.StartedAt().IsZero() || !row.CompletedAt().IsZero() {
		t.Fatal("a pending row has timestamps")
	}
	same, err := row.Update(abxbus.ResultUpdate{Result: "seeded"})
	if err != nil || same != row || row.ID() != same.ID() {
		t.Fatalf("update did not reuse the row: %v", err)
	}
	if v, err := row.Value(); err != nil || v != "seeded" || row.Status() != abxbus.ResultCompleted {
		t.Fatalf("after update: %v, %v, %s", v, err, row.Status())
	}
	if row.CompletedAt().IsZero() || row.StartedAt().IsZero() {
		t.Fatal("a completed row lacks timestamps")
	}
	if len(e.Results()) != 1 {
		t.Fatalf("rows = %d, want 1", len(e.Results()))
	}
	if vals, err := e.ResultsSnapshot(); err != nil || !slices.Equal(vals, []any{"seeded"}) {
		t.Fatalf("ResultsSnapshot = %v, %v", vals, err)
	}
	// A second handler gets its own row, in registration order; the row may name another bus.
	other := newBus(t, "OtherBus", nil)
	h2 := rupHandler(t, b, "second")
	row2, err := e.UpdateResult(h2, abxbus.ResultUpdate{Bus: other, Result: "two"})
	if err != nil || row2 == row || row2.Bus() != other {
		t.Fatalf("second row: %v", err)
	}
	if vals, _ := e.ResultsSnapshot(); !slices.Equal(vals, []any{"seeded", "two"}) {
		t.Fatalf("ResultsSnapshot = %v", vals)
	}
}

// F43: a value is checked against the result type (mismatch: error status, schema error, null value);
// an error value or Error gives status error; an explicit Status is applied last; a null result can be
// recorded with SetResult.
func TestUpdateResultValidationF43(t *testing.T) {
	b := newBus(t, "CheckBus", nil)
	h := rupHandler(t, b, "check")
	e := abxbus.NewEvent(Order{OrderID: "o1"}).Base() // result type string

	row := must[*abxbus.EventResult](t)(e.UpdateResult(h, abxbus.ResultUpdate{Result: 42}))
	if v, err := row.Value(); v != nil || !errors.Is(err, abxbus.ErrResultSchema) || row.Status() != abxbus.ResultError {
		t.Fatalf("mismatched value: %v, %v, %s", v, err, row.Status())
	}
	boom := errors.New("boom")
	must[*abxbus.EventResult](t)(row.Update(abxbus.ResultUpdate{Result: boom}))
	if row.Err() != boom || row.Status() != abxbus.ResultError {
		t.Fatalf("error value: %v, %s", row.Err(), row.Status())
	}
	must[*abxbus.EventResult](t)(row.Update(abxbus.ResultUpdate{Result: "fine"}))
	if v, err := row.Value(); v != "fine" || err != nil || row.Status() != abxbus.ResultCompleted {
		t.Fatalf("valid value after an error: %v, %v", v, err)
	}
	must[*abxbus.EventResult](t)(row.Update(abxbus.ResultUpdate{Error: boom}))
	if v, err := row.Value(); v != nil || err != boom {
		t.Fatalf("Error update: %v, %v", v, err)
	}
	must[*abxbus.EventResult](t)(row.Update(abxbus.ResultUpdate{Result: "v", Status: abxbus.ResultStarted}))
	if v, _ := row.Value(); v != "v" || row.Status() != abxbus.ResultStarted {
		t.Fatalf("explicit status last: %v, %s", v, row.Status())
	}
	must[*abxbus.EventResult](t)(row.Update(abxbus.ResultUpdate{SetResult: true, Timeout: 5 * time.Second}))
	if v, err := row.Value(); v != nil || err != nil || row.Status() != abxbus.ResultCompleted {
		t.Fatalf("null result: %v, %v, %s", v, err, row.Status())
	}
	if vals, _ := e.ResultsSnapshot(); len(vals) != 0 {
		t.Fatalf("a null result counted as a value: %v", vals)
	}

	// Invalid updates are errors, never panics (D2), and change nothing.
	for name, upd := range map[string]abxbus.ResultUpdate{
		"status":  {Status: "done"},
		"timeout": {Timeout: -time.Second},
	} {
		if _, err := e.UpdateResult(h, upd); !errors.Is(err, abxbus.ErrInvalidOption) {
			t.Fatalf("invalid %s: %v", name, err)
		}
	}
	if _, err := e.UpdateResult(nil, abxbus.ResultUpdate{}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("nil handler: %v", err)
	}
	if row.Status() != abxbus.ResultCompleted {
		t.Fatal("an invalid update changed the row")
	}
}

// F161: updating a row to started marks the event started; pending/started reopens a completed event
// (event_completed_at cleared, Done re-armed); completing the row completes the event again. Rows a bus
// run produced are final (F41): updating them is refused.
func TestUpdateResultEventStateF161(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "StateBus", nil)
	ran := rupHandler(t, b, "ran")
	e := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, b, Order{OrderID: "o1"})).Base()
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.UpdateResult(ran, abxbus.ResultUpdate{Result: "rewritten"}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("updating a run's row: %v", err)
	}
	if v, _ := e.Results()[0].Value(); v != "ran:ran" {
		t.Fatalf("run row changed: %v", v)
	}

	late := rupHandler(t, b, "late") // registered after the event ran: no row yet
	row := must[*abxbus.EventResult](t)(e.UpdateResult(late, abxbus.ResultUpdate{Status: abxbus.ResultStarted}))
	if e.Status() != abxbus.EventStarted || !e.CompletedAt().IsZero() || row.StartedAt().IsZero() {
		t.Fatalf("reopened event: status %s completed_at %v", e.Status(), e.CompletedAt())
	}
	select {
	case <-e.Done():
		t.Fatal("Done still closed after the event reopened")
	default:
	}
	waited := make(chan error, 1)
	go func() { waited <- e.Wait(ctx) }()
	must[*abxbus.EventResult](t)(row.Update(abxbus.ResultUpdate{Result: "late"}))
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if e.Status() != abxbus.EventCompleted || e.CompletedAt().IsZero() {
		t.Fatalf("after completing the row: %s", e.Status())
	}
	if vals := must[[]any](t)(e.ResultsList(ctx)); !slices.Equal(vals, []any{"ran:ran", "late"}) {
		t.Fatalf("ResultsList = %v", vals)
	}

	// A pending event becomes started by a started row.
	fresh := abxbus.NewEvent(Order{OrderID: "o2"}).Base()
	must[*abxbus.EventResult](t)(fresh.UpdateResult(late, abxbus.ResultUpdate{Status: abxbus.ResultStarted}))
	if fresh.Status() != abxbus.EventStarted || fresh.StartedAt().IsZero() {
		t.Fatalf("fresh event status %s", fresh.Status())
	}
}
