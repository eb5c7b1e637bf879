package abxbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Tests of issue 12 items 1 and 2: timeouts are plain time.Durations (0 unset, NoTimeout disables a
// level, other negative durations are rejected) and timestamps are time.Times, with the wire format
// unchanged.

// blockUntilDone is a handler that returns only when its context is cancelled (by a timeout).
func blockUntilDone(ctx context.Context, p Ping) (int, error) {
	<-ctx.Done()
	return 0, context.Cause(ctx)
}

// Issue 12 item 1, F137, F138: a duration literal is a timeout, end to end: an event timeout of 50 ms
// aborts the running handler, an event handler timeout of 50 ms times it out (the error carries the
// duration), and both are written as seconds.
func TestEventOptionsDurationLiteralIssue12(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "Durations", nil)
	must[*abxbus.Handler](t)(abxbus.On(b, blockUntilDone, abxbus.WithName("blocks")))

	e := must[*abxbus.Event[Ping, int]](t)(abxbus.EmitWith(ctx, b, Ping{}, abxbus.EventOptions{Timeout: 50 * time.Millisecond}))
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	err := resultErr(t, e.EventResults()[0])
	var aborted *abxbus.EventHandlerAbortedError
	if !errors.Is(err, abxbus.ErrHandlerAborted) || !errors.As(err, &aborted) || !strings.Contains(err.Error(), "timed out after 0.05s") {
		t.Fatalf("event timeout 50ms: %v, want the handler aborted by the event timeout after 0.05s", err)
	}
	if got := e.Base().Options().Timeout; got != 50*time.Millisecond {
		t.Fatalf("Options().Timeout = %v", got)
	}
	if m := wireKeys(t, e.Base()); string(m["event_timeout"]) != "0.05" {
		t.Fatalf("event_timeout written as %s, want 0.05", m["event_timeout"])
	}

	e = must[*abxbus.Event[Ping, int]](t)(abxbus.EmitWith(ctx, b, Ping{}, abxbus.EventOptions{HandlerTimeout: 50 * time.Millisecond}))
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	err = resultErr(t, e.EventResults()[0])
	var timedOut *abxbus.EventHandlerTimeoutError
	if !errors.As(err, &timedOut) || timedOut.Timeout != 50*time.Millisecond || !errors.Is(err, abxbus.ErrHandlerTimeout) {
		t.Fatalf("handler timeout 50ms: %v, want an EventHandlerTimeoutError of 50ms", err)
	}
	if m := wireKeys(t, e.Base()); string(m["event_handler_timeout"]) != "0.05" || string(m["event_timeout"]) != "null" {
		t.Fatalf("written as event_timeout %s, event_handler_timeout %s", m["event_timeout"], m["event_handler_timeout"])
	}
}

// Issue 12 item 1, F134: a handler's own duration (WithHandlerTimeout, SetTimeout) is its limit and
// reads back as set; 0 unsets it again.
func TestHandlerDurationTimeoutIssue12(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "HandlerDurations", &abxbus.Options{EventTimeout: abxbus.NoTimeout})
	h := must[*abxbus.Handler](t)(abxbus.On(b, blockUntilDone, abxbus.WithHandlerTimeout(time.Hour), abxbus.WithHandlerSlowTimeout(abxbus.NoTimeout)))
	if h.Timeout() != time.Hour || h.SlowTimeout() != abxbus.NoTimeout {
		t.Fatalf("registered with %v, %v", h.Timeout(), h.SlowTimeout())
	}
	if err := h.SetTimeout(30 * time.Millisecond); err != nil || h.Timeout() != 30*time.Millisecond {
		t.Fatalf("SetTimeout(30ms): %v, now %v", err, h.Timeout())
	}
	e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{}))
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	var timedOut *abxbus.EventHandlerTimeoutError
	if err := resultErr(t, e.EventResults()[0]); !errors.As(err, &timedOut) || timedOut.Timeout != 30*time.Millisecond {
		t.Fatalf("handler timeout 30ms: %v", err)
	}
	if m := wireRow(t, e.Base()); string(m["handler_timeout"]) != "0.03" || string(m["handler_slow_timeout"]) != "0" {
		t.Fatalf("row written with handler_timeout %s, handler_slow_timeout %s", m["handler_timeout"], m["handler_slow_timeout"])
	}
	if err := h.SetTimeout(0); err != nil || h.Timeout() != 0 {
		t.Fatalf("SetTimeout(0): %v, now %v", err, h.Timeout())
	}
	if m := wireRow(t, e.Base()); m["handler_timeout"] != nil {
		t.Fatalf("an unset handler timeout is written as %s, want no key", m["handler_timeout"])
	}
}

