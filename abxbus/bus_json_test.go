package abxbus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/typedbus/abxbus-go/abxbus"
)

// F229: the TS whole-bus dump restores and re-encodes with every key equal.
func TestBusJSONFixtureRoundtripF229(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(wireFixtures, "bus_processed.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := abxbus.BusFromJSON(data, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy(true)
	out, err := b.ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	var want, got map[string]any
	json.Unmarshal(data, &want)
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	for k, v := range want {
		if diff := cmp.Diff(v, got[k]); diff != "" {
			t.Errorf("key %s (-want +got):\n%s", k, diff)
		}
	}
}

// F230: a bus with queued work is written out, restored elsewhere, its handlers re-attached by id, and
// the restored queue runs in order.
func TestBusJSONResumeF230(t *testing.T) {
	ctx := tctx(t)
	src := newBus(t, "SrcBus", nil)
	gate, started := make(chan struct{}), make(chan struct{}, 1)
	h := must[*abxbus.Handler](t)(abxbus.On(src, func(ctx context.Context, p Ping) (int, error) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-gate
		return p.N, nil
	}, abxbus.WithName("ping_handler")))
	for i := range 4 {
		must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, src, Ping{N: i}))
	}
	<-started // event 0 is running; 1..3 are queued
	dump, err := src.ToJSON()
	close(gate)
	if err != nil {
		t.Fatal(err)
	}
	var shape struct {
		Pending []string                   `json:"pending_event_queue"`
		History map[string]json.RawMessage `json:"event_history"`
	}
	if err := json.Unmarshal(dump, &shape); err != nil || len(shape.Pending) != 3 || len(shape.History) != 4 {
		t.Fatalf("dump: pending %d history %d (%v)", len(shape.Pending), len(shape.History), err)
	}

	reg := abxbus.NewRegistry()
	if err := abxbus.Register[Ping](reg); err != nil {
		t.Fatal(err)
	}
	dst, err := abxbus.BusFromJSON(dump, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dst.Destroy(true) })
	rec := &recorder{}
	h2, err := abxbus.On(dst, func(ctx context.Context, p Ping) (int, error) {
		rec.add(string(rune('0' + p.N)))
		return p.N * 10, nil
	}, abxbus.WithHandlerID(h.ID().String()))
	if err != nil {
		t.Fatal(err)
	}
	if h2.ID() != h.ID() || h2.Name() != "ping_handler" || len(dst.Handlers()) != 1 {
		t.Fatalf("re-attached handler: %s %s, %d handlers", h2.ID(), h2.Name(), len(dst.Handlers()))
	}
	if dst.QueueLen() != 3 {
		t.Fatalf("restored queue %d", dst.QueueLen())
	}
	dst.Resume()
	idle(t, dst)
	if diff := cmp.Diff([]string{"1", "2", "3"}, rec.get()); diff != "" {
		t.Fatalf("restored queue order (-want +got):\n%s", diff)
	}
	for _, e := range dst.PendingQueue() {
		t.Fatalf("still queued: %s", e)
	}
	n := 0
	for _, e := range dst.History() {
		if p, ok := abxbus.As[Ping](e); ok && e.Status() == abxbus.EventCompleted {
			if pl, _ := p.Payload(); pl.N > 0 {
				if v, err := p.Result(ctx); err != nil || v != pl.N*10 {
					t.Fatalf("%s: %v %v", e, v, err)
				}
				n++
			}
		}
	}
	if n != 3 {
		t.Fatalf("%d restored events completed with results", n)
	}
}

// A restored handler without a function records an error naming it; bad bus JSON is an error.
func TestBusJSONErrors(t *testing.T) {
	ctx := tctx(t)
	src := newBus(t, "Lonely", nil)
	must[*abxbus.Handler](t)(src.OnType("Side", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil }, abxbus.WithName("gone")))
	dump := must[[]byte](t)(src.ToJSON())
	dst, err := abxbus.BusFromJSON(dump, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Destroy(true)
	e := must[*abxbus.Event[Side, string]](t)(abxbus.Emit(ctx, dst, Side{}))
	if _, err := e.Result(ctx); !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), "gone") {
		t.Fatalf("unattached handler: %v", err)
	}
	for in, want := range map[string]string{
		`[]`:                                     "bus JSON",
		`{"name":"X","max_history_size":-3}`:     "max_history_size",
		`{"name":"X","event_concurrency":"odd"}`: "event_concurrency",
		`{"name":"X","pending_event_queue":["01a20279-f147-73b3-ae9a-7a81a2cdd3d3"]}`:   "pending_event_queue",
		`{"name":"X","handlers_by_key":{"A":["01a20279-f147-73b3-ae9a-7a81a2cdd3d3"]}}`: "handlers_by_key",
		`{"name":"X","event_history":{"a":{"event_timeout":"x"}}}`:                      "event_timeout",
		`{"name":"X","handlers":{"h":{"id":"bad"}}}`:                                    "id",
	} {
		if _, err := abxbus.BusFromJSON([]byte(in), nil, nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("BusFromJSON(%s) = %v, want an error naming %q", in, err, want)
		}
	}
}

