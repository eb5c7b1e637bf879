package bridgetesting

import (
	"sync"
	"time"
)

// SeqCollector records the seq numbers received, in order.
type SeqCollector struct {
	mu   sync.Mutex
	seqs []int
	ch   chan struct{}
}

// NewSeqCollector returns an empty SeqCollector.
func NewSeqCollector() *SeqCollector { return &SeqCollector{ch: make(chan struct{}, 1)} }

// Add records n.
func (c *SeqCollector) Add(n int) {
	c.mu.Lock()
	c.seqs = append(c.seqs, n)
	c.mu.Unlock()
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

// Snapshot returns the seqs recorded so far.
func (c *SeqCollector) Snapshot() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.seqs...)
}

// WaitDistinct waits until n distinct seqs arrived or d passed; it returns the snapshot taken then.
func (c *SeqCollector) WaitDistinct(n int, d time.Duration) []int { return c.wait(n, d, true) }

// WaitCount is WaitDistinct, except that past d it returns the snapshot of its last look before the
// deadline (what the redis tests have always used), not a new one.
func (c *SeqCollector) WaitCount(n int, d time.Duration) []int { return c.wait(n, d, false) }

func (c *SeqCollector) wait(n int, d time.Duration, fresh bool) []int {
	deadline := time.After(d)
	for {
		s := c.Snapshot()
		if len(Distinct(s)) >= n {
			return s
		}
		select {
		case <-c.ch:
		case <-deadline:
			if fresh {
				return c.Snapshot()
			}
			return s
		}
	}
}

// Distinct counts how often each seq occurs in s.
func Distinct(s []int) map[int]int {
	m := map[int]int{}
	for _, v := range s {
		m[v]++
	}
	return m
}
