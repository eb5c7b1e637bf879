package otel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
	abxotel "github.com/typedbus/abxbus-go/abxbus/middleware/otel"
)

const receiverEnv = "ABXBUS_OTEL_TEST_RECEIVER"

func init() {
	// The receiving process of TestTraceContinuesAcrossBridge: the test binary run again with the
	// JSONL file in the environment.
	if path := os.Getenv(receiverEnv); path != "" {
		os.Exit(receiver(path))
	}
}

type spanLine struct {
	Name    string `json:"name"`
	Trace   string `json:"trace"`
	Span    string `json:"span"`
	Parent  string `json:"parent"`
	Remote  bool   `json:"remote"`
	Handled int    `json:"handled"`
}

// receiver follows the JSONL file from its start with a traced bus, handles one Work, and prints the
// spans it recorded as JSON lines.
func receiver(path string) int {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	tr, err := abxotel.New(&abxotel.Options{TracerProvider: tp})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	inbox, _ := abxbus.New("Warehouse", &abxbus.Options{Middlewares: []abxbus.Middleware{tr}, Logger: quiet})
	defer inbox.Destroy(true)
	got := make(chan *abxbus.BaseEvent, 1)
	abxbus.On(inbox, func(ctx context.Context, w Work) (int, error) {
		got <- abxbus.EventFromContext(ctx)
		return w.N, nil
	}, abxbus.WithName("pack"))
	recv, err := jsonl.New(path, &jsonl.Options{PollInterval: 5 * time.Millisecond, FromStart: true, Logger: quiet})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer recv.Close()
	recv.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return inbox.Emit(ctx, e) })
	if err := recv.Start(); err != nil {
		fmt.Println(err)
		return 1
	}
	var e *abxbus.BaseEvent
	select {
	case e = <-got:
	case <-time.After(20 * time.Second):
		fmt.Println("timeout")
		return 1
	}
	if err := e.Wait(context.Background()); err != nil {
		fmt.Println(err)
		return 1
	}
	for _, s := range exp.GetSpans() {
		line, _ := json.Marshal(spanLine{Name: s.Name, Trace: s.SpanContext.TraceID().String(), Span: s.SpanContext.SpanID().String(),
			Parent: s.Parent.SpanID().String(), Remote: s.Parent.IsRemote()})
		fmt.Println(string(line))
	}
	return 0
}

// TestTraceContinuesAcrossBridge (F242): an event sent through a JSONL bridge carries the W3C trace
// context of its span as "traceparent" beside its payload; a second process receiving it continues the
// trace: its event span has the same trace id and the sender's event span as (remote) parent.
func TestTraceContinuesAcrossBridge(t *testing.T) {
	exp, tp := recorder(t)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	shop := newBus(t, "Shop", newTracer(t, tp), nil)
	send, err := jsonl.New(path, &jsonl.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	shop.OnType("*", send.Forward, abxbus.WithName("to_bridge"))
	e, _ := abxbus.Emit(context.Background(), shop, Work{N: 7})
	if err := e.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	sender := span(t, exp.GetSpans(), "Work", "Shop")

	line, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(line), &obj); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("00-%s-%s-01", sender.SpanContext.TraceID(), sender.SpanContext.SpanID())
	if obj["traceparent"] != want || obj["n"] != 7.0 {
		t.Fatalf("bridge line %s: traceparent %v, want %s", line, obj["traceparent"], want)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), receiverEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("receiver: %v\n%s", err, out)
	}
	spans := map[string]spanLine{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var s spanLine
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatalf("receiver said %q", l)
		}
		spans[s.Name] = s
	}
	work, pack := spans["Work"], spans["pack"]
	if len(spans) != 2 || work.Trace != sender.SpanContext.TraceID().String() ||
		work.Parent != sender.SpanContext.SpanID().String() || !work.Remote ||
		pack.Parent != work.Span || pack.Trace != work.Trace {
		t.Fatalf("receiver spans %+v; sender event span %s/%s", spans, sender.SpanContext.TraceID(), sender.SpanContext.SpanID())
	}
}

// TestTraceContextAcceptedByTypeScript: the TypeScript runtime (abxbus@2.5.56) accepts an event
// carrying traceparent/tracestate and writes them back unchanged (they are unknown payload keys there).
func TestTraceContextAcceptedByTypeScript(t *testing.T) {
	peerDir := "../../../testdata/interop"
	if _, err := exec.LookPath("node"); err != nil {
		needInterop(t, "node is not installed")
	}
	if _, err := os.Stat(filepath.Join(peerDir, "node_modules", "abxbus")); err != nil {
		needInterop(t, "the TS peer is not installed (make interop-deps)")
	}
	_, tp := recorder(t)
	bus := newBus(t, "Shop", newTracer(t, tp), nil)
	abxbus.On(bus, func(ctx context.Context, w Work) (int, error) { return w.N, nil })
	e, _ := abxbus.Emit(context.Background(), bus, Work{N: 1})
	if err := e.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.Base().SetWireKey("tracestate", json.RawMessage(`"vendor=abc"`)); err != nil {
		t.Fatal(err)
	}
	js, err := e.Base().ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.json"), filepath.Join(dir, "out.json")
	os.WriteFile(in, append(append([]byte("["), js...), ']'), 0o644)
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "peer.mjs", "roundtrip-events", abs(in), abs(out))
	cmd.Dir = peerDir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("TS peer refused the event: %v\n%s\n%s", err, b, js)
	}
	raw, _ := os.ReadFile(out)
	var back []map[string]any
	if err := json.Unmarshal(raw, &back); err != nil || len(back) != 1 {
		t.Fatalf("TS wrote %s", raw)
	}
	tpWant := strings.Trim(string(e.Base().WireKey("traceparent")), `"`)
	if back[0]["traceparent"] != tpWant || back[0]["tracestate"] != "vendor=abc" || back[0]["event_id"] != e.ID().String() {
		t.Fatalf("TS wrote back %v; want traceparent %s", back[0], tpWant)
	}
	// And the Go side reads what TS wrote.
	evJSON, _ := json.Marshal(back[0])
	dec, err := abxbus.FromJSON(evJSON)
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.SpanContextFromContext(abxotel.Extract(context.Background(), dec, nil))
	if !sc.IsValid() || "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-01" != tpWant {
		t.Fatalf("Extract after the TS round trip: %v", sc)
	}
}

func needInterop(t *testing.T, why string) {
	t.Helper()
	for _, env := range []string{"ABXBUS_REQUIRE_INTEROP", "CI"} {
		if on, _ := strconv.ParseBool(os.Getenv(env)); on {
			t.Fatalf("%s and %s is set", why, env)
		}
	}
	t.Skip(why)
}
