package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
	"github.com/typedbus/abxbus-go/abxbus/middleware"
)

type walOrder struct {
	abxbus.Returns[string]
	ID string `json:"id"`
}

type walCharge struct {
	abxbus.Returns[int]
	Cents int `json:"cents"`
}

// writeWAL runs a small tree of events on a bus with a WAL and returns the WAL path and the bus's tree.
func writeWAL(t *testing.T) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "logs", "events.jsonl")
	w, err := middleware.OpenWAL(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := abxbus.New("Shop", &abxbus.Options{Middlewares: []abxbus.Middleware{w}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy(true)
	abxbus.On(b, func(ctx context.Context, o walOrder) (string, error) {
		if _, err := abxbus.CallChild(ctx, walCharge{Cents: 100}); err != nil {
			return "", err
		}
		return "ok " + o.ID, nil
	})
	abxbus.On(b, func(ctx context.Context, c walCharge) (int, error) { return c.Cents, nil })
	for _, id := range []string{"a", "b"} {
		if _, err := abxbus.Call(ctx, b, walOrder{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path, b.LogTree()
}

func TestTreeCommand(t *testing.T) {
	path, live := writeWAL(t)
	// a torn last line, as a killed writer leaves it
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"event_type":"walOrder","ev`)
	f.Close()
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"tree", path}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	// the same tree as the bus printed, under the file's name
	_, body, _ := strings.Cut(live, "\n")
	want := "📊 Event History Tree for events.jsonl\n" + body + "\n"
	if out.String() != want {
		t.Errorf("tree:\n%s\nwant:\n%s", out.String(), want)
	}
	if !strings.Contains(errOut.String(), "torn last line 5 at offset") {
		t.Errorf("stderr: %s", errOut.String())
	}
}

func TestReplayCommand(t *testing.T) {
	path, _ := writeWAL(t)
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"replay", path, "--type", "walCh*"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], ` walCharge `) || !strings.HasSuffix(lines[0], `{"cents":100}`) {
		t.Errorf("stdout:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "4 events read, 2 replayed, 2 filtered out") {
		t.Errorf("stderr: %s", errOut.String())
	}
	if code := Main(context.Background(), []string{"replay", path, "--since", "yesterday"}, &out, &errOut); code == 0 {
		t.Errorf("a bad --since was accepted")
	}
}

var replayRuns atomic.Int32

func TestReplayCommandTo(t *testing.T) {
	path, _ := writeWAL(t)
	dst := filepath.Join(t.TempDir(), "out.jsonl")
	// The bridge registry lasts for the process: each run (-count=N) registers a scheme of its own.
	scheme := fmt.Sprintf("replaytest%d", replayRuns.Add(1))
	err := bridges.Register(scheme, func(ctx context.Context, addr *url.URL, opts bridges.OpenOptions) (bridges.Bridge, error) {
		br, err := jsonl.New(dst, nil)
		if err != nil {
			return nil, err
		}
		return featureless{br}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"replay", path, "--to", scheme + "://x"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	data, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n != 4 || out.Len() != 0 {
		t.Errorf("%d lines forwarded, stdout %q", n, out.String())
	}
	if code := Main(context.Background(), []string{"replay", path, "--to", "nosuch://x"}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "no bridge for scheme") {
		t.Errorf("unknown scheme: %s", errOut.String())
	}
}

// featureless adapts the JSONL bridge to the Bridge contract for this test.
type featureless struct{ *jsonl.Bridge }

func (featureless) Features() bridges.Features { return bridges.Features{Ordered: true} }
