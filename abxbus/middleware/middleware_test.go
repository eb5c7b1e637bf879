package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/middleware"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(walChildEnv); path != "" {
		walChild(path) // the writer process of TestWALSurvivesKill9: never returns
	}
	leakcheck.Main(m)
}

type Ping struct {
	abxbus.Returns[int]
	N int `json:"n"`
}

type Order struct {
	abxbus.Returns[string]
	ID string `json:"id"`
}

type Note struct {
	abxbus.Returns[abxbus.Void]
	Text string `json:"text"`
}

type DeclinedError struct{ Card string }

func (e *DeclinedError) Error() string { return "card " + e.Card + " declined" }

func newBus(t testing.TB, name string, opts *abxbus.Options) *abxbus.Bus {
	t.Helper()
	b, err := abxbus.New(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Destroy(true) })
	return b
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func tctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func idle(t testing.TB, b *abxbus.Bus) {
	t.Helper()
	if err := b.WaitUntilIdle(tctx(t)); err != nil {
		t.Fatalf("WaitUntilIdle(%s): %v", b, err)
	}
}

// seen collects events of some types from a wildcard handler.
type seen struct {
	mu  sync.Mutex
	evs []*abxbus.BaseEvent
}

func (s *seen) add(e *abxbus.BaseEvent) {
	s.mu.Lock()
	s.evs = append(s.evs, e)
	s.mu.Unlock()
}

func (s *seen) all() []*abxbus.BaseEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.evs)
}

func (s *seen) types() []string {
	var out []string
	for _, e := range s.all() {
		out = append(out, e.Type())
	}
	return out
}

// watch records every event of b whose type has one of the suffixes.
func watch(t *testing.T, b *abxbus.Bus, suffixes ...string) *seen {
	s := &seen{}
	must[*abxbus.Handler](t)(b.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		for _, suf := range suffixes {
			if strings.HasSuffix(e.Type(), suf) {
				s.add(e)
			}
		}
		return nil, nil
	}, abxbus.WithName("watch")))
	return s
}

func payload(t *testing.T, e *abxbus.BaseEvent) map[string]any {
	t.Helper()
	raw, err := e.PayloadJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestF236AutoError(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "Shop", &abxbus.Options{Middlewares: []abxbus.Middleware{middleware.AutoError{}}})
	got := watch(t, b, "ErrorEvent")
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, o Order) (string, error) {
		return "", &DeclinedError{Card: o.ID}
	}, abxbus.WithName("charge")))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, o Order) (string, error) {
		return "", errors.New("plain failure")
	}, abxbus.WithName("plain")))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, o Order) (string, error) { return "ok", nil }, abxbus.WithName("fine")))
	// an ErrorEvent handler that fails too: skipped by the suffix rule, no OrderErrorEventErrorEvent
	must[*abxbus.Handler](t)(b.OnType("OrderErrorEvent", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return nil, errors.New("error handler fails")
	}, abxbus.WithName("onError")))
	e := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, b, Order{ID: "4242"}))
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	idle(t, b)
	evs := got.all()
	if types := got.types(); !slices.Equal(types, []string{"OrderErrorEvent", "OrderErrorEvent"}) {
		t.Fatalf("error events = %q", types)
	}
	want := []map[string]any{
		{"error": map[string]any{"type": "DeclinedError", "message": "card 4242 declined"}, "error_type": "DeclinedError"},
		{"error": map[string]any{"type": "Error", "message": "plain failure"}, "error_type": "Error"},
	}
	for i, ev := range evs {
		if p := payload(t, ev); fmt.Sprint(p) != fmt.Sprint(want[i]) {
			t.Errorf("payload %d = %v, want %v", i, p, want[i])
		}
		if ev.Status() != abxbus.EventCompleted {
			t.Errorf("%s not processed: %s", ev, ev.Status())
		}
	}
	// the wire JSON of the error event: payload keys at the top level, as the Python runtime writes them
	data := must[[]byte](t)(evs[0].ToJSON())
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	if string(top["error_type"]) != `"DeclinedError"` || !bytes.Contains(top["error"], []byte(`"type":"DeclinedError"`)) {
		t.Errorf("error event JSON: %s", data)
	}
}

func TestF236AutoErrorTimeoutAndFirst(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "Slow", &abxbus.Options{Middlewares: []abxbus.Middleware{middleware.AutoError{}}})
	got := watch(t, b, "ErrorEvent")
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	}, abxbus.WithName("stuck"), abxbus.WithHandlerTimeout(10*time.Millisecond)))
	e := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{}))
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	idle(t, b)
	evs := got.all()
	if len(evs) != 1 || payload(t, evs[0])["error_type"] != "EventHandlerTimeoutError" {
		t.Fatalf("error events = %v", got.types())
	}
}

