// Package bridgetest is the conformance suite of abxbus bridges: any implementation of bridges.Bridge,
// including an application's own, runs it from a test to check that it delivers what its Features
// claim. It is in the spirit of testing/slogtest: a test describes how to open the bridge (a Harness)
// and calls Run; every check is a subtest.
//
//	func TestConformance(t *testing.T) {
//		bridgetest.Run(t, bridgetest.Harness{
//			Name:     "MyBridge",
//			Features: mybridge.Features,
//			NewPair: func(t testing.TB) bridgetest.Pair {
//				endpoint := freshEndpoint(t)
//				em, _ := mybridge.Open(endpoint, bridgetest.Logger(t))
//				li, _ := mybridge.Open(endpoint, bridgetest.Logger(t))
//				return bridgetest.Pair{Emitter: em, Listener: li, Endpoint: endpoint}
//			},
//			InjectRaw: func(t testing.TB, p bridgetest.Pair, raw []byte) { writeForeignFrame(t, p.Endpoint, raw) },
//		})
//	}
//
// # What the suite checks
//
//   - Features: the listener reports the Features the harness claims.
//   - Delivery: N events emitted one after the other arrive, each once, reset (a fresh event_id),
//     with payload, type and event_created_at intact, and (Features.Ordered) in emission order.
//   - ConcurrentEmit: N events emitted from several goroutines at once arrive each once; ordered
//     bridges keep each goroutine's order.
//   - NoDuplicates: nothing arrives twice, also when Start is called again mid-stream, within a quiet
//     period (Harness.Settle) after the last event.
//   - NoEcho: with the documented wiring (app.OnType("*", br.Forward) and br.On("*", re-emit on app))
//     on both ends of the pair, every event is processed once on each application bus and never
//     comes back.
//   - StartConcurrent: Start and On called at once from several goroutines start the listener once
//     (no event is delivered twice); Start again returns nil.
//   - CloseWhileBusy: Close of a listener whose handlers are running and of an emitter in the middle
//     of emitting returns within the timeout and leaves no goroutine behind; afterwards Emit and Start
//     return errors matching bridges.ErrClosed, Close returns nil and On fails.
//   - BadFrames: frames written by a foreign writer (InjectRaw) that are not JSON, not a JSON object,
//     or an event with an invalid event_id are refused with a reason logged at Warn level or above
//     (through Logger), and the listener keeps delivering good events, among them a valid foreign
//     frame.
//   - EchoFlood: frames written by a foreign writer whose event_path already names the listener's bus
//     (its own events coming back) are not delivered, and many of them do not stop the listener.
//   - Oversize (Features.MaxMessageBytes > 0): Emit refuses an event whose JSON is one byte over the
//     limit with an error matching bridges.ErrTooLarge; an event of exactly the limit is delivered.
//   - Durable (Features.Durable): a listener closed and reopened (Reopen) receives every event emitted
//     while it was closed, each once; a listener in a child process killed with SIGKILL mid-stream
//     and started again (a second child process) receives every event, exactly once unless
//     Features.AtLeastOnce (then duplicates are counted and logged).
//
// Checks that a bridge's Features do not claim are skipped with the reason. The suite calls On (which
// starts listening) on the listener before it emits: a bridge must deliver events emitted after its
// Start returned. It emits untyped events of type "BridgetestPing" whose payload carries a run id, a
// sequence number and a text with quotes, non-ASCII characters and escapes; events of other runs seen
// on the endpoint are ignored.
//
// The durability check re-executes the test binary as a child listener: the test package's TestMain
// must call MaybeRunChild first.
package bridgetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

