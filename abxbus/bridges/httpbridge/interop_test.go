package httpbridge_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
	"github.com/typedbus/abxbus-go/internal/tspeer"
)

// tsListener starts `node netbridges.mjs <cmd> <target> <n> <out>` and waits for its "ready".
func tsListener(t testing.TB, ctx context.Context, cmd, target string, n int) (wait func() []map[string]any) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "received.json")
	c := tspeer.Command(ctx, t, "netbridges.mjs", cmd, target, strconv.Itoa(n), out)
	var stderr bytes.Buffer // the TS listener logs a stack for every refused event
	c.Stderr = &stderr
	stdout, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		c.Process.Kill()
		c.Wait()
		t.Fatalf("TS listener did not start: %q %v", line, err)
	}
	return func() []map[string]any {
		t.Helper()
		if err := c.Wait(); err != nil {
			t.Fatalf("TS listener: %v\n%s", err, stderr.Bytes())
		}
		raw, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var evs []map[string]any
		if err := json.Unmarshal(raw, &evs); err != nil {
			t.Fatal(err)
		}
		return evs
	}
}

type emitReport struct {
	OK     int `json:"ok"`
	Errors []struct {
		Seq   int    `json:"seq"`
		Error string `json:"error"`
	} `json:"errors"`
	Ms int `json:"ms"`
}

// tsEmit runs `node netbridges.mjs <cmd> <target> <n> [blob]` and returns its report.
func tsEmit(t testing.TB, ctx context.Context, cmd, target string, n, blob int) emitReport {
	t.Helper()
	c := tspeer.Command(ctx, t, "netbridges.mjs", cmd, target, strconv.Itoa(n), strconv.Itoa(blob))
	out, err := c.Output()
	if err != nil {
		t.Fatalf("TS emitter: %v", err)
	}
	var rep emitReport
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("TS emitter output %q: %v", out, err)
	}
	return rep
}

// checkPings checks that evs are IPCPingEvents 0..n-1 in order with intact payloads.
func checkPings(t testing.TB, evs []map[string]any, n int, note string, blob int) {
	t.Helper()
	if len(evs) != n {
		t.Fatalf("received %d events, want %d", len(evs), n)
	}
	for i, e := range evs {
		seq, _ := e["seq"].(float64)
		b, _ := e["blob"].(string)
		if int(seq) != i || e["label"] != fmt.Sprintf("ping_%d", i) || e["note"] != note || e["event_type"] != "IPCPingEvent" || len(b) != blob {
			t.Fatalf("event %d: seq %v label %v note %q type %v blob %d bytes", i, e["seq"], e["label"], e["note"], e["event_type"], len(b))
		}
	}
}

// F246, issue 15 item 7: TS emits N, Go receives N in order; Go emits N, TS receives N; payloads intact.
func TestInteropTSToGo(t *testing.T) {
	tspeer.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	br, c := newListener(t, &httpbridge.Options{MaxBodyBytes: 16 << 20})
	const n = 200
	rep := tsEmit(t, ctx, "http-emit", br.ListenURL(), n, 0)
	if rep.OK != n || len(rep.Errors) != 0 {
		t.Fatalf("TS emitter: %+v", rep)
	}
	c.wait(t, n, 10*time.Second)
	c.mu.Lock()
	evs := c.evs
	c.mu.Unlock()
	checkPings(t, evs, n, "from TS → Go ✓", 0)
	// The TS emitter's direct emit sends event_path [] (ts-bridges.md); the listener's bus joins it.
	if p, _ := evs[0]["event_path"].([]any); len(p) != 1 || !strings.HasPrefix(p[0].(string), "HTTPEventBridge#") {
		t.Fatalf("event_path %v", evs[0]["event_path"])
	}
	// A 10 MB event from TS.
	rep = tsEmit(t, ctx, "http-emit", br.ListenURL(), 1, 10<<20)
	if rep.OK != 1 {
		t.Fatalf("10 MB from TS: %+v", rep)
	}
	c.wait(t, n+1, 20*time.Second)
	c.mu.Lock()
	b, _ := c.evs[n]["blob"].(string)
	c.mu.Unlock()
	if len(b) != 10<<20 {
		t.Fatalf("10 MB from TS arrived with %d bytes", len(b))
	}
	// A TS emitter gets an error, not a silent loss, for an event above the Go listener's limit.
	small, _ := newListener(t, &httpbridge.Options{MaxBodyBytes: 1 << 20})
	rep = tsEmit(t, ctx, "http-emit", small.ListenURL(), 1, 2<<20)
	if rep.OK != 0 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0].Error, "413") {
		t.Fatalf("TS emitter above the limit: %+v", rep)
	}
}

func TestInteropGoToTS(t *testing.T) {
	tspeer.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	url := "http://127.0.0.1:" + strconv.Itoa(freePort(t)) + "/abxbus_events"
	const n = 200
	wait := tsListener(t, ctx, "http-listen", url, n+1)
	em := newEmitter(t, url, &httpbridge.Options{MaxBodyBytes: 16 << 20, RetryBackoff: time.Millisecond})
	// A TS listener answers 500 to an event its schema rejects (seq is not a number): the Go emitter
	// gets an error naming the status and the URL, and the TS listener goes on.
	bad, err := abxbus.FromJSON([]byte(`{"event_type":"IPCPingEvent","seq":"x","label":"bad"}`))
	if err != nil {
		t.Fatal(err)
	}
	err = em.Emit(ctx, bad)
	var se *httpbridge.SendError
	if !errors.As(err, &se) || se.Status != 500 || !strings.Contains(err.Error(), url) {
		t.Fatalf("invalid event to TS: %v", err)
	}
	for i := range n {
		if err := em.Emit(ctx, ping(i)); err != nil {
			t.Fatal(err)
		}
	}
	blob := strings.Repeat("b", 10<<20)
	big := abxbus.NewEvent(IPCPingEvent{Seq: n, Label: fmt.Sprintf("ping_%d", n), Note: "from Go → TS ✓", Blob: blob}).Base()
	if err := em.Emit(ctx, big); err != nil {
		t.Fatal(err)
	}
	evs := wait()
	checkPings(t, evs[:n], n, "from Go → TS ✓", 0)
	if b, _ := evs[n]["blob"].(string); b != blob {
		t.Fatalf("10 MB to TS arrived with %d bytes", len(b))
	}
}
