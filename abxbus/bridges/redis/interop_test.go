package redis_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	redisbridge "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
	"github.com/typedbus/abxbus-go/internal/tspeer"
)

const interopN = 300

// TS emits N on the channel, the Go listener receives N in order, once each.
func TestInteropTSEmitsGoReceives(t *testing.T) {
	tspeer.Require(t)
	srv := startRedis(t, false)
	url := srv.URL() + "/0/interop_ts_to_go"
	recv, err := redisbridge.New(url, &redisbridge.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	got := newCollector()
	if _, err := recv.On("Ping", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		got.Add(seqOf(t, e))
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 60*time.Second)
	cmd := tspeer.Command(ctx, t, "redispeer.mjs", "emit", url, strconv.Itoa(interopN))
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("TS emitter: %v %s", err, out)
	}
	seqs := got.WaitCount(interopN, 20*time.Second)
	var emitted []int
	for i := range interopN {
		emitted = append(emitted, i)
	}
	c := countOf(emitted, seqs)
	t.Logf("TS -> Go: %v", c)
	if c.lost != 0 || c.duplicated != 0 || len(seqs) != interopN {
		t.Fatalf("%v", c)
	}
	for i, s := range seqs {
		if s != i {
			t.Fatalf("out of order at %d: %v", i, seqs[max(0, i-3):i+1])
		}
	}
}

// tsListener starts the TS listener and waits until its subscription is verified.
func tsListener(t *testing.T, ctx context.Context, url string, n int, linger time.Duration) (wait func() (seqs []int, types []string)) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "ts.json")
	cmd := tspeer.Command(ctx, t, "redispeer.mjs", "listen", url, strconv.Itoa(n), out, strconv.Itoa(int(linger/time.Millisecond)))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("TS listener did not start: %q %v", line, err)
	}
	return func() ([]int, []string) {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("TS listener: %v", err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Seqs  []int    `json:"seqs"`
			Types []string `json:"types"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return r.Seqs, r.Types
	}
}

// Go emits N (directly and through the documented wiring of an application bus), TS receives N in
// order.
func TestInteropGoEmitsTSReceives(t *testing.T) {
	tspeer.Require(t)
	srv := startRedis(t, false)
	url := srv.URL() + "/0/interop_go_to_ts"
	ctx := ctxT(t, 60*time.Second)
	wait := tsListener(t, ctx, url, interopN, 0)
	send, err := redisbridge.New(url, &redisbridge.Options{RequireSubscriber: true})
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	app, err := abxbus.New("GoApp", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Destroy(true)
	app.OnType("*", send.Forward)
	var emitted []int
	for i := range interopN {
		if i%2 == 0 {
			if err := send.Emit(ctx, abxbus.NewEvent(Ping{Seq: i}).Base()); err != nil {
				t.Fatal(err)
			}
		} else {
			e, err := abxbus.Emit(ctx, app, Ping{Seq: i})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Now(ctx); err != nil {
				t.Fatal(err)
			}
			if r := e.EventResults(); len(r) != 1 || r[0].Err() != nil {
				t.Fatalf("forward of %d: %v", i, r[0].Err())
			}
		}
		emitted = append(emitted, i)
	}
	seqs, _ := wait()
	c := countOf(emitted, seqs)
	t.Logf("Go -> TS: %v", c)
	if c.lost != 0 || c.duplicated != 0 {
		t.Fatalf("%v", c)
	}
	for i, s := range seqs {
		if s != i {
			t.Fatalf("out of order at %d: %v", i, seqs[max(0, i-3):i+1])
		}
	}
}

// The Go-only extensions (a stream named like the channel, calls) are invisible to a TS listener on
// the channel: it receives only the pub/sub event and keeps running.
func TestInteropTSListenerUnaffectedByStreamsAndCalls(t *testing.T) {
	tspeer.Require(t)
	srv := startRedis(t, false)
	ctx := ctxT(t, 60*time.Second)
	wait := tsListener(t, ctx, srv.URL(), 1, 500*time.Millisecond) // channel abxbus_events
	st := streamsBridge(t, srv.URL(), "g", "w", nil)               // stream abxbus_events
	emitN(t, ctx, st, 0, 10)
	startCallServer(t, srv.URL())
	cl, err := redisbridge.NewClient(srv.URL(), &redisbridge.ClientOptions{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 5 {
		if _, err := redisbridge.Call(ctx, cl, Add{A: i}); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := redisbridge.New(srv.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close()
	if err := ps.Emit(ctx, abxbus.NewEvent(Ping{Seq: 42}).Base()); err != nil {
		t.Fatal(err)
	}
	seqs, types := wait()
	if len(seqs) != 1 || seqs[0] != 42 || types[0] != "Ping" {
		t.Fatalf("TS received %v %v, want only the pub/sub event 42", seqs, types)
	}
}
