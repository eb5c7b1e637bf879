package abxbus_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/typedbus/abxbus-go/abxbus"
)

const (
	wbEventID = "01a20279-f147-73b3-ae9a-7a81a2cdd3d3"
	wbOtherID = "01a20279-f147-73b3-ae9a-7a81a2cdd3d4"
	wbHandler = "98dc1aae-798a-597c-8b2e-2c0511f4a81a"
	wbBusID   = "01a20279-f13b-7015-9fe0-7f1ea5d0e3a1"
)

// wbRow is a result row of handler wbHandler for event wbEventID with the given extra members.
func wbRow(extra string) string {
	return `{"` + wbHandler + `":{"id":"` + wbOtherID + `","status":"error","event_id":"` + wbEventID + `","handler_id":"` + wbHandler +
		`","handler_name":"h","eventbus_name":"B","eventbus_id":"` + wbBusID + `","event_children":[]` + extra + `}}`
}

func wbResultRow(t *testing.T, out []byte) map[string]json.RawMessage {
	t.Helper()
	var m struct {
		Results map[string]map[string]json.RawMessage `json:"event_results"`
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return m.Results[wbHandler]
}

// Issue 11 item 5, D7: a result error read as a plain string is written back as {"type","message"}; an
// error object is kept as it came.
func TestResultErrorStringWrittenAsObjectIssue11Item5D7(t *testing.T) {
	for in, want := range map[string]string{
		`"boom"`:                                `{"type":"Error","message":"boom"}`,
		`42`:                                    `{"type":"Error","message":"42"}`,
		`{"type":"ValueError","message":"bad"}`: `{"type":"ValueError","message":"bad"}`,
		`{"code":"E_CUSTOM"}`:                   `{"code":"E_CUSTOM"}`,
	} {
		e, err := abxbus.FromJSON([]byte(`{"event_type":"X","event_id":"` + wbEventID + `","event_results":` + wbRow(`,"error":`+in) + `}`))
		if err != nil {
			t.Fatal(err)
		}
		out := must[[]byte](t)(e.ToJSON())
		if got := string(wbResultRow(t, out)["error"]); got != want {
			t.Errorf("error %s written as %s, want %s", in, got, want)
		}
		back := must[*abxbus.BaseEvent](t)(abxbus.FromJSON(out))
		if again := must[[]byte](t)(back.ToJSON()); !bytes.Equal(again, out) {
			t.Errorf("unstable:\n%s\n%s", out, again)
		}
	}
}

// Issue 11 item 5, D17: a bus without an event timeout is written 0 (what TS reads as "disabled"), and
// null (or no key) in a bus dump restores the default 60 s, as TS does; the slow-warning levels read the
// same way (TS: null -> 300 s / 30 s).
func TestBusTimeoutZeroAndNullIssue11Item5D17(t *testing.T) {
	b := newBus(t, "NoLimits", &abxbus.Options{EventTimeout: abxbus.NoTimeout, EventSlowTimeout: abxbus.NoTimeout, HandlerSlowTimeout: abxbus.NoTimeout})
	var dump map[string]json.RawMessage
	if err := json.Unmarshal(must[[]byte](t)(b.ToJSON()), &dump); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"event_timeout", "event_slow_timeout", "event_handler_slow_timeout"} {
		if string(dump[k]) != "0" {
			t.Errorf("%s written as %s, want 0", k, dump[k])
		}
	}
	restored := must[*abxbus.Bus](t)(abxbus.BusFromJSON(must[[]byte](t)(b.ToJSON()), nil, nil))
	defer restored.Destroy(true)
	if d := restored.Defaults(); d.Timeout != abxbus.NoTimeout || d.SlowTimeout != abxbus.NoTimeout || d.HandlerSlowTimeout != abxbus.NoTimeout {
		t.Errorf("0 restored as %v %v %v, want disabled", d.Timeout, d.SlowTimeout, d.HandlerSlowTimeout)
	}
	for _, in := range []string{
		`{"name":"Def","event_timeout":null,"event_slow_timeout":null,"event_handler_slow_timeout":null}`,
		`{"name":"Def"}`,
	} {
		nb := must[*abxbus.Bus](t)(abxbus.BusFromJSON([]byte(in), nil, nil))
		d := nb.Defaults()
		nb.Destroy(true)
		if d.Timeout != 60*time.Second || d.SlowTimeout != 300*time.Second ||
			d.HandlerSlowTimeout != 30*time.Second {
			t.Errorf("%s restored as %v %v %v, want the defaults 60s 5m0s 30s", in, d.Timeout, d.SlowTimeout, d.HandlerSlowTimeout)
		}
	}
}