// Issue 12 item 1, D15: NoTimeout disables the event level under a bus default: the handler outlives the
// bus's 20 ms and completes; without it the bus default aborts it.
func TestNoTimeoutDisablesBusDefaultIssue12(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "Default20ms", &abxbus.Options{EventTimeout: 20 * time.Millisecond})
	release := make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) {
		select {
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		case <-release:
			return 9, nil
		}
	}))
	limited := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{}))
	if err := limited.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := resultErr(t, limited.EventResults()[0]); !errors.Is(err, abxbus.ErrHandlerAborted) {
		t.Fatalf("under the bus default: %v, want aborted", err)
	}
	unlimited := must[*abxbus.Event[Ping, int]](t)(abxbus.EmitWith(ctx, b, Ping{}, abxbus.EventOptions{Timeout: abxbus.NoTimeout}))
	time.Sleep(60 * time.Millisecond) // three times the bus default: long enough for a wrong limit to hit
	close(release)
	if v, err := unlimited.Result(ctx); err != nil || v != 9 {
		t.Fatalf("with NoTimeout: %v, %v; want 9", v, err)
	}
	if m := wireKeys(t, unlimited.Base()); string(m["event_timeout"]) != "0" {
		t.Fatalf("NoTimeout written as %s, want 0", m["event_timeout"])
	}
}

// Issue 12 item 1: a negative duration other than NoTimeout is rejected by UpdateResult too, naming the
// field and the value; NoTimeout there clears the row's timeout.
func TestResultUpdateNegativeTimeoutIssue12(t *testing.T) {
	b := newBus(t, "Rows", nil)
	h := must[*abxbus.Handler](t)(b.OnType("X", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil }))
	e := must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("X", nil))
	_, err := e.UpdateResult(h, abxbus.ResultUpdate{Timeout: -1500 * time.Millisecond})
	if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "handler timeout") || !strings.Contains(err.Error(), "-1.5s") {
		t.Fatalf("negative ResultUpdate.Timeout: %v", err)
	}
	if _, err := e.UpdateResult(h, abxbus.ResultUpdate{Timeout: abxbus.NoTimeout}); err != nil {
		t.Fatalf("ResultUpdate.Timeout NoTimeout: %v", err)
	}
}

// Issue 12 item 1, D17: the wire form of every timeout state is what it was: absent or null is 0
// (unset), 0 is NoTimeout, seconds are a duration (at least 1 ns, at most MaxTimeout), and each is
// written back byte for byte.
func TestTimeoutWireRoundTripIssue12(t *testing.T) {
	for _, c := range []struct {
		in   string // the event_timeout value; "" for no key
		want time.Duration
		out  string
	}{
		{"", 0, "null"},
		{"null", 0, "null"},
		{"0", abxbus.NoTimeout, "0"},
		{"-0", abxbus.NoTimeout, "0"},
		{"0.05", 50 * time.Millisecond, "0.05"},
		{"1.5", 1500 * time.Millisecond, "1.5"},
		{"1e-12", time.Nanosecond, "0.000000001"},
		{"3153600000", abxbus.MaxTimeout, "3153600000"},
		{"1e20", abxbus.MaxTimeout, "3153600000"},
		{"1e400", abxbus.MaxTimeout, "3153600000"},
	} {
		in := `{"event_type":"X"}`
		if c.in != "" {
			in = `{"event_type":"X","event_timeout":` + c.in + `,"event_handler_timeout":` + c.in + `}`
		}
		e := must[*abxbus.BaseEvent](t)(abxbus.FromJSON([]byte(in)))
		if o := e.Options(); o.Timeout != c.want || o.HandlerTimeout != c.want {
			t.Errorf("%s decoded as %v, %v; want %v", c.in, o.Timeout, o.HandlerTimeout, c.want)
		}
		out := must[[]byte](t)(e.ToJSON())
		m := map[string]json.RawMessage{}
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatal(err)
		}
		if string(m["event_timeout"]) != c.out {
			t.Errorf("%s written back as %s, want %s", c.in, m["event_timeout"], c.out)
		}
		if h, ok := m["event_handler_timeout"]; (c.want == 0) == ok || ok && string(h) != c.out {
			t.Errorf("%s: event_handler_timeout written back as %s (present %v)", c.in, h, ok)
		}
		again := must[[]byte](t)(must[*abxbus.BaseEvent](t)(abxbus.FromJSON(out)).ToJSON())
		if string(again) != string(out) {
			t.Errorf("%s: unstable round trip:\n%s\n%s", c.in, out, again)
		}
	}
	// Set in Go, written as the same three wire states.
	for d, want := range map[time.Duration]string{0: "null", abxbus.NoTimeout: "0", 250 * time.Millisecond: "0.25", 3 * time.Nanosecond: "0.000000003"} {
		e := must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("X", nil))
		if err := e.SetOptions(abxbus.EventOptions{Timeout: d}); err != nil {
			t.Fatal(err)
		}
		if got := string(wireKeys(t, e)["event_timeout"]); got != want {
			t.Errorf("EventOptions{Timeout: %v} written as %s, want %s", d, got, want)
		}
	}
}

