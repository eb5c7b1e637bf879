package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// asMain returns the command that runs this test binary as the abxbus command with args.
func asMain(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), asAbxbusEnv+"=1")
	return cmd
}

// Issue 15 item 9, as a user runs it: `abxbus tail FILE --json` in one process prints the events that
// `abxbus emit FILE` (and `emit --stdin`) in other processes send, one event JSON per line; an
// interrupt ends tail with status 0.
func TestEmitTailProcesses(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tail := asMain(ctx, "tail", path, "--json", "--poll", "5ms")
	tail.Stderr = os.Stderr
	stdout, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	defer tail.Process.Kill()
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	time.Sleep(200 * time.Millisecond) // tail starts at the end of the file: let it open the file first
	for i := range 3 {
		out, err := asMain(ctx, "emit", path, "--type", "Num", "--payload", fmt.Sprintf(`{"n":%d}`, i)).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) != 36 {
			t.Fatalf("emit %d: %v %q", i, err, out)
		}
	}
	in := asMain(ctx, "emit", "jsonl://"+path, "--stdin", "--type", "Num")
	in.Stdin = strings.NewReader(`{"n":3}` + "\n" + `{"n":4,"event_type":"Other"}` + "\n")
	if out, err := in.CombinedOutput(); err != nil || len(strings.Fields(string(out))) != 2 {
		t.Fatalf("emit --stdin: %v %q", err, out)
	}
	for i := range 5 {
		select {
		case l := <-lines:
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil || m["n"] != float64(i) {
				t.Fatalf("tail line %d: %q (%v)", i, l, err)
			}
			if want := []string{"Num", "Num", "Num", "Num", "Other"}[i]; m["event_type"] != want {
				t.Fatalf("tail line %d: event_type %v, want %s", i, m["event_type"], want)
			}
		case <-ctx.Done():
			t.Fatalf("tail printed %d of 5 events", i)
		}
	}
	if err := tail.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := tail.Wait(); err != nil {
		t.Fatalf("tail after an interrupt: %v, want exit 0", err)
	}
	if out, err := asMain(ctx, "tail", "nosuch://x").CombinedOutput(); err == nil || !strings.Contains(string(out), "no bridge for scheme") {
		t.Fatalf("unknown scheme: %v %q", err, out)
	}
}