// D17, F10: an event's event_timeout null keeps meaning "unset": the processing bus's timeout applies,
// and it is written back as null.
func TestEventTimeoutNullStaysUnsetD17(t *testing.T) {
	ctx := tctx(t)
	e := must[*abxbus.BaseEvent](t)(abxbus.FromJSON([]byte(`{"event_type":"Waits","event_timeout":null}`)))
	if to := e.Options().Timeout; to != 0 {
		t.Fatalf("event_timeout null decoded as %v", to)
	}
	b := newBus(t, "Short", &abxbus.Options{EventTimeout: 30 * time.Millisecond})
	must[*abxbus.Handler](t)(b.OnType("Waits", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	must[*abxbus.BaseEvent](t)(b.Emit(ctx, e))
	if _, err := e.Result(ctx); !errors.Is(err, abxbus.ErrHandlerAborted) {
		t.Fatalf("handler under the bus timeout: %v, want aborted by the event timeout", err)
	}
	var m map[string]json.RawMessage
	json.Unmarshal(must[[]byte](t)(e.ToJSON()), &m)
	if string(m["event_timeout"]) != "null" {
		t.Fatalf("event_timeout written as %s", m["event_timeout"])
	}
}

// Issue 10 item 15: a timeout beyond int64 nanoseconds means "effectively none" (clamped to
// MaxTimeout): a 20 ms handler completes normally under every spelling of it, on a real bus.
func TestHugeTimeoutsDoNotAbortIssue10Item15(t *testing.T) {
	ctx := tctx(t)
	const huge = 9e9 // seconds: 9e18 ns fits int64, start + 9e18 ns does not
	for name, c := range map[string]struct {
		bus     abxbus.Options
		event   abxbus.EventOptions
		handler []abxbus.HandlerOption
		json    string
	}{
		"json event_timeout 9e9":           {json: `{"event_type":"Slow20","event_timeout":9e9}`},
		"json event_timeout 1e400":         {json: `{"event_type":"Slow20","event_timeout":1e400}`},
		"json event_handler_timeout 9e9":   {json: `{"event_type":"Slow20","event_handler_timeout":9e9}`},
		"9e9 s event":                      {event: abxbus.EventOptions{Timeout: time.Duration(huge * float64(time.Second))}},
		"MaxInt64 handler on event":        {event: abxbus.EventOptions{HandlerTimeout: math.MaxInt64}},
		"MaxInt64 event":                   {event: abxbus.EventOptions{Timeout: math.MaxInt64}},
		"MaxInt64 bus":                     {bus: abxbus.Options{EventTimeout: math.MaxInt64}},
		"9e9 s bus":                        {bus: abxbus.Options{EventTimeout: time.Duration(huge * float64(time.Second))}},
		"WithHandlerTimeout(MaxInt64)":     {handler: []abxbus.HandlerOption{abxbus.WithHandlerTimeout(math.MaxInt64)}},
		"WithHandlerTimeout(MaxTimeout+1)": {handler: []abxbus.HandlerOption{abxbus.WithHandlerTimeout(abxbus.MaxTimeout + 1)}},
	} {
		b := newBus(t, "Huge", &c.bus)
		must[*abxbus.Handler](t)(b.OnType("Slow20", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			select {
			case <-time.After(20 * time.Millisecond):
				return 7, nil
			case <-ctx.Done():
				return nil, context.Cause(ctx)
			}
		}, c.handler...))
		var e *abxbus.BaseEvent
		if c.json != "" {
			e = must[*abxbus.BaseEvent](t)(abxbus.FromJSON([]byte(c.json)))
		} else {
			e = must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("Slow20", nil))
			if err := e.SetOptions(c.event); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		must[*abxbus.BaseEvent](t)(b.Emit(ctx, e))
		if v, err := e.Result(ctx); err != nil || v != 7 {
			t.Errorf("%s: result %v, %v; want 7", name, v, err)
		}
		b.Destroy(true)
	}
}

// Issue 10 item 15, issue 12: a timeout longer than MaxTimeout is MaxTimeout wherever it is given (and
// reads back so), the smallest positive one stays a limit, and a negative duration other than NoTimeout
// is rejected with an error naming the field and the value (never "-1ns" for a large one).
func TestTimeoutBoundsIssue10Item15(t *testing.T) {
	b := newBus(t, "Bounds", &abxbus.Options{EventTimeout: math.MaxInt64})
	if d := b.Defaults().Timeout; d != abxbus.MaxTimeout {
		t.Errorf("Options.EventTimeout MaxInt64 = %v, want MaxTimeout", d)
	}
	for name, to := range map[string]time.Duration{
		"MaxTimeout+1": abxbus.MaxTimeout + 1, "MaxInt64": math.MaxInt64, "MaxTimeout": abxbus.MaxTimeout,
	} {
		e := must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("X", nil))
		if err := e.SetOptions(abxbus.EventOptions{Timeout: to, SlowTimeout: to}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if o := e.Options(); o.Timeout != abxbus.MaxTimeout || o.SlowTimeout != abxbus.MaxTimeout {
			t.Errorf("%s: options %v %v, want MaxTimeout", name, o.Timeout, o.SlowTimeout)
		}
		h := must[*abxbus.Handler](t)(b.OnType("X", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil },
			abxbus.WithHandlerTimeout(to)))
		if err := h.SetSlowTimeout(to); err != nil || h.Timeout() != abxbus.MaxTimeout || h.SlowTimeout() != abxbus.MaxTimeout {
			t.Errorf("%s: handler %v %v (%v), want MaxTimeout", name, h.Timeout(), h.SlowTimeout(), err)
		}
	}
	e := must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("X", nil))
	if err := e.SetOptions(abxbus.EventOptions{Timeout: time.Nanosecond}); err != nil || e.Options().Timeout != time.Nanosecond {
		t.Errorf("1ns = %v (%v), want 1ns (a tiny positive timeout is not 'disabled')", e.Options().Timeout, err)
	}
	for name, to := range map[string]time.Duration{
		"-1ns": -time.Nanosecond, "-1s": -time.Second, "-MaxTimeout*2": -2 * abxbus.MaxTimeout, "NoTimeout+1": abxbus.NoTimeout + 1,
	} {
		check := func(where, field string, err error) {
			t.Helper()
			if err == nil || !errors.Is(err, abxbus.ErrInvalidOption) || !strings.Contains(err.Error(), field) ||
				!strings.Contains(err.Error(), to.String()) {
				t.Errorf("%s %s: %v; want an error naming %s and %v", where, name, err, field, to)
			}
		}
		check("SetOptions", "event_timeout", must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("X", nil)).SetOptions(abxbus.EventOptions{Timeout: to}))
		check("SetOptions", "event_handler_timeout", must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("X", nil)).SetOptions(abxbus.EventOptions{HandlerTimeout: to}))
		check("SetOptions", "event_slow_timeout", must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("X", nil)).SetOptions(abxbus.EventOptions{SlowTimeout: to}))
		check("SetOptions", "event_handler_slow_timeout", must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("X", nil)).SetOptions(abxbus.EventOptions{HandlerSlowTimeout: to}))
		_, err := abxbus.New("B", &abxbus.Options{EventTimeout: to})
		check("New", "event_timeout", err)
		_, err = abxbus.New("B", &abxbus.Options{EventSlowTimeout: to})
		check("New", "event_slow_timeout", err)
		_, err = abxbus.New("B", &abxbus.Options{HandlerSlowTimeout: to})
		check("New", "event_handler_slow_timeout", err)
		_, err = b.OnType("X", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil }, abxbus.WithHandlerTimeout(to))
		check("WithHandlerTimeout", "handler_timeout", err)
		_, err = b.OnType("X", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil }, abxbus.WithHandlerSlowTimeout(to))
		check("WithHandlerSlowTimeout", "handler_slow_timeout", err)
		h := b.Handlers()[0]
		check("SetTimeout", "handler_timeout", h.SetTimeout(to))
		check("SetSlowTimeout", "handler_slow_timeout", h.SetSlowTimeout(to))
		_, err = abxbus.EmitWith(tctx(t), b, Ping{}, abxbus.EventOptions{Timeout: to})
		check("EmitWith", "event_timeout", err)
	}
	// JSON: beyond float64 clamps like any huge value, below it is the shortest timeout, both re-encode
	for in, want := range map[string]string{
		`9e9`: "3153600000", `1e400`: "3153600000", `1e-12`: "0.000000001", `1e-400`: "0.000000001", `0`: "0", `0e5`: "0",
	} {
		e, err := abxbus.FromJSON([]byte(`{"event_type":"X","event_timeout":` + in + `}`))
		if err != nil {
			t.Errorf("event_timeout %s: %v", in, err)
			continue
		}
		var m map[string]json.RawMessage
		json.Unmarshal(must[[]byte](t)(e.ToJSON()), &m)
		if string(m["event_timeout"]) != want {
			t.Errorf("event_timeout %s written as %s, want %s", in, m["event_timeout"], want)
		}
	}
	for _, in := range []string{`-1e400`, `-1e-400`, `-1`, `"5"`, `true`} {
		if _, err := abxbus.FromJSON([]byte(`{"event_type":"X","event_timeout":` + in + `}`)); err == nil || !strings.Contains(err.Error(), "event_timeout") {
			t.Errorf("event_timeout %s: %v, want an error naming it", in, err)
		}
	}
}

