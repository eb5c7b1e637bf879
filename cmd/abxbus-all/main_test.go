package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/internal/leakcheck"
	"github.com/typedbus/abxbus-go/internal/testservers"
)

// The test binary doubles as the command: with abxbusAllMain set it runs main with its arguments.
const abxbusAllMain = "ABXBUS_ALL_TEST_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(abxbusAllMain) == "1" {
		os.Args = append(os.Args[:1], os.Args[2:]...) // drop the -test.run placeholder
		main()
		return
	}
	leakcheck.Main(m)
}

func command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-test.run=^$"}, args...)...)
	cmd.Env = append(os.Environ(), abxbusAllMain+"=1")
	return cmd
}

// Every driver linked in here answers its scheme: tail sees what emit sends, from separate
// processes, as a shell user would run them.
func TestEmitAndTailOverRedis(t *testing.T) {
	emitAndTail(t, testservers.StartRedis(t).URL()+"/0/abxbus_cli")
}

func TestEmitAndTailOverNATS(t *testing.T) {
	emitAndTail(t, testservers.StartNATS(t, testservers.NATSOptions{}).URL+"/abxbus.cli")
}

func TestEmitAndTailOverSQLite(t *testing.T) {
	emitAndTail(t, "sqlite://"+filepath.Join(t.TempDir(), "events.db")+"?table=cli_events")
}

func TestEmitAndTailOverPostgres(t *testing.T) {
	emitAndTail(t, testservers.StartPostgres(t).DSN+"&channel=abxbus_cli")
}

func emitAndTail(t *testing.T, addr string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	tail := command(ctx, "tail", addr, "--json", "--count", "2")
	stdout, err := tail.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := tail.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tail.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "abxbus tail: listening on ") {
				listening <- sc.Text()
			}
		}
		close(listening)
	}()
	select {
	case line, ok := <-listening:
		if !ok {
			t.Fatal("tail ended before it listened")
		}
		if !strings.HasSuffix(line, addr) {
			t.Errorf("tail says %q, want the address %s", line, addr)
		}
	case <-ctx.Done():
		t.Fatal("tail did not start listening")
	}
	for i, payload := range []string{`{"n":1}`, `{"n":2,"note":"zwei \"2\""}`} {
		out, err := command(ctx, "emit", addr, "--type", "CliPing", "--payload", payload).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) != 36 {
			t.Fatalf("emit %d: %v %q", i, err, out)
		}
	}
	var got []map[string]any
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("tail --json line %q: %v", sc.Text(), err)
		}
		got = append(got, m)
	}
	if err := tail.Wait(); err != nil {
		t.Fatalf("tail: %v", err)
	}
	if len(got) != 2 || got[0]["n"] != float64(1) || got[1]["note"] != `zwei "2"` || got[1]["event_type"] != "CliPing" {
		t.Fatalf("tail printed %v", got)
	}
}
