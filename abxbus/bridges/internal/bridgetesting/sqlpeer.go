package bridgetesting

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// PeerText is the text of SqlPeerPing seq, as sqlpeer.mjs writes and checks it (quotes, non-ASCII,
// markup, a tab and a newline).
func PeerText(seq int) string { return fmt.Sprintf("héllo \"wörld\" ✓ <&> \\ tab\tnl\n#%d", seq) }

// PeerPing is the payload of sqlpeer.mjs's SqlPeerPing events.
type PeerPing struct {
	Run  string `json:"run"`
	Seq  int    `json:"seq"`
	Text string `json:"text"`
}

// PeerPings collects the SqlPeerPing events a Go listener receives from a TS emitter.
type PeerPings struct {
	n   int
	mu  sync.Mutex
	got []PeerPing
	all chan struct{}
}

// NewPeerPings expects n events.
func NewPeerPings(n int) *PeerPings { return &PeerPings{n: n, all: make(chan struct{})} }

// Handle is the listener's HandlerFunc for "SqlPeerPing".
func (c *PeerPings) Handle(_ context.Context, e *abxbus.BaseEvent) (any, error) {
	raw, err := e.PayloadJSON()
	if err != nil {
		return nil, err
	}
	var p PeerPing
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.got = append(c.got, p); len(c.got) == c.n {
		close(c.all)
	}
	return nil, nil
}

// wait waits for all n events or the end of ctx and reports whether they all came.
func (c *PeerPings) wait(ctx context.Context) bool {
	select {
	case <-c.all:
		return true
	case <-ctx.Done():
		return false
	}
}

// ExpectAll waits for all n events (failing when ctx ends first) and checks them: run, seqs 0..n-1
// in order, texts intact.
func (c *PeerPings) ExpectAll(ctx context.Context, t *testing.T, run string) {
	t.Helper()
	all := c.wait(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !all {
		t.Fatalf("Go received %d of %d TS events", len(c.got), c.n)
	}
	for i, p := range c.got {
		if p.Run != run || p.Seq != i || p.Text != PeerText(i) {
			t.Fatalf("event %d: %+v, want seq %d text %q", i, p, i, PeerText(i))
		}
	}
}

// ExpectAfterRestart waits for all n events or the end of ctx, logs how many a restarted consumer
// got of those emitted while it was down, and checks that they are seqs 0..n-1 in order, all of them.
func (c *PeerPings) ExpectAfterRestart(ctx context.Context, t *testing.T) {
	t.Helper()
	c.wait(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Logf("TS emitted %d while the Go consumer was down; delivered after restart: %d", c.n, len(c.got))
	for i, p := range c.got {
		if p.Seq != i {
			t.Fatalf("event %d has seq %d", i, p.Seq)
		}
	}
	if len(c.got) != c.n {
		t.Fatalf("delivered %d of %d", len(c.got), c.n)
	}
}

// RunTSListener starts the TS listener cmd (sqlpeer.mjs listen), waits for its "ready", emits n
// events with emit, and checks the listener's lines: every event, in order, payload intact.
func RunTSListener(ctx context.Context, t *testing.T, cmd *exec.Cmd, n int, emit func(ctx context.Context, seq int) error) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	if !sc.Scan() || sc.Text() != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("TS listener did not get ready: %q %v", sc.Text(), sc.Err())
	}
	start := time.Now()
	for i := range n {
		if err := emit(ctx, i); err != nil {
			t.Fatalf("Go Emit %d: %v", i, err)
		}
	}
	seq := 0
	for sc.Scan() {
		var p struct {
			Seq  int    `json:"seq"`
			Text string `json:"text"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("TS listener line %q: %v", sc.Text(), err)
		}
		if p.Seq != seq || p.Text != PeerText(seq) || p.Type != "SqlPeerPing" {
			t.Fatalf("TS received %+v as event %d, want seq %d text %q", p, seq, seq, PeerText(seq))
		}
		seq++
	}
	elapsed := time.Since(start)
	if err := cmd.Wait(); err != nil || seq != n {
		t.Fatalf("TS listener received %d of %d events; exit: %v", seq, n, err)
	}
	t.Logf("Go -> TS: %d events received by the TS listener in %v (%.0f events/s end to end)", n,
		elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
}