// Issue 11 item 4: BusFromJSON never queues an event twice, never keeps two entries for one id, and
// refuses what it would otherwise drop or misread, saying what is wrong.
func TestBusFromJSONStrictIssue11Item4(t *testing.T) {
	ev := func(id string) string { return `{"event_type":"Q","event_id":"` + id + `"}` }
	upper := strings.ToUpper(wbEventID)
	for in, want := range map[string]string{
		`{"name":"B","event_history":{"` + wbEventID + `":` + ev(wbEventID) + `},"pending_event_queue":["` + wbEventID + `","` + wbEventID + `"]}`: "pending_event_queue[1] lists " + wbEventID + " a second time",
		`{"name":"B","event_history":{"` + wbEventID + `":` + ev(wbEventID) + `},"pending_event_queue":["` + wbEventID + `","` + upper + `"]}`:     "pending_event_queue[1] lists " + wbEventID + " a second time",
		`{"name":"B","event_history":{"` + wbEventID + `":` + ev(wbEventID) + `,"` + wbEventID + `":` + ev(wbEventID) + `}}`:                       `key "` + wbEventID + `" appears more than once in event_history`,
		`{"name":"B","event_history":{"` + wbEventID + `":` + ev(wbEventID) + `,"` + upper + `":` + ev(wbEventID) + `}}`:                           "event " + wbEventID + " appears twice",
		`{"name":"B","event_history":{"` + wbOtherID + `":` + ev(wbEventID) + `}}`:                                                                 "event_history[" + wbOtherID + "]: key differs from its event_id " + wbEventID,
		`{"name":"B","event_history":{"` + wbOtherID + `":{"event_type":"Q"}}}`:                                                                    "event_id is missing",
		`{"name":"B","event_history":{"` + wbEventID + `":{"event_type":"Q","event_type":"R","event_id":"` + wbEventID + `"}}}`:                    `key "event_type" appears more than once`,
		`{"name":"B","event_history":{"` + wbEventID + `":{"event_type":"Q","event_id":"` + wbEventID + `","event_results":` + strings.TrimSuffix(wbRow(""), "}") + `,"` + wbHandler + `":` + strings.TrimPrefix(strings.TrimSuffix(wbRow(""), "}"), `{"`+wbHandler+`":`) + `}}}}`: `key "` + wbHandler + `" appears more than once in event_history.` + wbEventID + `.event_results`,
		`{"name":"B","name":"C"}`:               `key "name" appears more than once`,
		`{"name":"B","hAndlers":{}}`:            `unknown key "hAndlers" (keys are case-sensitive: did you mean "handlers"?)`,
		`{"name":"B","Pending_Event_Queue":[]}`: `unknown key "Pending_Event_Queue"`,
		`{"name":"B","extra":1}`:                `unknown key "extra"`,
		`[]`:                                    "not an object (got an array)",
		`"bus"`:                                 "not an object (got a string)",
		`7`:                                     "not an object (got a number)",
		`null`:                                  "not an object (got null)",
		``:                                      "bus JSON",
		`{"name":"B","handlers":[]}`:            "handlers: not an object (got an array)",
		`{"name":"B","handlers":{"` + wbHandler + `":[]}}`:                                                                                                                                 "handlers[" + wbHandler + "]: not an object (got an array)",
		`{"name":"B","handlers":{"` + wbHandler + `":{"id":"` + wbHandler + `","event_pattern":"Q","Handler_Name":"x"}}}`:                                                                  "Handler_Name: unknown handler key",
		`{"name":"B","handlers":{"` + wbHandler + `":{"id":"` + wbHandler + `","event_pattern":"Q"},"` + strings.ToUpper(wbHandler) + `":{"id":"` + wbHandler + `","event_pattern":"Q"}}}`: "are the same handler id",
		`{"name":"B","handlers":{"` + wbHandler + `":{"id":"` + wbHandler + `","event_pattern":"Q"}},"handlers_by_key":{"Q":["` + wbHandler + `"],"*":["` + wbHandler + `"]}}`:             "handlers_by_key lists handler " + wbHandler + " more than once",
		`{"name":"B","handlers_by_key":[]}`:                "handlers_by_key: not an object (got an array)",
		`{"name":"B","handlers_by_key":{"Q":"x"}}`:         "handlers_by_key[Q]: must be an array of ids, got a string",
		`{"name":"B","pending_event_queue":{}}`:            "pending_event_queue: must be an array of ids, got an object",
		`{"name":"B","pending_event_queue":[1]}`:           "pending_event_queue[0]: must be an id string, got a number",
		`{"name":"B","event_history":[]}`:                  "event_history: not an object (got an array)",
		`{"name":"B","max_history_drop":"yes"}`:            "max_history_drop",
		`{"name":"B","event_handler_detect_file_paths":1}`: "event_handler_detect_file_paths",
		`{"name":7}`: "name: must be a string",
	} {
		_, err := abxbus.BusFromJSON([]byte(in), nil, nil)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "Go value") {
			t.Errorf("BusFromJSON(%s)\n = %v\nwant an error containing %q", in, err, want)
		}
	}
	// a handler key in upper case is the same id as in handlers_by_key
	hb := must[*abxbus.Bus](t)(abxbus.BusFromJSON([]byte(`{"name":"B","handlers":{"`+strings.ToUpper(wbHandler)+`":{"id":"`+wbHandler+`","event_pattern":"Q"}},"handlers_by_key":{"Q":["`+wbHandler+`"]}}`), nil, nil))
	if hs := hb.Handlers(); len(hs) != 1 || hs[0].ID().String() != wbHandler {
		t.Errorf("upper-case handler key: %v", hs)
	}
	hb.Destroy(true)
	// a history key in upper case is the same id: accepted, written back in lower case
	b := must[*abxbus.Bus](t)(abxbus.BusFromJSON([]byte(`{"name":"B","event_history":{"`+upper+`":`+ev(wbEventID)+`},"pending_event_queue":["`+upper+`"]}`), nil, nil))
	defer b.Destroy(true)
	if b.QueueLen() != 1 || !strings.Contains(string(must[[]byte](t)(b.ToJSON())), `"pending_event_queue":["`+wbEventID+`"]`) {
		t.Fatalf("upper-case ids: queue %d", b.QueueLen())
	}
}