// Issue 12 item 2, F19-F21, F226: lifecycle timestamps are time.Times in UTC: the zero Time before they
// are reached, equal (==) to the timestamps in the event's JSON and to the ones read back from it, and
// strictly increasing across events.
func TestTimestampsAreTimesIssue12(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "Times", nil)
	gate := make(chan struct{})
	h := must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) {
		<-gate
		return p.N, nil
	}))
	if loc := h.RegisteredAt().Location(); loc != time.UTC || h.RegisteredAt().IsZero() {
		t.Fatalf("RegisteredAt %v in %v", h.RegisteredAt(), loc)
	}
	first := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{N: 1})).Base()
	second := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{N: 2})).Base()
	if !second.StartedAt().IsZero() || !second.CompletedAt().IsZero() || !first.CompletedAt().IsZero() {
		t.Fatalf("times before start: %v %v %v", second.StartedAt(), second.CompletedAt(), first.CompletedAt())
	}
	if !h.RegisteredAt().Before(first.CreatedAt()) || !first.CreatedAt().Before(second.CreatedAt()) {
		t.Fatalf("not strictly increasing: registered %v, created %v then %v", h.RegisteredAt(), first.CreatedAt(), second.CreatedAt())
	}
	close(gate)
	idle(t, b)
	for _, e := range []*abxbus.BaseEvent{first, second} {
		m := wireKeys(t, e)
		row := wireRow(t, e)
		r := e.Results()[0]
		for name, c := range map[string]struct {
			got  time.Time
			wire json.RawMessage
		}{
			"event_created_at": {e.CreatedAt(), m["event_created_at"]}, "event_started_at": {e.StartedAt(), m["event_started_at"]},
			"event_completed_at": {e.CompletedAt(), m["event_completed_at"]},
			"started_at":         {r.StartedAt(), row["started_at"]}, "completed_at": {r.CompletedAt(), row["completed_at"]},
			"handler_registered_at": {h.RegisteredAt(), row["handler_registered_at"]},
		} {
			var s string
			if err := json.Unmarshal(c.wire, &s); err != nil {
				t.Fatalf("%s: %s", name, c.wire)
			}
			parsed, err := abxbus.ParseTimestamp(s)
			if err != nil || parsed != c.got || !parsed.Equal(c.got) || c.got.Location() != time.UTC || c.got.IsZero() {
				t.Errorf("%s: accessor %v, wire %s (parsed %v, %v)", name, c.got, s, parsed, err)
			}
			if abxbus.FormatTimestamp(c.got) != s {
				t.Errorf("%s: FormatTimestamp %s, wire %s", name, abxbus.FormatTimestamp(c.got), s)
			}
		}
		back := must[*abxbus.BaseEvent](t)(abxbus.FromJSON(must[[]byte](t)(e.ToJSON())))
		if back.CreatedAt() != e.CreatedAt() || back.StartedAt() != e.StartedAt() || back.CompletedAt() != e.CompletedAt() ||
			back.Results()[0].StartedAt() != r.StartedAt() || back.Results()[0].CompletedAt() != r.CompletedAt() {
			t.Errorf("times changed through JSON: %v/%v %v/%v %v/%v", back.CreatedAt(), e.CreatedAt(), back.StartedAt(), e.StartedAt(), back.CompletedAt(), e.CompletedAt())
		}
		if !e.CreatedAt().Before(e.StartedAt()) || !e.StartedAt().Before(e.CompletedAt()) {
			t.Errorf("lifecycle out of order: %v %v %v", e.CreatedAt(), e.StartedAt(), e.CompletedAt())
		}
	}
	if !first.CompletedAt().Before(second.StartedAt()) {
		t.Errorf("bus-serial: first completed %v, second started %v", first.CompletedAt(), second.StartedAt())
	}
	// The handler id is computed from the registration time as a time.Time.
	if id := abxbus.HandlerID(b.ID(), h.Name(), h.FilePath(), h.RegisteredAt(), h.Pattern()); id != h.ID() {
		t.Errorf("HandlerID from RegisteredAt = %s, handler id %s", id, h.ID())
	}
	var nilEvent *abxbus.BaseEvent
	if !nilEvent.CreatedAt().IsZero() || !(*abxbus.Handler)(nil).RegisteredAt().IsZero() {
		t.Error("a nil event or handler has a time")
	}
}