// Harness describes how the suite opens the bridge under test. Only NewPair is required; the
// durability check needs Reopen, ListenerArgs and OpenListener, the bad-frame check needs InjectRaw.
type Harness struct {
	// Name is the prefix of the suite's subtests, and names the harness to a child process
	// (MaybeRunChild). Default "Bridge".
	Name string
	// Features is what the bridge claims; the suite checks what it claims and skips what it does not.
	Features bridges.Features
	// NewPair opens an emitter and a listener on one fresh endpoint (a file, a socket path, a table, a
	// channel, a subject). Neither is started. The suite closes both; Close is idempotent, so the
	// harness may also close them in t.Cleanup. Pass Logger(t) to both bridges so that the suite sees
	// their warnings.
	NewPair func(t testing.TB) Pair
	// Reopen opens a new listener on the same endpoint and with the same identity (durable consumer,
	// cursor) as p's listener, after p.Listener was closed. Required when Features.Durable.
	Reopen func(t testing.TB, p Pair) bridges.Bridge
	// InjectRaw writes one raw frame (message, row) on p's endpoint as a foreign writer would, to be
	// read by p's listener. nil: the bad-frame check fails saying the harness lacks it.
	InjectRaw func(t testing.TB, p Pair, raw []byte)
	// ListenerArgs returns strings that describe p's listener endpoint and identity, so that a child
	// process can open the same listener through OpenListener. Required when Features.Durable.
	ListenerArgs func(p Pair) []string
	// OpenListener opens, in the child process, the listener that ListenerArgs describes. Logging goes
	// to the child's stderr. Required when Features.Durable.
	OpenListener func(ctx context.Context, args []string) (bridges.Bridge, error)
	// N is the number of events per check (default 200).
	N int
	// Timeout bounds each check (default 30s).
	Timeout time.Duration
	// Settle is how long the suite waits after the last expected event for late duplicates or echoes
	// (default 300ms).
	Settle time.Duration
	// IgnoreGoroutines are substrings of goroutine stacks that the leak check of CloseWhileBusy
	// ignores: goroutines of the harness's own servers that are not the bridge's.
	IgnoreGoroutines []string
}

// Pair is an emitter and a listener on one endpoint.
type Pair struct {
	Emitter, Listener bridges.Bridge
	// Endpoint names the endpoint for the harness's own use (InjectRaw, Reopen, ListenerArgs).
	Endpoint string
}

func (h Harness) withDefaults() Harness {
	if h.Name == "" {
		h.Name = "Bridge"
	}
	if h.N <= 0 {
		h.N = 200
	}
	if h.Timeout <= 0 {
		h.Timeout = 30 * time.Second
	}
	if h.Settle <= 0 {
		h.Settle = 300 * time.Millisecond
	}
	return h
}

// PingType is the event type of the events the suite emits.
const PingType = "BridgetestPing"

// pingText is the text of event seq: quotes, escapes and non-ASCII characters that every framing must
// carry intact.
func pingText(seq int) string {
	return fmt.Sprintf("héllo \"wörld\" ✓ <&> \\ tab\tnl\n#%d", seq)
}

type ping struct {
	Run  string `json:"run"`
	Seq  int    `json:"seq"`
	Text string `json:"text"`
	Pad  string `json:"pad,omitempty"`
}

func newRunID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newPing returns ping seq of run, or NewBaseEvent's error naming the ping.
func newPing(run string, seq int, pad string) (*abxbus.BaseEvent, error) {
	e, err := abxbus.NewBaseEvent(PingType, ping{Run: run, Seq: seq, Text: pingText(seq), Pad: pad})
	if err != nil {
		return nil, fmt.Errorf("bridgetest: ping %d of run %s: %w", seq, run, err)
	}
	return e, nil
}

