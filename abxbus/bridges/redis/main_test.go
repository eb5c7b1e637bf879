package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
	"github.com/typedbus/abxbus-go/internal/testservers"
)

func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" { // the test binary re-executed as a worker process
		os.Exit(workerMain())
	}
	leakcheck.Main(m)
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

// collector records received seq numbers.
type collector struct {
	mu   sync.Mutex
	seqs []int
	ch   chan struct{}
}

func newCollector() *collector { return &collector{ch: make(chan struct{}, 1)} }

func (c *collector) add(n int) {
	c.mu.Lock()
	c.seqs = append(c.seqs, n)
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

func (c *collector) snapshot() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.seqs...)
}

// waitCount waits until at least n distinct seqs were received or d passed.
func (c *collector) waitCount(n int, d time.Duration) []int {
	deadline := time.After(d)
	for {
		s := c.snapshot()
		if len(distinct(s)) >= n {
			return s
		}
		select {
		case <-c.ch:
		case <-deadline:
			return s
		}
	}
}

func distinct(s []int) map[int]int {
	m := map[int]int{}
	for _, v := range s {
		m[v]++
	}
	return m
}

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
