package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func run(t *testing.T, ctx context.Context, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

// emit appends lines; tail prints them (human and --json); bad input is an error with a non-zero exit.
func TestEmitAndTail(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "sub", "bus.jsonl")
	tailed := make(chan string, 1)
	go func() {
		out, errs, code := run(t, ctx, "tail", path, "--count", "2", "--poll", "2ms")
		if code != 0 {
			out = "exit " + errs
		}
		tailed <- out
	}()
	for _, p := range []string{`{"n":1}`, `{"n":2}`} {
		// the follower starts at the end of the file: wait until it exists before writing
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			if _, err := os.Stat(filepath.Dir(path)); err == nil || time.Now().After(deadline) {
				break
			}
			os.MkdirAll(filepath.Dir(path), 0o755)
		}
		time.Sleep(20 * time.Millisecond)
		if out, errs, code := run(t, ctx, "emit", path, "--type", "Num", "--payload", p); code != 0 || len(strings.TrimSpace(out)) != 36 {
			t.Fatalf("emit: %d %q %q", code, out, errs)
		}
	}
	got := <-tailed
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], " Num ") || !strings.HasSuffix(lines[1], `{"n":2}`) {
		t.Fatalf("tail printed %q", got)
	}
	out, _, code := run(t, ctx, "tail", path, "--from-start", "--count", "1", "--json")
	var m map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil || m["event_type"] != "Num" {
		t.Fatalf("tail --json: %d %q", code, out)
	}
	for _, bad := range [][]string{
		{"emit", path},
		{"emit", path, "--type", "Num", "--payload", "[1]"},
		{"emit", path, "--type", "Num", "--payload", `{"event_bogus":1}`},
		{"tail"},
	} {
		if _, errs, code := run(t, ctx, bad...); code == 0 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", bad, code, errs)
		}
	}
}

// roundtrip events/bus keeps every key of the TS fixtures; bad files are errors.
func TestRoundtripCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fix := tsFixtureDir(t)
	for _, c := range []struct{ mode, file string }{{"events", "processed_events.json"}, {"events", "roundtrip_events.json"}, {"bus", "bus_processed.json"}} {
		out := filepath.Join(dir, c.file)
		if _, errs, code := run(t, ctx, "roundtrip", c.mode, fix+c.file, out); code != 0 {
			t.Fatalf("%s: %s", c.file, errs)
		}
		in, _ := os.ReadFile(fix + c.file)
		got, _ := os.ReadFile(out)
		var a, b any
		json.Unmarshal(in, &a)
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatal(err)
		}
		if !containsAll(a, b) {
			t.Errorf("%s: an original key changed", c.file)
		}
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`[{"event_status":"exploded"}]`), 0o644)
	if _, errs, code := run(t, ctx, "roundtrip", "events", bad, filepath.Join(dir, "x")); code == 0 || !strings.Contains(errs, "event_status") {
		t.Fatalf("bad input: %d %s", code, errs)
	}
	if _, _, code := run(t, ctx, "roundtrip", "neither", bad, bad); code == 0 {
		t.Fatal("bad mode accepted")
	}
}