// Issue 12 item 2: FormatTimestamp and ParseTimestamp convert time.Times: zero <-> "", any zone
// rendered in UTC with nine digits, and the years the wire accepts; WithRegisteredAt takes a time.Time.
func TestTimestampFunctionsIssue12(t *testing.T) {
	if s := abxbus.FormatTimestamp(time.Time{}); s != "" {
		t.Errorf("FormatTimestamp(zero) = %q", s)
	}
	if tm, err := abxbus.ParseTimestamp(""); err != nil || !tm.IsZero() {
		t.Errorf(`ParseTimestamp("") = %v, %v`, tm, err)
	}
	zone := time.FixedZone("X", 5*3600)
	local := time.Date(2025, 1, 2, 8, 4, 5, 120, zone)
	if s := abxbus.FormatTimestamp(local); s != "2025-01-02T03:04:05.000000120Z" {
		t.Errorf("FormatTimestamp(+05:00) = %s", s)
	}
	parsed, err := abxbus.ParseTimestamp("2025-01-02T03:04:05.00000012Z")
	if err != nil || !parsed.Equal(local) || parsed.Location() != time.UTC || parsed != local.UTC() {
		t.Errorf("ParseTimestamp = %v, %v; want %v in UTC", parsed, err, local)
	}
	// A year the wire accepts but beyond what int64 nanoseconds hold parses as a time.Time, and is
	// refused, by name, where it would have to be recorded.
	late, err := abxbus.ParseTimestamp("2400-01-01T00:00:00Z")
	if err != nil || late.Year() != 2400 {
		t.Errorf("ParseTimestamp(2400) = %v, %v", late, err)
	}
	if _, err := abxbus.FromJSON([]byte(`{"event_type":"X","event_created_at":"2400-01-01T00:00:00Z"}`)); err == nil ||
		!strings.Contains(err.Error(), "event_created_at") || !strings.Contains(err.Error(), "2262") {
		t.Errorf("event_created_at in 2400: %v, want an error naming the key and the limit", err)
	}
	if _, err := abxbus.ParseTimestamp("2025-01-02T03:04:05+00:00"); err == nil {
		t.Error("an offset was accepted")
	}

	b := newBus(t, "Restore", &abxbus.Options{ID: "0190a000-0000-7000-8000-00000000c012"})
	reg := time.Date(2025, 1, 2, 3, 4, 5, 123456789, zone)
	h := must[*abxbus.Handler](t)(b.OnType("X", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil },
		abxbus.WithName("h"), abxbus.WithFilePath(""), abxbus.WithRegisteredAt(reg)))
	if h.RegisteredAt() != reg.UTC() {
		t.Errorf("RegisteredAt = %v, want %v", h.RegisteredAt(), reg.UTC())
	}
	if h.ID() != abxbus.HandlerID(b.ID(), "h", "", reg, "X") {
		t.Errorf("id %s does not follow the registration time", h.ID())
	}
	for _, bad := range []time.Time{time.Unix(0, 0), time.Date(1970, 1, 1, 0, 0, 1, 0, time.UTC), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)} {
		_, err := b.OnType("X", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil }, abxbus.WithRegisteredAt(bad))
		if !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "WithRegisteredAt") {
			t.Errorf("WithRegisteredAt(%v): %v", bad, err)
		}
	}
}

// wireKeys returns the event's JSON object.
func wireKeys(t *testing.T, e *abxbus.BaseEvent) map[string]json.RawMessage {
	t.Helper()
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(must[[]byte](t)(e.ToJSON()), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// wireRow returns the event's only result row in its JSON.
func wireRow(t *testing.T, e *abxbus.BaseEvent) map[string]json.RawMessage {
	t.Helper()
	var rows map[string]map[string]json.RawMessage
	if err := json.Unmarshal(wireKeys(t, e)["event_results"], &rows); err != nil || len(rows) != 1 {
		t.Fatalf("event_results: %v (%d rows)", err, len(rows))
	}
	for _, r := range rows {
		return r
	}
	return nil
}