func TestF237AutoReturn(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "Calc", &abxbus.Options{Middlewares: []abxbus.Middleware{middleware.AutoReturn{}}})
	other := newBus(t, "Other", nil)
	got := watch(t, b, "ResultEvent")
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return p.N * 2, nil }, abxbus.WithName("double")))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return 0, errors.New("no") }, abxbus.WithName("fails")))
	// a result that is an event (forwarding) is skipped
	must[*abxbus.Handler](t)(b.OnType("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return other.Emit(ctx, e)
	}, abxbus.WithName("forward")))
	// notifications return nothing: skipped
	must[*abxbus.Handler](t)(abxbus.OnNotify(b, func(ctx context.Context, n Note) error { return nil }))
	// a result event's own handler returning a value: skipped by the suffix rule
	must[*abxbus.Handler](t)(b.OnType("PingResultEvent", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return "seen", nil
	}, abxbus.WithName("onResult")))
	if _, err := abxbus.Emit(ctx, b, Ping{N: 21}); err != nil {
		t.Fatal(err)
	}
	if _, err := abxbus.Emit(ctx, b, Note{Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	idle(t, b)
	idle(t, other)
	evs := got.all()
	if len(evs) != 1 || evs[0].Type() != "PingResultEvent" {
		t.Fatalf("result events = %q", got.types())
	}
	if p := payload(t, evs[0]); fmt.Sprint(p) != "map[data:42]" {
		t.Errorf("payload = %v", p)
	}
}

func TestF238AutoHandlerChange(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "Reg", &abxbus.Options{Middlewares: []abxbus.Middleware{middleware.AutoHandlerChange{}}})
	var mu sync.Mutex
	var regs, unregs []json.RawMessage
	must[*abxbus.Handler](t)(abxbus.OnNotify(b, func(ctx context.Context, p middleware.BusHandlerRegisteredEvent) error {
		mu.Lock()
		regs = append(regs, p.Handler)
		mu.Unlock()
		return nil
	}))
	must[*abxbus.Handler](t)(abxbus.OnNotify(b, func(ctx context.Context, p middleware.BusHandlerUnregisteredEvent) error {
		mu.Lock()
		unregs = append(unregs, p.Handler)
		mu.Unlock()
		return nil
	}))
	h := must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return 1, nil }, abxbus.WithName("ping"), abxbus.WithHandlerTimeout(3*time.Second)))
	rec := must[[]byte](t)(h.MarshalJSON())
	b.Off(h)
	idle(t, b)
	_ = ctx
	mu.Lock()
	defer mu.Unlock()
	// the two OnNotify registrations and ping's: handlers are resolved when an event is processed, so
	// the first registration's event, queued, reaches the handler registered with it
	if len(regs) != 3 || len(unregs) != 1 {
		t.Fatalf("registered events %d, unregistered %d", len(regs), len(unregs))
	}
	if !bytes.Equal(regs[2], rec) || !bytes.Equal(unregs[0], rec) {
		t.Errorf("handler records:\n %s\n %s\nwant %s", regs[2], unregs[0], rec)
	}
	var m map[string]any
	if err := json.Unmarshal(rec, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "eventbus_name", "eventbus_id", "event_pattern", "handler_name", "handler_file_path", "handler_timeout", "handler_registered_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("handler record lacks %q: %s", k, rec)
		}
	}
	if m["handler_name"] != "ping" || m["event_pattern"] != "Ping" || m["handler_timeout"] != 3.0 || m["id"] != h.ID().String() {
		t.Errorf("handler record: %s", rec)
	}
}

// captured is a slog.Handler that keeps the records.
type captured struct {
	mu   sync.Mutex
	recs []map[string]any
}

func (c *captured) Enabled(context.Context, slog.Level) bool { return true }
func (c *captured) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *captured) WithGroup(string) slog.Handler            { return c }
func (c *captured) Handle(_ context.Context, r slog.Record) error {
	m := map[string]any{"msg": r.Message, "level": r.Level.String()}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	c.mu.Lock()
	c.recs = append(c.recs, m)
	c.mu.Unlock()
	return nil
}

