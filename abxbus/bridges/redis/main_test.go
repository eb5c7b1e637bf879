package redis_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/bridgetest"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/bridgetesting"
	redisbridge "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
	"github.com/typedbus/abxbus-go/internal/testservers"
)

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" { // the test binary re-executed as a worker process
		os.Exit(workerMain())
	}
	bridgetest.MaybeRunChild(harness(redisbridge.ModeStreams, nil))
	flag.Parse()
	stop := startExampleServer()
	code := m.Run()
	stop()
	if code == 0 {
		if err := leakcheck.Check(5 * time.Second); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// exampleAddr is the address of the redis-server the examples use (started by TestMain).
var exampleAddr string

// redisURL returns the address of a Redis server for the examples.
func redisURL() string { return exampleAddr }

// startExampleServer starts a redis-server for the examples on a free loopback port. Without the
// binary the examples are left out of the run (or, where servers are mandatory, the run fails).
func startExampleServer() (stop func()) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if on, _ := strconv.ParseBool(os.Getenv(testservers.RequireEnv)); on {
			fmt.Fprintln(os.Stderr, "redis-server is not installed and the servers are mandatory here (apt-get install redis-server)")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "redis-server is not installed: the examples are not run")
		if f := flag.Lookup("test.run"); f != nil && f.Value.String() == "" {
			f.Value.Set("^(Test|Fuzz)")
		}
		return func() {}
	}
	dir, err := os.MkdirTemp("", "abxbus-redis-examples")
	if err != nil {
		panic(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir, "--save", "",
		"--appendonly", "no", "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		panic(err)
	}
	exampleAddr = "redis://127.0.0.1:" + strconv.Itoa(port)
	for range 200 {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	return func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		os.RemoveAll(dir)
	}
}

// Ping is the test event.
type Ping struct {
	abxbus.Returns[int]
	Seq int    `json:"seq"`
	Tag string `json:"tag,omitempty"`
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startRedis(t testing.TB, aof bool) *testservers.Redis {
	t.Helper()
	return testservers.StartRedisWith(t, testservers.RedisOptions{AppendOnly: aof})
}

// seqOf reads the seq field of a received event.
func seqOf(t testing.TB, e *abxbus.BaseEvent) int {
	p, err := e.PayloadJSON()
	if err != nil {
		t.Errorf("payload of %s: %v", e, err)
		return -1
	}
	var v struct {
		Seq int `json:"seq"`
	}
	if err := json.Unmarshal(p, &v); err != nil {
		t.Errorf("payload %s: %v", p, err)
		return -1
	}
	return v.Seq
}

// The shared seq collector (bridgetesting), by the names these tests use.
var (
	newCollector = bridgetesting.NewSeqCollector
	distinct     = bridgetesting.Distinct
)

// counts summarises a delivery run.
type counts struct{ emitted, delivered, duplicated, lost int }

func (c counts) String() string {
	return fmt.Sprintf("emitted=%d delivered=%d duplicated=%d lost=%d", c.emitted, c.delivered, c.duplicated, c.lost)
}

func countOf(emitted []int, got []int) counts {
	d := distinct(got)
	c := counts{emitted: len(emitted)}
	for _, n := range emitted {
		if k := d[n]; k > 0 {
			c.delivered++
			c.duplicated += k - 1
		} else {
			c.lost++
		}
	}
	return c
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