// mustPing is newPing for the test's goroutine: an error fails the test (t.Fatal).
func mustPing(t testing.TB, run string, seq int) *abxbus.BaseEvent {
	t.Helper()
	e, err := newPing(run, seq, "")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// wireCreatedAt is event_created_at of e as it goes on the wire.
func wireCreatedAt(e *abxbus.BaseEvent) (time.Time, error) {
	data, err := e.ToJSON()
	if err != nil {
		return time.Time{}, err
	}
	d, err := abxbus.FromJSON(data)
	if err != nil {
		return time.Time{}, err
	}
	return d.CreatedAt(), nil
}

// collector records the pings of one run that a handler receives.
type collector struct {
	run     string
	mu      sync.Mutex
	counts  map[int]int
	order   []int
	created map[int]time.Time
	sentIDs map[int]string
	pads    map[int]int
	bad     []string
	changed chan struct{}
}

func newCollector(run string) *collector {
	return &collector{run: run, counts: map[int]int{}, created: map[int]time.Time{}, sentIDs: map[int]string{}, pads: map[int]int{},
		changed: make(chan struct{}, 1)}
}

// expect records the wire created-at of e (sent with sequence seq) for the payload check.
func (c *collector) expect(seq int, e *abxbus.BaseEvent) error {
	at, err := wireCreatedAt(e)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.created[seq] = at
	c.sentIDs[seq] = e.EventID()
	c.mu.Unlock()
	return nil
}

func (c *collector) handler(_ context.Context, e *abxbus.BaseEvent) (any, error) {
	c.record(e)
	return nil, nil
}

func (c *collector) record(e *abxbus.BaseEvent) {
	if e.Type() != PingType {
		return
	}
	raw, err := e.PayloadJSON()
	var p ping
	if err == nil {
		err = json.Unmarshal(raw, &p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.bad = append(c.bad, fmt.Sprintf("payload of %s does not decode: %v", e, err))
		return
	}
	if p.Run != c.run {
		return // another run's event on a shared endpoint
	}
	if p.Text != pingText(p.Seq) {
		c.bad = append(c.bad, fmt.Sprintf("seq %d: text %q, want %q", p.Seq, p.Text, pingText(p.Seq)))
	}
	if at, ok := c.created[p.Seq]; ok && !e.CreatedAt().Equal(at) {
		c.bad = append(c.bad, fmt.Sprintf("seq %d: event_created_at %s, want %s", p.Seq,
			e.CreatedAt().Format(time.RFC3339Nano), at.Format(time.RFC3339Nano)))
	}
	if id, ok := c.sentIDs[p.Seq]; ok && e.EventID() == id {
		c.bad = append(c.bad, fmt.Sprintf("seq %d: received with the sender's event_id %s: inbound events must be reset (a fresh id)", p.Seq, id))
	}
	c.counts[p.Seq]++
	c.order = append(c.order, p.Seq)
	c.pads[p.Seq] = len(p.Pad)
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// add records a sequence number received elsewhere (a child process).
func (c *collector) add(seq int) {
	c.mu.Lock()
	c.counts[seq]++
	c.order = append(c.order, seq)
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

func (c *collector) has(seqs []int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range seqs {
		if c.counts[s] == 0 {
			return false
		}
	}
	return true
}

func (c *collector) received() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.order)
}

// missing lists the sequence numbers of seqs not received (at most 20 of them).
func (c *collector) missing(seqs []int) []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for _, s := range seqs {
		if c.counts[s] == 0 && len(out) < 20 {
			out = append(out, s)
		}
	}
	return out
}

// waitFor waits until every sequence number of seqs was received.
func (c *collector) waitFor(ctx context.Context, seqs []int) error {
	for !c.has(seqs) {
		select {
		case <-c.changed:
		case <-ctx.Done():
			return fmt.Errorf("received %d events; missing (first 20): %v", c.received(), c.missing(seqs))
		}
	}
	return nil
}

// waitCount waits until at least n events were received.
func (c *collector) waitCount(ctx context.Context, n int) error {
	for c.received() < n {
		select {
		case <-c.changed:
		case <-ctx.Done():
			return fmt.Errorf("received %d events, waited for %d", c.received(), n)
		}
	}
	return nil
}

// dups returns the sequence numbers received more than once, and the number of extra deliveries.
func (c *collector) dups() (seqs []int, extra int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for s, n := range c.counts {
		if n > 1 {
			seqs = append(seqs, s)
			extra += n - 1
		}
	}
	slices.Sort(seqs)
	return seqs, extra
}

func (c *collector) problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.bad)
}

func (c *collector) orderSnapshot() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.order)
}

