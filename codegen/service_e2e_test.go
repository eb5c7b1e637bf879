package codegen_test

import (
	"bufio"
	"io"
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
// process calling it through the same interface; the answers come back as abxbus.ServiceReply events).
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
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, args...).CombinedOutput()
		t.Logf("%v:\n%s", args, out)
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "PASS") {
			t.Fatalf("%v: %v", args, err)
		}
		return string(out)
	}
	t.Run("in-process", func(t *testing.T) { run("inproc") })

	t.Run("two-processes", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "billing.jsonl")
		srv := exec.Command(bin, "server", path)
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
			stdin.Close()
			srv.Wait()
			t.Fatalf("server did not start: %q %v", first, err)
		}
		out := run("client", path)
		if !strings.Contains(out, "remote true") {
			t.Errorf("the client did not run the remote checks")
		}
		stdin.Close()
		rest, _ := io.ReadAll(lines)
		if err := srv.Wait(); err != nil || !strings.Contains(string(rest), "server done") {
			t.Fatalf("server: %v\n%s", err, rest)
		}
	})
}
