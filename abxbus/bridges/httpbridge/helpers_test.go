package httpbridge_test

import (
	"net"
	"os"
	"os/exec"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
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
const childEnv = "HTTPBRIDGE_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		bridgetesting.RunChild(func(url string) (bridgetesting.Listener, func() string, error) {
			br, err := httpbridge.New("", &httpbridge.Options{ListenOn: url, AckAfterHandled: true})
			return br, func() string { return br.ListenURL() }, err
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

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func newListener(t testing.TB, opts *httpbridge.Options) (*httpbridge.Bridge, *collector) {
	t.Helper()
	var o httpbridge.Options
	if opts != nil {
		o = *opts
	}
	if o.ListenOn == "" {
		o.ListenOn = "http://127.0.0.1:0/abxbus_events"
	}
	br, err := httpbridge.New("", &o)
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

func newEmitter(t testing.TB, url string, opts *httpbridge.Options) *httpbridge.Bridge {
	t.Helper()
	br, err := httpbridge.New(url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br
}