func seqRange(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// checkOnce fails t when an event was received more than once or a payload was wrong.
func checkOnce(t testing.TB, c *collector) {
	t.Helper()
	for _, p := range c.problems() {
		t.Errorf("payload not intact: %s", p)
	}
	if seqs, extra := c.dups(); extra > 0 {
		t.Errorf("%d duplicate deliveries without a fault, of seq %v", extra, head(seqs))
	}
}

// checkOrder fails t when the received order of the sequence numbers in want is not want's order.
func checkOrder(t testing.TB, c *collector, want []int) {
	t.Helper()
	in := map[int]bool{}
	for _, s := range want {
		in[s] = true
	}
	var got []int
	for _, s := range c.orderSnapshot() {
		if in[s] {
			got = append(got, s)
		}
	}
	for i := range got {
		if i >= len(want) || got[i] != want[i] {
			lo := max(0, i-3)
			t.Errorf("Features.Ordered, but events arrived out of order at position %d: got %v…, want %v…",
				i, got[lo:min(len(got), i+4)], want[lo:min(len(want), i+4)])
			return
		}
	}
}

func head(s []int) []int {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// suite is one run of the checks.
type suite struct{ h Harness }

func (s *suite) ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.h.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// pair opens a pair and closes both ends at cleanup.
func (s *suite) pair(t testing.TB) Pair {
	t.Helper()
	p := s.h.NewPair(t)
	if p.Emitter == nil || p.Listener == nil {
		t.Fatalf("NewPair returned a nil emitter or listener: %+v", p)
	}
	t.Cleanup(func() {
		if err := p.Emitter.Close(); err != nil {
			t.Errorf("emitter Close: %v", err)
		}
		if err := p.Listener.Close(); err != nil {
			t.Errorf("listener Close: %v", err)
		}
	})
	return p
}

// emit emits pings from..to-1 on br in order.
func (s *suite) emit(ctx context.Context, t testing.TB, br bridges.Bridge, c *collector, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		e := mustPing(t, c.run, i)
		if err := c.expect(i, e); err != nil {
			t.Fatal(err)
		}
		if err := br.Emit(ctx, e); err != nil {
			t.Fatalf("Emit of seq %d: %v", i, err)
		}
	}
}

// Run runs every check of the suite against the bridge h describes, each as a subtest of a test named
// h.Name. It must be called from a test, not concurrently with another Run on the same endpoints.
func Run(t *testing.T, h Harness) {
	h = h.withDefaults()
	if h.NewPair == nil {
		t.Fatal("bridgetest: Harness.NewPair is nil")
	}
	s := &suite{h: h}
	t.Run(h.Name, func(t *testing.T) {
		t.Run("Features", s.features)
		t.Run("Delivery", s.delivery)
		t.Run("ConcurrentEmit", s.concurrentEmit)
		t.Run("NoDuplicates", s.noDuplicates)
		t.Run("NoEcho", s.noEcho)
		t.Run("StartConcurrent", s.startConcurrent)
		t.Run("CloseWhileBusy", s.closeWhileBusy)
		t.Run("BadFrames", s.badFrames)
		t.Run("EchoFlood", s.echoFlood)
		t.Run("Oversize", s.oversize)
		t.Run("Durable", func(t *testing.T) {
			if !h.Features.Durable {
				t.Skip("the bridge does not claim Features.Durable")
			}
			t.Run("Reopen", s.durableReopen)
			t.Run("Kill9", s.durableKill9)
		})
	})
}

func (s *suite) features(t *testing.T) {
	p := s.pair(t)
	if got := p.Listener.Features(); got != s.h.Features {
		t.Errorf("listener Features() = %+v, the harness claims %+v", got, s.h.Features)
	}
	if got := p.Emitter.Features(); got.MaxMessageBytes != s.h.Features.MaxMessageBytes {
		t.Errorf("emitter Features().MaxMessageBytes = %d, the harness claims %d", got.MaxMessageBytes, s.h.Features.MaxMessageBytes)
	}
	if p.Listener.Bus() == nil {
		t.Error("listener Bus() is nil")
	}
}

func (s *suite) delivery(t *testing.T) {
	ctx := s.ctx(t)
	p := s.pair(t)
	c := newCollector(newRunID())
	if _, err := p.Listener.On(PingType, c.handler); err != nil {
		t.Fatalf("listener On: %v", err)
	}
	s.emit(ctx, t, p.Emitter, c, 0, s.h.N)
	if err := c.waitFor(ctx, seqRange(0, s.h.N)); err != nil {
		t.Fatal(err)
	}
	sleepCtx(ctx, s.h.Settle)
	checkOnce(t, c)
	if s.h.Features.Ordered {
		checkOrder(t, c, seqRange(0, s.h.N))
	}
}

func (s *suite) concurrentEmit(t *testing.T) {
	ctx := s.ctx(t)
	p := s.pair(t)
	c := newCollector(newRunID())
	if _, err := p.Listener.On(PingType, c.handler); err != nil {
		t.Fatalf("listener On: %v", err)
	}
	const workers = 4
	per := max(1, s.h.N/workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w * per; i < (w+1)*per; i++ {
				e, err := newPing(c.run, i, "")
				if err != nil {
					errs <- err
					return
				}
				if err := c.expect(i, e); err != nil {
					errs <- err
					return
				}
				if err := p.Emitter.Emit(ctx, e); err != nil {
					errs <- fmt.Errorf("emit of seq %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := c.waitFor(ctx, seqRange(0, workers*per)); err != nil {
		t.Fatal(err)
	}
	sleepCtx(ctx, s.h.Settle)
	checkOnce(t, c)
	if s.h.Features.Ordered {
		for w := range workers {
			checkOrder(t, c, seqRange(w*per, (w+1)*per))
		}
	}
}

func (s *suite) noDuplicates(t *testing.T) {
	ctx := s.ctx(t)
	p := s.pair(t)
	c := newCollector(newRunID())
	if _, err := p.Listener.On(PingType, c.handler); err != nil {
		t.Fatalf("listener On: %v", err)
	}
	half := s.h.N / 2
	s.emit(ctx, t, p.Emitter, c, 0, half)
	if err := p.Listener.Start(); err != nil {
		t.Fatalf("Start of a started listener: %v", err)
	}
	s.emit(ctx, t, p.Emitter, c, half, s.h.N)
	if err := p.Listener.Start(); err != nil {
		t.Fatalf("Start of a started listener: %v", err)
	}
	if err := c.waitFor(ctx, seqRange(0, s.h.N)); err != nil {
		t.Fatal(err)
	}
	sleepCtx(ctx, 2*s.h.Settle)
	checkOnce(t, c)
}

// noEcho wires an application bus to each end of the pair as the bridges package documents.
func (s *suite) noEcho(t *testing.T) {
	ctx := s.ctx(t)
	p := s.pair(t)
	run := newRunID()
	a, err := abxbus.New("BridgetestAppA", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Destroy(true)
	b, err := abxbus.New("BridgetestAppB", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy(true)
	onA, onB := newCollector(run), newCollector(run)
	var fwdMu sync.Mutex
	var fwdErrs []string
	wire := func(app *abxbus.Bus, br bridges.Bridge, c *collector) {
		t.Helper()
		if _, err := app.OnType(PingType, c.handler); err != nil {
			t.Fatal(err)
		}
		forward := func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			_, err := br.Forward(ctx, e)
			if err != nil {
				fwdMu.Lock()
				fwdErrs = append(fwdErrs, fmt.Sprintf("%s: %v", app.Name(), err))
				fwdMu.Unlock()
			}
			return nil, err
		}
		if _, err := app.OnType("*", forward); err != nil {
			t.Fatal(err)
		}
		if _, err := br.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			_, err := app.Emit(ctx, e)
			return nil, err
		}); err != nil {
			t.Fatalf("On: %v", err)
		}
	}
	wire(a, p.Emitter, onA)
	wire(b, p.Listener, onB)
	k := min(s.h.N, 50)
	for i := range k {
		e := mustPing(t, run, i)
		if err := onB.expect(i, e); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := onB.waitFor(ctx, seqRange(0, k)); err != nil {
		t.Fatalf("bus B: %v", err)
	}
	sleepCtx(ctx, 2*s.h.Settle)
	if err := onA.waitFor(ctx, seqRange(0, k)); err != nil {
		t.Fatalf("bus A: %v", err)
	}
	for name, c := range map[string]*collector{"A (sender)": onA, "B (receiver)": onB} {
		if seqs, extra := c.dups(); extra > 0 {
			t.Errorf("echo: application bus %s processed %d events more than once, seq %v", name, extra, head(seqs))
		}
	}
	for _, p := range onB.problems() {
		t.Errorf("payload not intact on B: %s", p)
	}
	fwdMu.Lock()
	defer fwdMu.Unlock()
	if len(fwdErrs) > 0 {
		t.Logf("%d Forward calls failed (expected only where an end cannot send), first: %s", len(fwdErrs), fwdErrs[0])
	}
}

func (s *suite) startConcurrent(t *testing.T) {
	ctx := s.ctx(t)
	p := s.pair(t)
	c := newCollector(newRunID())
	gate := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			<-gate
			if i == 7 {
				if _, err := p.Listener.On(PingType, c.handler); err != nil {
					errs <- fmt.Errorf("on: %w", err)
				}
				return
			}
			if err := p.Listener.Start(); err != nil {
				errs <- fmt.Errorf("start: %w", err)
			}
		})
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := p.Listener.Start(); err != nil {
		t.Fatalf("Start again: %v", err)
	}
	n := min(s.h.N, 100)
	s.emit(ctx, t, p.Emitter, c, 0, n)
	if err := c.waitFor(ctx, seqRange(0, n)); err != nil {
		t.Fatal(err)
	}
	sleepCtx(ctx, 2*s.h.Settle)
	checkOnce(t, c)
	if s.h.Features.Ordered {
		checkOrder(t, c, seqRange(0, n))
	}
}

func (s *suite) closeWhileBusy(t *testing.T) {
	ctx := s.ctx(t)
	p := s.pair(t)
	before := goroutines()
	c := newCollector(newRunID())
	if _, err := p.Listener.On(PingType, func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		c.record(e)
		sleepCtx(ctx, 2*time.Millisecond)
		return nil, nil
	}); err != nil {
		t.Fatalf("listener On: %v", err)
	}
	emitCtx, stopEmit := context.WithCancel(ctx)
	defer stopEmit()
	emitted := make(chan int, 1)
	go func() {
		i := 0
		defer func() { emitted <- i }()
		for ; emitCtx.Err() == nil; i++ {
			e, err := newPing(c.run, i, "")
			if err != nil {
				t.Error(err)
				return
			}
			if err := p.Emitter.Emit(emitCtx, e); err != nil {
				return
			}
		}
	}()
	if err := c.waitCount(ctx, 5); err != nil {
		t.Fatalf("before Close: %v", err)
	}
	closeWithin(t, "listener", p.Listener, s.h.Timeout/2)
	closeWithin(t, "emitter", p.Emitter, s.h.Timeout/2)
	stopEmit()
	select {
	case n := <-emitted:
		t.Logf("%d events emitted, %d received before Close", n, c.received())
	case <-time.After(s.h.Timeout / 2):
		t.Fatal("an Emit in progress did not return after the emitter was closed")
	}
	for name, br := range map[string]bridges.Bridge{"emitter": p.Emitter, "listener": p.Listener} {
		if err := br.Emit(context.Background(), mustPing(t, c.run, -1)); !errors.Is(err, bridges.ErrClosed) {
			t.Errorf("%s Emit after Close: err = %v, want one matching bridges.ErrClosed", name, err)
		}
		if err := br.Start(); !errors.Is(err, bridges.ErrClosed) {
			t.Errorf("%s Start after Close: err = %v, want one matching bridges.ErrClosed", name, err)
		}
		if err := br.Close(); err != nil {
			t.Errorf("%s second Close: %v", name, err)
		}
		if _, err := br.On(PingType, c.handler); err == nil {
			t.Errorf("%s On after Close: no error", name)
		}
	}
	if leaked := waitGoroutines(before, s.h.IgnoreGoroutines, 5*time.Second); len(leaked) > 0 {
		t.Errorf("%d goroutine(s) started after the pair was opened outlived Close:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
	}
}

func closeWithin(t *testing.T, name string, br bridges.Bridge, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- br.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s Close while busy: %v", name, err)
		}
	case <-time.After(d):
		t.Fatalf("%s Close did not return within %v while busy", name, d)
	}
}