// containsAll reports whether every key of want is in got with an equal value (recursively for objects).
func containsAll(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !containsAll(v, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !containsAll(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	return bytes.Equal(wj, gj)
}

// Issue 11 item 10: tail on something that is not a readable file (a directory) exits non-zero at once
// with a message naming the path, instead of looping silently.
func TestTailOnDirectoryFailsItem10(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dir := t.TempDir()
	start := time.Now()
	_, errs, code := run(t, ctx, "tail", dir, "--poll", "2ms")
	if code == 0 || !strings.Contains(errs, dir) || !strings.Contains(errs, "directory") {
		t.Fatalf("tail on a directory: exit %d, stderr %q", code, errs)
	}
	if ctx.Err() != nil || time.Since(start) > 5*time.Second {
		t.Fatalf("tail on a directory ran until the deadline")
	}
}

// Issue 11 item 11: tail --cursor resumes after the last event an earlier run printed; a torn line
// and a bad line are reported on stderr with their offsets and the events around them are printed
// (item 8).
func TestTailCursorAndBadLinesItem11(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dir := t.TempDir()
	path, cursor := filepath.Join(dir, "bus.jsonl"), filepath.Join(dir, "tail.cursor")
	emit := func(p string) {
		t.Helper()
		if out, errs, code := run(t, ctx, "emit", path, "--type", "Num", "--payload", p); code != 0 {
			t.Fatalf("emit: %d %q %q", code, out, errs)
		}
	}
	emit(`{"n":1}`)
	emit(`{"n":2}`)
	out, errs, code := run(t, ctx, "tail", path, "--from-start", "--cursor", cursor, "--count", "1", "--json")
	if code != 0 || !strings.Contains(out, `"n":1`) || strings.Contains(out, `"n":2`) {
		t.Fatalf("first run: %d %q %q", code, out, errs)
	}
	appendRaw := func(s string) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(s)
		f.Close()
	}
	appendRaw(`{"event_type":"Num","event_id":"01a2`) // a writer stopped mid-line
	emit(`{"n":3}`)                                   // lands on the same physical line
	appendRaw("not json\n")
	emit(`{"n":4}`)
	out, errs, code = run(t, ctx, "tail", path, "--from-start", "--cursor", cursor, "--count", "3", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.Contains(lines[0], `"n":2`) || !strings.Contains(lines[1], `"n":3`) ||
		!strings.Contains(lines[2], `"n":4`) {
		t.Fatalf("second run: %d %q %q", code, out, errs)
	}
	if !strings.Contains(errs, "torn line") {
		t.Fatalf("torn line not reported: %q", errs)
	}
	if !strings.Contains(errs, "8 bytes at offset") || !strings.Contains(errs, "invalid character") {
		t.Fatalf("bad line not reported: %q", errs)
	}
}

// Issue 11 item 1: a malformed id given to emit, or on a line tail reads, is refused naming the field;
// tail skips the line and goes on with the next one (it used to panic on an extra '-').
func TestEmitTailMalformedIDIssue11Item1(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "bus.jsonl")
	const bad = "00000000-0000-0000-0000--00000000000"
	_, errs, code := run(t, ctx, "emit", path, "--type", "Num", "--payload", `{"event_parent_id":"`+bad+`"}`)
	if code == 0 || !strings.Contains(errs, `event_parent_id: invalid id "`+bad+`"`) {
		t.Fatalf("emit: exit %d, stderr %q", code, errs)
	}
	lines := `{"event_type":"Num","event_id":"` + bad + `"}` + "\n" +
		`{"event_type":"Num","event_id":"01a20279-f147-73b3-ae9a-7a-1a2c-dd3d"}` + "\n" +
		`{"event_type":"Num","event_id":"01a20279-f147-73b3-ae9a-7a81a2cdd3d3","n":1}` + "\n"
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := run(t, ctx, "tail", path, "--from-start", "--count", "1", "--poll", "2ms")
	if code != 0 || !strings.Contains(out, "01a20279-f147-73b3-ae9a-7a81a2cdd3d3") ||
		strings.Count(errs, `event_id: invalid id "`) != 2 || !strings.Contains(errs, bad) {
		t.Fatalf("tail: exit %d\nstdout %q\nstderr %q", code, out, errs)
	}
}

// tsFixtureDir finds the TS fixtures directory shared/interop/ts-abxbus-2.5.56/ in a parent of the
// working directory (beside the main checkout, or further up from a worktree).
func tsFixtureDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, "shared", "interop", "ts-abxbus-2.5.56")
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			return p + string(filepath.Separator)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("shared/interop/ts-abxbus-2.5.56 not found in any parent directory")
		}
		dir = parent
	}
}
