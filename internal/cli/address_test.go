package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader on different goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// clitestListen records the Listen option the last "clitest" bridge was opened with.
var clitestListen atomic.Bool

// "clitest://PATH" is a JSONL bridge under another scheme: emit and tail reach it through
// bridges.Open, as they reach every non-file bridge.
func init() {
	err := bridges.Register("clitest", func(_ context.Context, u *url.URL, o bridges.OpenOptions) (bridges.Bridge, error) {
		if o.Listen {
			clitestListen.Store(true)
		}
		return jsonl.New(u.Path, &jsonl.Options{Name: o.Name, Logger: o.Logger, FromStart: true, PollInterval: 2 * time.Millisecond})
	})
	if err != nil {
		panic(err) // test setup
	}
}

// tailAsync runs tail in the background; the returned function waits for its output.
func tailAsync(t *testing.T, ctx context.Context, args ...string) func() (string, string, int) {
	type res struct {
		out, errs string
		code      int
	}
	done := make(chan res, 1)
	go func() {
		var out, errb bytes.Buffer
		code := Main(ctx, append([]string{"tail"}, args...), &out, &errb)
		done <- res{out.String(), errb.String(), code}
	}()
	return func() (string, string, int) { r := <-done; return r.out, r.errs, r.code }
}

// Issue 15 item 9: emit and tail take a bridge address; the scheme picks the bridge.
func TestEmitTailAddressesIssue15Item9(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	path := filepath.Join(dir, "bus.jsonl")
	for i, addr := range []string{path, "file://" + path, "jsonl://" + path} {
		if out, errs, code := run(t, ctx, "emit", addr, "--type", "Num", "--payload", `{"n":`+string(rune('0'+i))+`}`); code != 0 || len(strings.TrimSpace(out)) != 36 {
			t.Fatalf("emit %s: %d %q %q", addr, code, out, errs)
		}
	}
	for _, addr := range []string{path, "file://" + path, "jsonl://" + path} {
		out, errs, code := run(t, ctx, "tail", addr, "--from-start", "--count", "3", "--json")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 3 {
			t.Fatalf("tail %s: %d %q %q", addr, code, out, errs)
		}
		for i, l := range lines {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil || m["event_type"] != "Num" || m["n"] != float64(i) {
				t.Fatalf("tail %s --json line %d: %q (%v)", addr, i, l, err)
			}
		}
	}

	// Through bridges.Open (another scheme): tail prints the events as the bridge received them.
	other := filepath.Join(dir, "other.jsonl")
	wait := tailAsync(t, ctx, "clitest://"+other, "--json", "--listen", "--count", "2")
	time.Sleep(50 * time.Millisecond)
	for _, p := range []string{`{"n":10}`, `{"n":11,"event_type":"Other"}`} {
		if out, errs, code := run(t, ctx, "emit", "clitest://"+other, "--type", "Num", "--payload", p); code != 0 {
			t.Fatalf("emit clitest: %d %q %q", code, out, errs)
		}
	}
	out, errs, code := wait()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("tail clitest: %d %q %q", code, out, errs)
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		path, _ := m["event_path"].([]any)
		if m["n"] != float64(10+i) || m["event_type"] != []string{"Num", "Other"}[i] || m["event_status"] != "pending" ||
			len(path) != 1 || !strings.HasPrefix(path[0].(string), "AbxbusTail#") {
			t.Fatalf("tail clitest line %d: %q", i, l)
		}
	}
	if !clitestListen.Load() {
		t.Error("--listen did not reach the bridge's OpenOptions")
	}

	// Plain lines for a bridge too.
	wait = tailAsync(t, ctx, "clitest://"+other, "--count", "1")
	if out, _, code := wait(); code != 0 || !strings.Contains(out, " Num ") || !strings.Contains(out, " pending ") || !strings.HasSuffix(strings.TrimSpace(out), `{"n":10}`) {
		t.Fatalf("plain tail clitest: %d %q", code, out)
	}

	for _, bad := range [][]string{
		{"emit", "nosuch://x", "--type", "Num"},
		{"tail", "nosuch://x"},
		{"tail", "clitest://" + other, "--cursor", filepath.Join(dir, "c")},
		{"tail", "clitest://" + other, "--from-start"},
		{"tail", "file://otherhost/x.jsonl"},
		{"tail", "jsonl://" + path + "?cursor=x"},
		{"emit", "jsonl://" + path + "?colour=red", "--type", "Num"},
		{"emit", path, "--type", "Num", "extra"},
	} {
		if _, errs, code := run(t, ctx, bad...); code == 0 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", bad, code, errs)
		}
	}
	if _, errs, _ := run(t, ctx, "tail", "nosuch://x"); !strings.Contains(errs, "no bridge for scheme") || !strings.Contains(errs, "jsonl") {
		t.Errorf("unknown scheme: stderr %q, want the registered schemes listed", errs)
	}
}

// emit --stdin stops waiting for input when its context ends (Ctrl-C: the CLI's context), after sending
// the lines it had.
func TestEmitStdinStopsAtContextEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	pr, pw := io.Pipe()
	defer pw.Close() // lets the line reader end (a blocked read cannot be interrupted)
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() { done <- runEmitFrom(ctx, []string{path, "--stdin", "--type", "Num"}, pr, &out, &errb) }()
	if _, err := io.WriteString(pw, `{"n":1}`+"\n"+`{"n":2}`+"\n"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(strings.Fields(out.String())) < 2; {
		if time.Now().After(deadline) {
			t.Fatalf("the two lines were not sent: %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stdin line 3") {
			t.Fatalf("err = %v, want context.Canceled at stdin line 3", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("emit --stdin went on waiting for input after its context ended")
	}
}

// emit --stdin sends one event per line: payloads take --type, whole events keep theirs; a bad line
// stops with its line number after the earlier ones were sent.
func TestEmitStdin(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	in := `{"n":1}` + "\n\n" + `{"event_type":"Other","n":2}` + "\n" + `[3]` + "\n" + `{"n":4}` + "\n"
	var out, errb bytes.Buffer
	err := runEmitFrom(ctx, []string{path, "--stdin", "--type", "Num"}, strings.NewReader(in), &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "stdin line 4") {
		t.Fatalf("err = %v, want the bad line 4 named", err)
	}
	if n := len(strings.Fields(out.String())); n != 2 {
		t.Fatalf("%d ids printed, want 2: %q", n, out.String())
	}
	tout, _, code := run(t, ctx, "tail", path, "--from-start", "--count", "2")
	lines := strings.Split(strings.TrimSpace(tout), "\n")
	if code != 0 || len(lines) != 2 || !strings.Contains(lines[0], " Num ") || !strings.Contains(lines[1], " Other ") {
		t.Fatalf("tail: %q", tout)
	}
	if err := runEmitFrom(ctx, []string{path, "--stdin"}, strings.NewReader(`{"n":1}`+"\n"), &out, &errb); err == nil || !strings.Contains(err.Error(), "no event_type") {
		t.Fatalf("a line without a type and no --type: err = %v", err)
	}
}