func (s *suite) badFrames(t *testing.T) {
	if s.h.InjectRaw == nil {
		t.Fatal("the harness lacks InjectRaw: the bad-frame check cannot write a foreign frame")
	}
	ctx := s.ctx(t)
	p := s.pair(t)
	logs := captureOf(t)
	if logs == nil {
		t.Fatal("the harness did not pass bridgetest.Logger(t) to its bridges: the suite cannot see the logged reasons")
	}
	c := newCollector(newRunID())
	if _, err := p.Listener.On(PingType, c.handler); err != nil {
		t.Fatalf("listener On: %v", err)
	}
	warnBefore := logs.warnings()
	badID, err := badIDFrame(c.run)
	if err != nil {
		t.Fatal(err)
	}
	foreign := mustPing(t, c.run, 5)
	if err := c.expect(5, foreign); err != nil {
		t.Fatal(err)
	}
	foreignJSON, err := foreign.ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	s.emit(ctx, t, p.Emitter, c, 0, 2)
	s.h.InjectRaw(t, p, []byte("this is not json {"))
	s.emit(ctx, t, p.Emitter, c, 2, 3)
	s.h.InjectRaw(t, p, []byte(`[1,2,3]`))
	s.emit(ctx, t, p.Emitter, c, 3, 4)
	s.h.InjectRaw(t, p, badID)
	s.emit(ctx, t, p.Emitter, c, 4, 5)
	s.h.InjectRaw(t, p, foreignJSON)
	s.emit(ctx, t, p.Emitter, c, 6, 8)
	want := []int{0, 1, 2, 3, 4, 5, 6, 7}
	if err := c.waitFor(ctx, want); err != nil {
		t.Fatalf("the listener stopped delivering after bad frames: %v", err)
	}
	sleepCtx(ctx, s.h.Settle)
	checkOnce(t, c)
	if c.has([]int{badIDSeq}) {
		t.Error(`an event with event_id "not-a-uuid" was delivered`)
	}
	if s.h.Features.Ordered {
		checkOrder(t, c, []int{0, 1, 2, 3, 4, 6, 7})
	}
	if n := logs.warnings() - warnBefore; n < 3 {
		t.Errorf("%d records at Warn level or above were logged for 3 bad frames; want a reason for each:\n%s", n, logs.text())
	}
}