// Issue 11 item 4: an event object with a key given twice (at any level the bus reads) is refused,
// not read as "the last one wins".
func TestEventDuplicateKeysIssue11Item4(t *testing.T) {
	for in, want := range map[string]string{
		`{"event_type":"A","event_type":"B"}`: `key "event_type" appears more than once`,
		`{"event_type":"A","n":1,"n":2}`:      `key "n" appears more than once`,
		`{"event_type":"A","n":1,"\u006e":2}`: `key "n" appears more than once`,
		`{"event_type":"A","event_id":"` + wbEventID + `","event_results":` + wbRow(`,"status":"completed"`) + `}`: `key "status" appears more than once`,
		`{"event_type":"A","event_id":"` + wbEventID + `","event_results":{"` + wbHandler + `":` + strings.TrimPrefix(strings.TrimSuffix(wbRow(""), "}"), `{"`+wbHandler+`":`) +
			`,"` + strings.ToUpper(wbHandler) + `":` + strings.Replace(strings.TrimPrefix(strings.TrimSuffix(wbRow(""), "}"), `{"`+wbHandler+`":`), wbHandler, strings.ToUpper(wbHandler), 1) + `}}`: "has more than one result row",
	} {
		if _, err := abxbus.FromJSON([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("FromJSON(%s)\n = %v\nwant an error containing %q", in, err, want)
		}
	}
	// at any depth: a typed payload would silently keep the last one; I-JSON (RFC 7493) forbids them
	for in, want := range map[string]string{
		`{"event_type":"A","nested":{"k":1,"k":2}}`:               `key "k" appears more than once in nested`,
		`{"event_type":"A","list":[{"a":1},{"b":{"c":1,"c":2}}]}`: `key "c" appears more than once in list[1].b`,
		hexBytes(`{"event_type":"A","a\xff":1,"a\xfe":2}`):        "key \"a\uFFFD\" appears more than once",
	} {
		if _, err := abxbus.FromJSON([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("FromJSON(%q)\n = %v\nwant an error containing %q", in, err, want)
		}
	}
	if _, err := abxbus.FromJSON([]byte(`{"event_type":"A","n":{"k":1,"K":2},"m":[{"k":1},{"k":2}]}`)); err != nil {
		t.Errorf("keys differing in case, and the same key in sibling objects, are distinct: %v", err)
	}
}

// Issue 11 item 4: keys match exactly in typed payloads too: a key that differs from a field's JSON name
// only in case is an unknown key (kept and written back as it came), not that field's value, as the
// TypeScript peer reads it.
func TestTypedPayloadKeysAreCaseSensitiveIssue11Item4(t *testing.T) {
	reg := abxbus.NewRegistry()
	if err := abxbus.Register[Parent](reg); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]struct {
		name string
		keys []string
	}{
		`{"event_type":"Parent","NAME":"x"}`:            {"", []string{`"NAME":"x"`, `"name":""`}},
		`{"event_type":"Parent","name":"a","Name":"b"}`: {"a", []string{`"Name":"b"`, `"name":"a"`}},
		`{"event_type":"Parent","name":"a"}`:            {"a", []string{`"name":"a"`}},
	} {
		e := must[*abxbus.BaseEvent](t)(reg.Decode([]byte(in)))
		p, ok := abxbus.As[Parent](e)
		if !ok {
			t.Fatalf("%s: not typed", in)
		}
		if v := must[Parent](t)(p.Payload()); v.Name != want.name {
			t.Errorf("%s: Name = %q, want %q", in, v.Name, want.name)
		}
		out := string(must[[]byte](t)(e.ToJSON()))
		for _, k := range want.keys {
			if !strings.Contains(out, k) {
				t.Errorf("%s: written %s, want it to contain %s", in, out, k)
			}
		}
		if strings.Count(out, `"name"`)+strings.Count(out, `"NAME"`)+strings.Count(out, `"Name"`) != len(want.keys) {
			t.Errorf("%s: written %s, want exactly the keys %v", in, out, want.keys)
		}
	}
}

// Issue 11 item 3: invalid UTF-8 anywhere in the input (payload values and keys, result values,
// names, errors) is read as U+FFFD, byte by byte, so what is written is valid UTF-8 JSON and a second
// roundtrip writes the same bytes.
func TestInvalidUTF8Issue11Item3(t *testing.T) {
	row := `{"` + wbHandler + `":{"id":"` + wbOtherID + `","status":"completed","event_id":"` + wbEventID + `","handler_id":"` + wbHandler +
		`","handler_name":"h\xff","eventbus_name":"\xc2","eventbus_id":"` + wbBusID + `","event_children":[],"result":{"v":"r\xfe\xfe"},"error":"e\xe2\x82"}}`
	in := []byte(hexBytes(`{"event_type":"X","event_id":"` + wbEventID + `","p\xffk":"v\xc3\x28","nested":["\xf0\x9f\x98"],"event_results":` + row + `}`))
	e, err := abxbus.FromJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	out := must[[]byte](t)(e.ToJSON())
	if !utf8.Valid(out) || !json.Valid(out) {
		t.Fatalf("output is not valid UTF-8 JSON: %q", out)
	}
	const r = "\uFFFD"
	for _, want := range []string{`"p` + r + `k":"v` + r + `("`, `"nested":["` + r + r + r + `"]`, `"handler_name":"h` + r + `"`,
		`"eventbus_name":"` + r + `"`, `"result":{"v":"r` + r + r + `"}`, `"message":"e` + r + r + `"`} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	back := must[*abxbus.BaseEvent](t)(abxbus.FromJSON(out))
	if again := must[[]byte](t)(back.ToJSON()); !bytes.Equal(again, out) {
		t.Fatalf("unstable:\n%s\n%s", out, again)
	}
	// the same through a typed payload and a whole bus
	reg := abxbus.NewRegistry()
	if err := abxbus.Register[Parent](reg); err != nil {
		t.Fatal(err)
	}
	typed := must[*abxbus.BaseEvent](t)(reg.Decode([]byte(hexBytes(`{"event_type":"Parent","name":"n\xff","x\xfe":"y\xfd"}`))))
	tout := must[[]byte](t)(typed.ToJSON())
	if !utf8.Valid(tout) || !json.Valid(tout) || !bytes.Contains(tout, []byte("\"name\":\"n\uFFFD\"")) || !bytes.Contains(tout, []byte("\"x\uFFFD\":\"y\uFFFD\"")) {
		t.Fatalf("typed: %q", tout)
	}
	bus := must[*abxbus.Bus](t)(abxbus.BusFromJSON([]byte(`{"name":"B","event_history":{"`+wbEventID+`":`+string(in)+`}}`), nil, nil))
	defer bus.Destroy(true)
	bout := must[[]byte](t)(bus.ToJSON())
	if !utf8.Valid(bout) || !json.Valid(bout) {
		t.Fatalf("bus output: %q", bout)
	}
	bus2 := must[*abxbus.Bus](t)(abxbus.BusFromJSON(bout, nil, nil))
	defer bus2.Destroy(true)
	if again := must[[]byte](t)(bus2.ToJSON()); !bytes.Equal(again, bout) {
		t.Fatalf("bus unstable:\n%s\n%s", bout, again)
	}
	// Go values with invalid UTF-8 (a handler's result, a raw payload) are written valid too
	ctx := tctx(t)
	gb := newBus(t, "GoSide", nil)
	must[*abxbus.Handler](t)(gb.OnType("Raw", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return json.RawMessage("\"bad\xff\""), nil
	}))
	ge := must[*abxbus.BaseEvent](t)(gb.Emit(ctx, must[*abxbus.BaseEvent](t)(abxbus.NewBaseEvent("Raw", abxbus.JSONPayload{"k": json.RawMessage("\"v\xff\"")}))))
	if err := ge.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	gout := must[[]byte](t)(ge.ToJSON())
	if !utf8.Valid(gout) || !json.Valid(gout) {
		t.Fatalf("Go-side output: %q", gout)
	}
}

// hexBytes replaces each \xHH of s by that byte.
func hexBytes(s string) string {
	return regexp.MustCompile(`\\x[0-9a-f]{2}`).ReplaceAllStringFunc(s, func(m string) string {
		b, _ := strconv.ParseUint(m[2:], 16, 8)
		return string([]byte{byte(b)})
	})
}

// The TS fixtures keep decoding and re-encoding with the stricter decoders (D7), byte-stable after one
// pass.
func TestWireFixturesStableUnderStrictDecodeD7(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(wireFixtures, "bus_processed.json"))
	if err != nil {
		t.Fatal(err)
	}
	b := must[*abxbus.Bus](t)(abxbus.BusFromJSON(data, nil, nil))
	defer b.Destroy(true)
	out := must[[]byte](t)(b.ToJSON())
	b2 := must[*abxbus.Bus](t)(abxbus.BusFromJSON(out, nil, nil))
	defer b2.Destroy(true)
	if again := must[[]byte](t)(b2.ToJSON()); !bytes.Equal(out, again) {
		t.Fatalf("bus re-encode differs:\n%s\n%s", out, again)
	}
}
