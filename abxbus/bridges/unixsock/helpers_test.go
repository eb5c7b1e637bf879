package unixsock_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	"github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

// The shared harness pieces (bridgetesting), by the names these tests use.
type (
	IPCPingEvent = bridgetesting.IPCPingEvent
	collector    = bridgetesting.Collector
)

var (
	ping         = bridgetesting.Ping
	newCollector = bridgetesting.NewCollector
	tsListener   = bridgetesting.TSListener
	tsEmit       = bridgetesting.TSEmit
)

// childEnv runs this test binary as a listener process: TestMain serves CHILD_URL and appends the seq
// of every handled event to CHILD_OUT, one per line, until killed.
const childEnv = "UNIXSOCK_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		bridgetesting.RunChild(func(path string) (bridgetesting.Listener, func() string, error) {
			br, err := unixsock.New(path, &unixsock.Options{AckAfterHandled: true})
			return br, func() string { return br.Path() }, err
		})
		return
	}
	leakcheck.Main(m)
}

// startChild starts a listener process on url and waits for it to be ready.
func startChild(t *testing.T, url, out string) *exec.Cmd {
	t.Helper()
	return bridgetesting.StartChild(t, childEnv, url, out)
}

func sockPath(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("", "ub") // t.TempDir() paths are long; socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d + "/s.sock"
}

func newListener(t testing.TB, path string, opts *unixsock.Options) (*unixsock.Bridge, *collector) {
	t.Helper()
	br, err := unixsock.New(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	c := newCollector()
	if _, err := br.On("*", c.Handle); err != nil {
		t.Fatal(err)
	}
	return br, c
}

func newEmitter(t testing.TB, path string, opts *unixsock.Options) *unixsock.Bridge {
	t.Helper()
	br, err := unixsock.New(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}