const badIDSeq = 100

// echoFloodN echoes outnumber any bridge's default inbound queue, so a bridge that keeps an echo as
// unfinished work (the bus skips it, it never completes) runs out of room and stops.
const echoFloodN, echoSeq = 300, 1000

// echoFlood writes, as a foreign writer, frames whose event_path already names the listener's bus (the
// listener's own events coming back through a ring of bridges): none is delivered, and the listener
// goes on delivering the events after them.
func (s *suite) echoFlood(t *testing.T) {
	if s.h.InjectRaw == nil {
		t.Fatal("the harness lacks InjectRaw: the echo check cannot write a foreign frame")
	}
	ctx := s.ctx(t)
	p := s.pair(t)
	c := newCollector(newRunID())
	if _, err := p.Listener.On(PingType, c.handler); err != nil {
		t.Fatalf("listener On: %v", err)
	}
	label := p.Listener.Bus().Label()
	for i := range echoFloodN {
		data, err := mustPing(t, c.run, echoSeq+i).ToJSON()
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		m["event_path"] = []string{"Elsewhere#0001", label}
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		s.h.InjectRaw(t, p, raw)
	}
	s.emit(ctx, t, p.Emitter, c, 0, 3)
	if err := c.waitFor(ctx, []int{0, 1, 2}); err != nil {
		t.Fatalf("the listener stopped delivering after %d frames naming its own bus %s in event_path: %v", echoFloodN, label, err)
	}
	sleepCtx(ctx, s.h.Settle)
	checkOnce(t, c)
	if n := c.received(); n != 3 {
		t.Errorf("%d events delivered, want the 3 emitted: an event whose event_path names the listener's bus %s was delivered", n, label)
	}
}