// The bus decoder never panics; what it accepts encodes to valid UTF-8 JSON (issue 11 item 3) that
// restores again and re-encodes to the same bytes, and never queues an event twice (issue 11 item 4).
func FuzzBusFromJSON(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join(wireFixtures, "bus_processed.json")); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"name":"X","handlers":{},"event_history":{},"pending_event_queue":[]}`))
	f.Add([]byte(`{"name":"X","event_history":{"01a20279-f147-73b3-ae9a-7a81a2cdd3d3":{"event_type":"Q","event_id":"01a20279-f147-73b3-ae9a-7a81a2cdd3d3"}},"pending_event_queue":["01a20279-f147-73b3-ae9a-7a81a2cdd3d3"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := abxbus.BusFromJSON(data, nil, nil)
		if err != nil {
			return
		}
		defer b.Destroy(true)
		seen := map[abxbus.ID]bool{}
		for _, e := range b.PendingQueue() {
			if seen[e.ID()] {
				t.Fatalf("%s is queued twice", e.ID())
			}
			seen[e.ID()] = true
		}
		out, err := b.ToJSON()
		if err != nil {
			t.Fatalf("restored bus does not encode: %v", err)
		}
		if !utf8.Valid(out) || !json.Valid(out) {
			t.Fatalf("output is not valid UTF-8 JSON: %q", out)
		}
		b2, err := abxbus.BusFromJSON(out, nil, nil)
		if err != nil {
			t.Fatalf("our own output does not restore: %v\n%s", err, out)
		}
		defer b2.Destroy(true)
		again, err := b2.ToJSON()
		if err != nil || !bytes.Equal(out, again) {
			t.Fatalf("unstable encoding:\n%s\n%s (%v)", out, again, err)
		}
	})
}

// Issue 10 item 14 (F160, F229, F230): a restored bus resumes the result rows its queued event already
// carries: the completed row stands, only the pending handler runs, in its own row, and the event
// completes. A handler known only from a row is recreated (without a function until one is attached).
func TestBusJSONResumesSeededRows(t *testing.T) {
	ctx := tctx(t)
	src := newBus(t, "SeedBus", nil)
	gate, started := make(chan struct{}), make(chan struct{})
	first := must[*abxbus.Handler](t)(abxbus.On(src, func(ctx context.Context, p Ping) (int, error) {
		if p.N == 0 {
			close(started)
			<-gate
		}
		return 1, nil
	}, abxbus.WithName("first")))
	second := must[*abxbus.Handler](t)(abxbus.On(src, func(ctx context.Context, p Ping) (int, error) { return 2, nil }, abxbus.WithName("second")))
	must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, src, Ping{N: 0}))
	<-started
	queued := must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, src, Ping{N: 1}))
	if _, err := queued.Base().UpdateResult(first, abxbus.ResultUpdate{Result: 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := queued.Base().UpdateResult(second, abxbus.ResultUpdate{Status: abxbus.ResultPending}); err != nil {
		t.Fatal(err)
	}
	dump, err := src.ToJSON()
	close(gate)
	if err != nil {
		t.Fatal(err)
	}

	reg := abxbus.NewRegistry()
	if err := abxbus.Register[Ping](reg); err != nil {
		t.Fatal(err)
	}
	// A second dump where the second handler appears only in the queued event's row.
	var top map[string]json.RawMessage
	if err := json.Unmarshal(dump, &top); err != nil {
		t.Fatal(err)
	}
	var handlers map[string]json.RawMessage
	var byKey map[string][]string
	if err := json.Unmarshal(top["handlers"], &handlers); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(top["handlers_by_key"], &byKey); err != nil {
		t.Fatal(err)
	}
	delete(handlers, second.ID().String())
	for k, ids := range byKey {
		byKey[k] = slices.DeleteFunc(ids, func(id string) bool { return id == second.ID().String() })
	}
	top["handlers"], _ = json.Marshal(handlers)
	top["handlers_by_key"], _ = json.Marshal(byKey)
	rowsOnly, _ := json.Marshal(top)

	for _, attach := range []bool{true, false} {
		data := dump
		if !attach {
			data = rowsOnly
		}
		dst, err := abxbus.BusFromJSON(data, reg, nil)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		ran := map[string]int{}
		for _, h := range []*abxbus.Handler{first, second} {
			if !attach && h == second {
				if _, ok := dst.HandlerByID(second.ID()); !ok {
					t.Fatal("a handler known only from a result row was not recreated")
				}
				continue
			}
			name := h.Name()
			must[*abxbus.Handler](t)(abxbus.On(dst, func(ctx context.Context, p Ping) (int, error) {
				mu.Lock()
				ran[name]++
				mu.Unlock()
				return 20, nil
			}, abxbus.WithHandlerID(h.ID().String())))
		}
		ev, ok := dst.HistoryEvent(queued.ID())
		if !ok {
			t.Fatal("queued event not restored")
		}
		dst.Resume()
		if err := ev.Wait(ctx); err != nil {
			t.Fatalf("attach=%v: the restored event never completed: %v", attach, err)
		}
		idle(t, dst)
		rows := ev.Results()
		mu.Lock()
		defer mu.Unlock()
		if ran["first"] != 0 {
			t.Fatalf("attach=%v: the handler with a completed row ran again (%d times)", attach, ran["first"])
		}
		if len(rows) != 2 {
			t.Fatalf("attach=%v: %d result rows, want the 2 seeded ones", attach, len(rows))
		}
		if v, err := rows[0].Value(); err != nil || jsonText(v) != "100" {
			t.Fatalf("attach=%v: seeded completed row: %v, %v", attach, v, err)
		}
		if attach {
			if v, err := rows[1].Value(); err != nil || jsonText(v) != "20" || ran["second"] != 1 {
				t.Fatalf("pending row: %v, %v (ran %d)", v, err, ran["second"])
			}
		} else if rows[1].Status() != abxbus.ResultError || !strings.Contains(rows[1].Err().Error(), "no function") {
			t.Fatalf("row of a handler without a function: %s %v", rows[1].Status(), rows[1].Err())
		}
		dst.Destroy(true)
	}
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
