package codegen_test

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/codegen"
)

// TestServiceEndToEnd (issue 17 item 3, F265-F267) generates the client and server adapter of the
// Billing service (testdata/codegen/e2e/svc) in a temporary module, builds the driver with the race
// detector and runs it: client and server in one process, then across a JSONL bridge between two
// processes (a server process registering the implementation on a bus wired to the file, a client
// process calling it through the same interface; the answers come back as abxbus.ServiceReply events),
// and with a TypeScript peer on either end.
// Both modes check results, a nil result, a void method, errors (the implementation's own within a
// process, a *ServiceError matching it across processes) and that ctx bounds the call.
func TestServiceEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	tmp := genTempModule(t)
	src := filepath.Join(genTestdata, "e2e", "svc")
	genCopyGoFiles(t, filepath.Join(src, "billing"), filepath.Join(tmp, "billing"))
	genCopyGoFiles(t, filepath.Join(src, "cmd"), filepath.Join(tmp, "cmd"))
	files, err := codegen.Generate(filepath.Join(tmp, "billing"), codegen.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if _, err := f.Write(); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := genGoCmd(t, tmp, "vet", "./..."); err != nil {
		t.Fatalf("go vet: %v\n%s", err, out)
	}
	bin := filepath.Join(tmp, "svc.bin")
	if out, err := genGoCmd(t, tmp, "build", "-race", "-o", bin, "./cmd"); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		t.Logf("%v:\n%s", args, out)
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "PASS") {
			t.Fatalf("%v: %v", args, err)
		}
		return string(out)
	}
	t.Run("in-process", func(t *testing.T) { run(t, "inproc") })

	t.Run("two-processes", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "billing.jsonl")
		stop := svcStartServer(t, exec.Command(bin, "server", path))
		out := run(t, "client", path)
		if !strings.Contains(out, "remote true") {
			t.Errorf("the client did not run the remote checks")
		}
		if rest := stop(); !strings.Contains(rest, "server done") {
			t.Fatalf("server output: %s", rest)
		}
	})

	// A TypeScript peer (abxbus@2.5.56) sees ordinary events: it calls the Go server with billing.charge
	// events carrying abxbus_call_id and reads the abxbus.ServiceReply answers, and it serves the Go
	// client's Refund calls by emitting those answers itself.
	t.Run("typescript", func(t *testing.T) {
		peer := svcRequirePeer(t)
		dir := t.TempDir()
		path := filepath.Join(dir, "ts.jsonl")
		stop := svcStartServer(t, exec.Command(bin, "server", path))
		out := filepath.Join(dir, "replies.json")
		cmd := exec.Command("node", "service-peer.mjs", "call", path, out)
		cmd.Dir = peer
		if b, err := cmd.CombinedOutput(); err != nil {
			stop()
			t.Fatalf("node service-peer.mjs call: %v\n%s", err, b)
		}
		stop()
		var replies []struct {
			Method string
			Result *struct {
				ID    string `json:"id"`
				Cents int64  `json:"cents"`
			}
			Error *struct{ Message, Code string }
		}
		if err := json.Unmarshal(mustRead(t, out), &replies); err != nil {
			t.Fatal(err)
		}
		if len(replies) != 2 || replies[0].Result == nil || replies[0].Result.Cents != 700 || !strings.HasPrefix(replies[0].Result.ID, "r-ts-") ||
			replies[1].Error == nil || replies[1].Error.Code != "declined" || replies[1].Error.Message != "charge declined" {
			t.Fatalf("TS saw the replies %s", mustRead(t, out))
		}

		path2 := filepath.Join(dir, "ts2.jsonl")
		srv := exec.Command("node", "service-peer.mjs", "serve", path2)
		srv.Dir = peer
		stop = svcStartServer(t, srv)
		run(t, "tsclient", path2)
		stop()
	})
}

// svcStartServer starts a server process that prints "ready" once it listens and exits when its
// standard input closes; the returned function closes it, waits and returns the rest of its output.
func svcStartServer(t *testing.T, srv *exec.Cmd) func() string {
	t.Helper()
	stdin, err := srv.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = srv.Stdout
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewReader(stdout)
	first, err := lines.ReadString('\n')
	if err != nil || first != "ready\n" {
		rest, _ := io.ReadAll(lines)
		stdin.Close()
		srv.Wait()
		t.Fatalf("server %v did not start: %q %v\n%s", srv.Args, first, err, rest)
	}
	stopped := false
	stop := func() string {
		if stopped {
			return ""
		}
		stopped = true
		stdin.Close()
		rest, _ := io.ReadAll(lines)
		if err := srv.Wait(); err != nil {
			t.Errorf("server %v: %v\n%s", srv.Args, err, rest)
		}
		return string(rest)
	}
	t.Cleanup(func() { stop() })
	return stop
}

// svcRequirePeer returns the TypeScript peer's directory, or skips (fails in CI or when the interop
// suite is mandatory) when Node or the pinned abxbus package is missing.
func svcRequirePeer(t *testing.T) string {
	t.Helper()
	peer, err := filepath.Abs(filepath.Join("..", "testdata", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	_, nodeErr := exec.LookPath("node")
	_, peerErr := os.Stat(filepath.Join(peer, "node_modules", "abxbus", "package.json"))
	if nodeErr != nil || peerErr != nil {
		if os.Getenv("CI") == "true" || os.Getenv("ABXBUS_REQUIRE_INTEROP") != "" {
			t.Fatalf("the TypeScript peer is required here (node: %v, peer: %v)", nodeErr, peerErr)
		}
		t.Skipf("the TypeScript peer is not available (node: %v, peer: %v); run `make interop-deps` (make test does)", nodeErr, peerErr)
	}
	return peer
}