func TestF239Logger(t *testing.T) {
	ctx := tctx(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "deep", "er", "events.log")
	capt := &captured{}
	lg := must[*middleware.Logger](t)(middleware.NewLogger(&middleware.LoggerOptions{Logger: slog.New(capt), Path: path}))
	b := newBus(t, "Logged", &abxbus.Options{Middlewares: []abxbus.Middleware{lg}})
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, o Order) (string, error) { return "ok", nil }))
	e := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, b, Order{ID: "secret-card"}))
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if err := lg.Close(); err != nil {
		t.Fatal(err)
	}
	capt.mu.Lock()
	recs := slices.Clone(capt.recs)
	capt.mu.Unlock()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1: %v", len(recs), recs)
	}
	r := recs[0]
	if r["msg"] != "event completed" || r["level"] != "INFO" || r["bus"] != b.Label() || r["event_type"] != "Order" ||
		r["event_id"] != e.ID().String() || r["event_status"] != "completed" {
		t.Errorf("record = %v", r)
	}
	for k := range r {
		if k != "msg" && k != "level" && k != "bus" && !strings.HasPrefix(k, "event_") || strings.Contains(k, "results") {
			t.Errorf("record has %q", k)
		}
	}
	data := must[[]byte](t)(os.ReadFile(path))
	if bytes.Contains(data, []byte("secret-card")) || !bytes.Contains(data, []byte(`"event_id":"`+e.ID().String()+`"`)) ||
		bytes.Count(data, []byte("\n")) != 1 {
		t.Errorf("log file:\n%s", data)
	}
}

func TestF240WAL(t *testing.T) {
	ctx := tctx(t)
	for _, pol := range []middleware.SyncPolicy{middleware.SyncNever, middleware.SyncEveryLine, middleware.SyncInterval} {
		t.Run(fmt.Sprint(pol), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a", "b", "events.jsonl")
			w := must[*middleware.WAL](t)(middleware.OpenWAL(path, &middleware.WALOptions{Sync: pol, Interval: time.Millisecond}))
			a := newBus(t, "A", &abxbus.Options{Middlewares: []abxbus.Middleware{w}})
			par := newBus(t, "P", &abxbus.Options{Middlewares: []abxbus.Middleware{w}, EventConcurrency: abxbus.Parallel})
			for _, b := range []*abxbus.Bus{a, par} {
				must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Ping) (int, error) { return p.N, nil }))
			}
			var evs []*abxbus.Event[Ping, int]
			for i := range 100 {
				b := a
				if i%2 == 1 {
					b = par
				}
				evs = append(evs, must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, b, Ping{N: i})))
			}
			for _, e := range evs {
				if err := e.Wait(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			ids := map[abxbus.ID]bool{}
			f := must[*os.File](t)(os.Open(path))
			defer f.Close()
			err := middleware.ReadWAL(f, nil, func(en middleware.WALEntry) error {
				if en.Event.Status() != abxbus.EventCompleted || len(en.Event.Results()) != 1 {
					t.Errorf("line %d: %s %s with %d results", en.Line, en.Event, en.Event.Status(), len(en.Event.Results()))
				}
				ids[en.Event.ID()] = true
				return nil
			})
			if err != nil || len(ids) != 100 {
				t.Fatalf("ReadWAL: %v, %d events", err, len(ids))
			}
			if w.Err() != nil {
				t.Fatal(w.Err())
			}
		})
	}
}

func TestF240WALAfterClose(t *testing.T) {
	ctx := tctx(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	w := must[*middleware.WAL](t)(middleware.OpenWAL(filepath.Join(t.TempDir(), "w.jsonl"), nil))
	b := newBus(t, "Late", &abxbus.Options{Middlewares: []abxbus.Middleware{w},
		Logger: slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) }), nil))})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := abxbus.Call(ctx, b, Note{}); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(w.Err(), middleware.ErrWALClosed) {
		t.Errorf("Err = %v", w.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "WAL: event not written") {
		t.Errorf("logs: %s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestF240WALOptions(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []*middleware.WALOptions{{Sync: 7}, {Interval: -time.Second}} {
		if _, err := middleware.OpenWAL(filepath.Join(dir, "x"), o); !errors.Is(err, abxbus.ErrInvalidOption) {
			t.Errorf("OpenWAL(%+v) = %v", o, err)
		}
	}
	if _, err := middleware.OpenWAL("", nil); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Errorf("OpenWAL(\"\") = %v", err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := middleware.OpenWAL(filepath.Join(file, "sub", "w.jsonl"), nil); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("OpenWAL under a file = %v", err)
	}
}
