package abxbus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// F169: Equals filters compare every metadata field by its JSON name and JSON value (ids as strings,
// timestamps in the wire format, timeouts in seconds, unset options as null); a field the event does
// not have never matches; a value that cannot be encoded is an invalid option.
func TestFindEqualsMetadataF169(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "MetaBus", &abxbus.Options{ID: "0190a000-0000-7000-8000-00000000c003"})
	var child *abxbus.BaseEvent
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Parent) (string, error) {
		k, err := abxbus.EmitChildOf(ctx, Kid{N: 1})
		if err == nil {
			child = k.Base()
			err = k.Now(ctx)
		}
		return "p", err
	}))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, k Kid) (int, error) { return k.N, nil }))
	opts := abxbus.EventOptions{
		Timeout:            5 * time.Second,
		HandlerTimeout:     2 * time.Second,
		SlowTimeout:        9 * time.Second,
		HandlerSlowTimeout: 3 * time.Second,
		Concurrency:        abxbus.BusSerial,
		HandlerConcurrency: abxbus.HandlersSerial,
		Completion:         abxbus.CompleteAll,
	}
	p := must[*abxbus.Event[Parent, string]](t)(abxbus.EmitWith(ctx, b, Parent{Name: "root"}, opts)).Base()
	if err := p.Now(ctx); err != nil {
		t.Fatal(err)
	}
	idle(t, b)
	handlerID := p.Results()[0].Handler().ID()

	// Each row: a filter that must select exactly want (nil: nothing) among the Parent and the Kid.
	rows := []struct {
		name  string
		field string
		value any
		want  *abxbus.BaseEvent
	}{
		{"event_id as ID", "event_id", p.ID(), p},
		{"event_id as string", "event_id", p.ID().String(), p},
		{"event_type", "event_type", "Kid", child},
		{"event_version", "event_version", abxbus.DefaultEventVersion, child}, // newest first
		{"event_status", "event_status", "completed", child},
		{"event_status typed", "event_status", abxbus.EventCompleted, child},
		{"event_parent_id", "event_parent_id", p.ID(), child},
		{"event_parent_id null", "event_parent_id", nil, p},
		{"event_emitted_by_handler_id", "event_emitted_by_handler_id", handlerID, child},
		{"event_created_at", "event_created_at", abxbus.FormatTimestamp(p.CreatedAt()), p},
		{"event_created_at as time.Time", "event_created_at", p.CreatedAt(), p},
		{"event_completed_at as time.Time", "event_completed_at", child.CompletedAt(), child},
		{"event_started_at zero time.Time", "event_started_at", time.Time{}, nil},
		{"event_started_at", "event_started_at", abxbus.FormatTimestamp(p.StartedAt()), p},
		{"event_completed_at", "event_completed_at", abxbus.FormatTimestamp(child.CompletedAt()), child},
		{"event_path", "event_path", []string{b.Label()}, child},
		{"event_pending_bus_count", "event_pending_bus_count", 0, child},
		{"event_blocks_parent_completion", "event_blocks_parent_completion", true, child},
		{"event_timeout seconds", "event_timeout", 5, p},
		{"event_timeout Duration in ms", "event_timeout", 5000 * time.Millisecond, p},
		{"event_timeout Duration", "event_timeout", 5 * time.Second, p},
		{"event_timeout unset", "event_timeout", nil, child},
		{"event_timeout unset Duration", "event_timeout", time.Duration(0), child},
		{"event_timeout NoTimeout", "event_timeout", abxbus.NoTimeout, nil},
		{"event_handler_timeout", "event_handler_timeout", 2.0, p},
		{"event_slow_timeout", "event_slow_timeout", 9, p},
		{"event_handler_slow_timeout", "event_handler_slow_timeout", 3, p},
		{"event_concurrency", "event_concurrency", "bus-serial", p},
		{"event_handler_concurrency", "event_handler_concurrency", abxbus.HandlersSerial, p},
		{"event_handler_completion", "event_handler_completion", "all", p},
		{"event_concurrency unset", "event_concurrency", nil, child},
		{"wrong value", "event_type", "Nope", nil},
		{"wrong JSON type", "event_pending_bus_count", "0", nil},
		{"unknown metadata field", "event_nonexistent", nil, nil},
		{"payload field", "name", "root", p},
		{"payload number", "n", 1.0, child},
		{"payload field absent", "missing", nil, nil},
	}
	for _, r := range rows {
		got, err := b.Find(ctx, "*", abxbus.FindOptions{Equals: map[string]any{r.field: r.value}})
		if err != nil || got != r.want {
			t.Errorf("%s: Find(%s=%v) = %v, %v; want %v", r.name, r.field, r.value, got, err, r.want)
		}
	}
	// Filters are ANDed.
	got, _ := b.Filter(ctx, "*", abxbus.FindOptions{Equals: map[string]any{"event_status": "completed", "event_type": "Parent"}})
	if len(got) != 1 || got[0] != p {
		t.Errorf("ANDed filters = %v", got)
	}
	if _, err := b.Find(ctx, "*", abxbus.FindOptions{Equals: map[string]any{"x": func() {}}}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Errorf("unencodable Equals value: %v", err)
	}
}

// F166, F167, F168: Window states and defaults; Within clamps a non-positive duration to Never.
func TestFindWindowStatesF166F167(t *testing.T) {
	for _, c := range []struct {
		w    abxbus.Window
		want string
	}{
		{abxbus.Window{}, "default"},
		{abxbus.Always, "always"},
		{abxbus.Never, "never"},
		{abxbus.Within(-time.Second), "never"},
		{abxbus.Within(0), "never"},
		{abxbus.Within(1500 * time.Millisecond), "within 1.5s"},
	} {
		if got := c.w.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.w, got, c.want)
		}
	}
	ctx := tctx(t)
	b := orderBus(t, nil)
	emitOrders(t, b, "o1")
	// Past Never and Future Never (or a clamped window): nil at once, no error (F168).
	for _, o := range []abxbus.FindOptions{
		{Past: abxbus.Never},
		{Past: abxbus.Within(-time.Second)},
		{Past: abxbus.Never, Future: abxbus.Within(0)},
	} {
		if e, err := b.Find(ctx, "Order", o); e != nil || err != nil {
			t.Errorf("Find(%v/%v) = %v, %v", o.Past, o.Future, e, err)
		}
	}
	// A typed future lookup bounded by Within times out with nil (F172).
	if e, err := abxbus.Find[Order](ctx, b, abxbus.FindOptions{Past: abxbus.Never, Future: abxbus.Within(20 * time.Millisecond)}); e != nil || err != nil {
		t.Errorf("typed future timeout = %v, %v", e, err)
	}
	// The ctx bounds a future wait: its error is returned.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := abxbus.FilterOf[Order](done, b, abxbus.FindOptions{Past: abxbus.Never, Future: abxbus.Always}); !errors.Is(err, context.Canceled) {
		t.Errorf("FilterOf with an ended ctx: %v", err)
	}
}