func badIDFrame(run string) ([]byte, error) {
	e, err := newPing(run, badIDSeq, "")
	if err != nil {
		return nil, err
	}
	data, err := e.ToJSON()
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	m["event_id"] = "not-a-uuid"
	return json.Marshal(m)
}

func (s *suite) oversize(t *testing.T) {
	limit := s.h.Features.MaxMessageBytes
	if limit <= 0 {
		t.Skip("the bridge claims no Features.MaxMessageBytes")
	}
	run := newRunID()
	over, err := sizedPing(run, 0, limit+1) // built before the check's time starts: large JSON is slow under -race
	if err != nil {
		t.Fatal(err)
	}
	exact, err := sizedPing(run, 1, limit)
	if err != nil {
		t.Fatal(err)
	}
	ctx := s.ctx(t)
	p := s.pair(t)
	c := newCollector(run)
	if _, err := p.Listener.On(PingType, c.handler); err != nil {
		t.Fatalf("listener On: %v", err)
	}
	if err := p.Emitter.Emit(ctx, over); !errors.Is(err, bridges.ErrTooLarge) {
		t.Fatalf("Emit of %d bytes (limit %d): err = %v, want one matching bridges.ErrTooLarge", limit+1, limit, err)
	}
	if err := c.expect(1, exact); err != nil {
		t.Fatal(err)
	}
	if err := p.Emitter.Emit(ctx, exact); err != nil {
		t.Fatalf("Emit of exactly MaxMessageBytes (%d): %v", limit, err)
	}
	s.emit(ctx, t, p.Emitter, c, 2, 3)
	if err := c.waitFor(ctx, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	sleepCtx(ctx, s.h.Settle)
	checkOnce(t, c)
	if c.has([]int{0}) {
		t.Error("the refused event was delivered")
	}
	c.mu.Lock()
	pad := c.pads[1]
	c.mu.Unlock()
	ep, _ := exact.PayloadJSON()
	var want ping
	_ = json.Unmarshal(ep, &want)
	if pad != len(want.Pad) {
		t.Errorf("the event of MaxMessageBytes arrived with a pad of %d bytes, want %d", pad, len(want.Pad))
	}
}

// sizedPing returns a ping whose event JSON is exactly size bytes. The pad is set on one decoded
// event, so that its id and created-at (whose text length varies) stay the same while it is sized.
func sizedPing(run string, seq, size int) (*abxbus.BaseEvent, error) {
	e, err := newPing(run, seq, "")
	if err != nil {
		return nil, err
	}
	base, err := e.ToJSON()
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(base, &m); err != nil {
		return nil, err
	}
	padLen := 0
	for range 5 {
		if padLen < 0 {
			return nil, fmt.Errorf("an event of %d bytes is smaller than the smallest ping (%d bytes)", size, len(base))
		}
		pad := make([]byte, padLen+2)
		for i := range pad {
			pad[i] = 'x'
		}
		pad[0], pad[len(pad)-1] = '"', '"'
		m["pad"] = pad
		data, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		e, err := abxbus.FromJSON(data)
		if err != nil {
			return nil, err
		}
		out, err := e.ToJSON()
		if err != nil {
			return nil, err
		}
		if len(out) == size {
			return e, nil
		}
		padLen += size - len(out)
	}
	return nil, fmt.Errorf("could not build an event of exactly %d bytes", size)
}

func (s *suite) durableReopen(t *testing.T) {
	if s.h.Reopen == nil {
		t.Fatal("the bridge claims Features.Durable but the harness lacks Reopen")
	}
	ctx := s.ctx(t)
	p := s.pair(t)
	c := newCollector(newRunID())
	if _, err := p.Listener.On(PingType, c.handler); err != nil {
		t.Fatalf("listener On: %v", err)
	}
	half := s.h.N / 2
	s.emit(ctx, t, p.Emitter, c, 0, half)
	if err := c.waitFor(ctx, seqRange(0, half)); err != nil {
		t.Fatal(err)
	}
	if err := p.Listener.Bus().WaitUntilIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Listener.Close(); err != nil {
		t.Fatalf("listener Close: %v", err)
	}
	s.emit(ctx, t, p.Emitter, c, half, s.h.N)
	l2 := s.h.Reopen(t, p)
	if l2 == nil {
		t.Fatal("Reopen returned nil")
	}
	t.Cleanup(func() { l2.Close() })
	if _, err := l2.On(PingType, c.handler); err != nil {
		t.Fatalf("reopened listener On: %v", err)
	}
	if err := c.waitFor(ctx, seqRange(0, s.h.N)); err != nil {
		t.Fatalf("after Reopen: %v", err)
	}
	sleepCtx(ctx, s.h.Settle)
	// A Close after the handling of every received event was over is no fault: no duplicate, even
	// at least once.
	checkOnce(t, c)
	if s.h.Features.Ordered {
		checkOrder(t, c, seqRange(0, s.h.N))
	}
	if err := l2.Close(); err != nil {
		t.Errorf("reopened listener Close: %v", err)
	}
}

// goroutines returns the stacks of the process's goroutines by id.
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		line, _, _ := bytes.Cut(g, []byte("\n"))
		f := strings.Fields(string(line))
		if len(f) >= 2 && f[0] == "goroutine" {
			out[f[1]] = string(g)
		}
	}
	return out
}

// waitGoroutines waits up to d until no goroutine other than those of before (and the test runner's
// and ignored ones) runs; it returns the stacks of the remaining ones.
func waitGoroutines(before map[string]string, ignore []string, d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		var extra []string
		for id, st := range goroutines() {
			if _, ok := before[id]; ok || ignorable(st, ignore) {
				continue
			}
			extra = append(extra, st)
		}
		if len(extra) == 0 || time.Now().After(deadline) {
			return extra
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ignorable(stack string, ignore []string) bool {
	for _, s := range append([]string{"bridgetest.goroutines", "testing.tRunner", "testing.(*T).Run",
		"bridgetest.closeWithin", "os/signal.", "runtime.ensureSigM"}, ignore...) {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}
