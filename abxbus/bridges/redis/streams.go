package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/typedbus/abxbus-go/abxbus"
)

// Stream entry fields.
const (
	fieldEvent = "event" // the compact event JSON
)

// Delivery describes how a stream entry reached this worker. Handlers read it with DeliveryFrom.
type Delivery struct {
	// Stream and ID name the entry (ID is Redis' entry id, "1712345678901-0"); the pair is unique and
	// the same on every redelivery.
	Stream, ID string
	// EventID is the event_id the event had when it was emitted (the received event has a fresh one,
	// as every bridge resets inbound events); it is the same on every redelivery.
	EventID string
	// Deliveries counts the deliveries of this entry to the group, this one included (1 the first
	// time).
	Deliveries int
	// Group and Consumer are this worker's group and name.
	Group, Consumer string
}

type deliveryKey struct{}

// DeliveryFrom returns the Delivery of the stream entry being handled when ctx is (derived from) the
// context of a handler of an event received in ModeStreams, or of one of its children.
func DeliveryFrom(ctx context.Context) (Delivery, bool) {
	d, ok := ctx.Value(deliveryKey{}).(Delivery)
	return d, ok
}

// item is one entry on its way from the reader to the acknowledger.
type item struct {
	id         string
	raw        string
	values     map[string]any
	deliveries int
	e          *abxbus.BaseEvent // nil: refused, goes to the dead letter at once
	refused    error
	wait       func(ctx context.Context) (error, bool) // handler error; false when ctx ended first
}

// consumer reads one stream as one member of a group and hands entries to a delivery function.
type consumer struct {
	br      *Bridge
	reader  *goredis.Client // blocking reads (closed by Close to interrupt them)
	writer  *goredis.Client // acks, claims, dead letters
	stream  string
	dead    string
	group   string
	name    string
	startID string
	o       *Options
	// deliver emits the decoded event (or runs a call) and returns how to wait for its outcome.
	deliver func(ctx context.Context, it *item) func(ctx context.Context) (error, bool)

	mu      sync.Mutex
	pending map[string]bool // entries handed over and not yet settled by this worker
}

func (br *Bridge) startStreams(ctx context.Context) (func(context.Context), error) {
	c := br.newConsumer(br.stream, br.dead, br.opts.Group, br.opts.Consumer)
	c.deliver = br.deliverStream
	if br.deliverFn != nil {
		c.deliver = br.deliverFn
	}
	if err := c.ensureGroup(ctx); err != nil {
		c.reader.Close()
		return nil, err
	}
	br.reader = c.reader
	br.closers = append(br.closers, func() { c.reader.Close() })
	return c.run, nil
}

func (br *Bridge) newConsumer(stream, dead, group, name string) *consumer {
	c := &consumer{br: br, reader: goredis.NewClient(br.copts), writer: br.pub, stream: stream, dead: dead,
		group: group, name: name, o: &br.opts, pending: map[string]bool{}}
	c.startID = "0"
	if br.opts.StartAtEnd {
		c.startID = "$"
	}
	return c
}

// ensureGroup creates the group (and the stream) unless it exists.
func (c *consumer) ensureGroup(ctx context.Context) error {
	err := c.writer.XGroupCreateMkStream(ctx, c.stream, c.group, c.startID).Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("XGROUP CREATE %s %s: %w", c.stream, c.group, err)
	}
	return nil
}

// run reads until ctx ends: this consumer's own unacknowledged entries first (a restart), then new
// entries, claiming entries idle longer than ClaimIdle from any consumer of the group every
// ClaimIdle/2. An acknowledger goroutine settles the entries in order.
func (c *consumer) run(ctx context.Context) {
	defer c.reader.Close()
	queue := make(chan *item, c.o.QueueSize)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.settle(ctx, queue)
	}()
	defer func() {
		close(queue)
		wg.Wait()
	}()

	hand := func(it *item) bool {
		c.mu.Lock()
		if c.pending[it.id] {
			c.mu.Unlock()
			return true // still being handled here (a slow handler whose entry went idle)
		}
		c.pending[it.id] = true
		c.mu.Unlock()
		it.wait = c.deliver(ctx, it)
		select {
		case queue <- it:
			return true
		case <-ctx.Done():
			return false
		}
	}
	fails := 0
	problem := func(what string, err error) bool {
		if ctx.Err() != nil {
			return false
		}
		if fails == 0 {
			c.br.report(what+"; retrying", err)
		}
		fails++
		if isNoGroup(err) {
			if gerr := c.ensureGroup(ctx); gerr == nil {
				c.br.opts.Logger.Warn("[abxbus] redis bridge: consumer group was missing (server restarted without persistence?); created it again",
					"bridge", c.br.label)
			}
		}
		return backoff(ctx, fails)
	}

	// This consumer's own pending entries: delivered to a previous run under this name.
	for own := "0"; ctx.Err() == nil; {
		res, err := c.reader.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: c.group, Consumer: c.name,
			Streams: []string{c.stream, own}, Count: int64(c.o.BatchSize)}).Result()
		if err != nil {
			if !problem("reading own pending entries", err) {
				return
			}
			continue
		}
		fails = 0
		msgs := messagesOf(res)
		if len(msgs) == 0 {
			break
		}
		for _, it := range c.items(ctx, msgs, true) {
			if !hand(it) {
				return
			}
		}
		own = msgs[len(msgs)-1].ID
	}

	claimEvery := c.o.ClaimIdle / 2
	nextClaim := time.Now()
	for ctx.Err() == nil {
		if !time.Now().Before(nextClaim) {
			if !c.claim(ctx, hand, problem) {
				return
			}
			nextClaim = time.Now().Add(claimEvery)
		}
		block := max(time.Until(nextClaim), time.Millisecond)
		res, err := c.reader.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: c.group, Consumer: c.name,
			Streams: []string{c.stream, ">"}, Count: int64(c.o.BatchSize), Block: block}).Result()
		if errors.Is(err, goredis.Nil) {
			fails = 0
			continue
		}
		if err != nil {
			if !problem("reading the stream", err) {
				return
			}
			continue
		}
		if fails > 0 {
			c.br.opts.Logger.Info("[abxbus] redis bridge: reading the stream again", "bridge", c.br.label, "attempts", fails)
		}
		fails = 0
		for _, it := range c.items(ctx, messagesOf(res), false) {
			if !hand(it) {
				return
			}
		}
	}
}

// claim takes over the group's entries idle longer than ClaimIdle (XAUTOCLAIM) and hands them on.
func (c *consumer) claim(ctx context.Context, hand func(*item) bool, problem func(string, error) bool) bool {
	for start := "0-0"; ; {
		msgs, next, err := c.writer.XAutoClaim(ctx, &goredis.XAutoClaimArgs{Stream: c.stream, Group: c.group,
			MinIdle: c.o.ClaimIdle, Start: start, Count: int64(c.o.BatchSize), Consumer: c.name}).Result()
		if err != nil {
			return problem("claiming idle entries", err)
		}
		if len(msgs) > 0 {
			c.br.opts.Logger.Info("[abxbus] redis bridge: claimed idle entries", "bridge", c.br.label, "count", len(msgs))
		}
		for _, it := range c.items(ctx, msgs, true) {
			if !hand(it) {
				return false
			}
		}
		if next == "0-0" || next == "" || next == start {
			return true
		}
		start = next
	}
}

func isNoGroup(err error) bool { return err != nil && strings.HasPrefix(err.Error(), "NOGROUP") }

func messagesOf(res []goredis.XStream) []goredis.XMessage {
	if len(res) == 0 {
		return nil
	}
	return res[0].Messages
}

// items decodes entries; redelivered ones get their delivery counts from XPENDING.
func (c *consumer) items(ctx context.Context, msgs []goredis.XMessage, redelivered bool) []*item {
	out := make([]*item, 0, len(msgs))
	var counts []*goredis.XPendingExtCmd
	if redelivered && len(msgs) > 0 {
		p := c.writer.Pipeline()
		for _, m := range msgs {
			counts = append(counts, p.XPendingExt(ctx, &goredis.XPendingExtArgs{Stream: c.stream, Group: c.group,
				Start: m.ID, End: m.ID, Count: 1}))
		}
		p.Exec(ctx) // errors are read per command below
	}
	for i, m := range msgs {
		it := &item{id: m.ID, deliveries: 1}
		if counts != nil {
			if p, err := counts[i].Result(); err == nil && len(p) == 1 {
				it.deliveries = int(p[0].RetryCount)
			}
		}
		raw, ok := m.Values[fieldEvent].(string)
		it.raw, it.values = raw, m.Values
		if !ok {
			if m.Values == nil { // deleted or trimmed while pending: nothing left to deliver
				it.refused = errors.New("the entry was deleted or trimmed from the stream")
			} else {
				it.refused = fmt.Errorf("no %q field", fieldEvent)
			}
		}
		out = append(out, it)
	}
	return out
}

// deliverStream decodes an entry and emits it on the inbound bus; the wait reports the first handler
// error once the event completed.
func (br *Bridge) deliverStream(ctx context.Context, it *item) func(ctx context.Context) (error, bool) {
	if it.refused != nil {
		return nil
	}
	e, orig, err := br.decode([]byte(it.raw))
	if err != nil {
		it.refused = err
		return nil
	}
	it.e = e
	if br.echo(e) {
		return func(context.Context) (error, bool) { return nil, true } // handled: acknowledged
	}
	d := Delivery{Stream: br.stream, ID: it.id, EventID: orig, Deliveries: it.deliveries,
		Group: br.opts.Group, Consumer: br.opts.Consumer}
	if _, err := br.bus.Emit(context.WithValue(context.Background(), deliveryKey{}, d), e); err != nil {
		return func(context.Context) (error, bool) { return err, true }
	}
	return func(ctx context.Context) (error, bool) {
		select {
		case <-e.Done():
		case <-ctx.Done():
			select {
			case <-e.Done():
			default:
				return nil, false
			}
		}
		return handlerError(e), true
	}
}

// handlerError returns the first handler error of a completed event.
func handlerError(e *abxbus.BaseEvent) error {
	for _, r := range e.Results() {
		if r.Status() == abxbus.ResultError {
			if err := r.Err(); err != nil {
				return fmt.Errorf("handler %s: %w", r.HandlerName(), err)
			}
			return fmt.Errorf("handler %s failed", r.HandlerName())
		}
	}
	return nil
}

// settle acknowledges entries in the order they were handed over, once their handling is over: XACK
// after success; after a failure, nothing (the entry is claimed again after ClaimIdle) unless it was
// the MaxDeliveries-th delivery, then it moves to the dead-letter stream. It returns when queue is
// closed. When ctx ends (Close) it goes on settling, as they complete, the entries handed over before,
// for up to DrainTimeout (the drain of Close); entries not over by then stay pending, for the next
// run or another worker.
func (c *consumer) settle(runCtx context.Context, queue <-chan *item) {
	now, cancel := context.WithCancel(context.Background())
	cancel() // a done context: it.wait(now) reports whether the entry's handling is already over
	ctx, stop := drainContext(runCtx, c.o.DrainTimeout)
	defer stop()
	var carry *item
	for {
		it := carry
		carry = nil
		if it == nil {
			var ok bool
			if it, ok = <-queue; !ok {
				return
			}
		}
		var herr error
		if it.refused == nil {
			var ok bool
			herr, ok = it.wait(ctx)
			if !ok {
				continue // Close: left pending
			}
		}
		if it.refused != nil || herr != nil {
			c.settleOne(ctx, it, herr)
			c.forget(it.id)
			continue
		}
		// Acknowledge together the successes that are already over after it, in one XACK.
		ids := []string{it.id}
	batch:
		for len(ids) < c.o.BatchSize {
			select {
			case nx, ok := <-queue:
				if !ok {
					break batch
				}
				if nx.refused == nil {
					if err, done := nx.wait(now); done && err == nil {
						ids = append(ids, nx.id)
						continue
					}
				}
				carry = nx
				break batch
			default:
				break batch
			}
		}
		c.retry(ctx, "XACK", func(ctx context.Context) error { return c.writer.XAck(ctx, c.stream, c.group, ids...).Err() })
		c.forget(ids...)
	}
}

// drainContext returns a context that ends d after ctx ended (at once when d <= 0), and its cancel
// function, which also stops the timer.
func drainContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var mu sync.Mutex
	var timer *time.Timer
	stopped := false
	stopAfter := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case stopped:
		case d <= 0:
			cancel()
		default:
			timer = time.AfterFunc(d, cancel)
		}
	})
	return dctx, func() {
		stopAfter()
		mu.Lock()
		stopped = true
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// forget drops settled entries from the set of entries being handled here.
func (c *consumer) forget(ids ...string) {
	c.mu.Lock()
	for _, id := range ids {
		delete(c.pending, id)
	}
	c.mu.Unlock()
}

func (c *consumer) settleOne(ctx context.Context, it *item, herr error) {
	switch {
	case it.refused != nil:
		c.br.report("moving a refused entry to the dead-letter stream "+c.dead,
			&MessageError{Source: c.stream, ID: it.id, Len: len(it.raw), Err: it.refused})
		c.retry(ctx, "dead-lettering", func(ctx context.Context) error { return c.deadLetter(ctx, it, it.refused) })
	case it.deliveries >= c.o.MaxDeliveries:
		c.br.report("moving an entry to the dead-letter stream "+c.dead+" after "+strconv.Itoa(it.deliveries)+" deliveries", herr,
			"entry", it.id)
		c.retry(ctx, "dead-lettering", func(ctx context.Context) error { return c.deadLetter(ctx, it, herr) })
	default:
		c.br.opts.Logger.Warn("[abxbus] redis bridge: handling failed; the entry will be delivered again",
			"bridge", c.br.label, "entry", it.id, "deliveries", it.deliveries, "after", c.o.ClaimIdle, "error", herr)
	}
}

// deadLetter adds the entry to the dead-letter stream with why, and acknowledges it, atomically.
func (c *consumer) deadLetter(ctx context.Context, it *item, why error) error {
	_, err := c.writer.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		a := &goredis.XAddArgs{Stream: c.dead, Values: []any{fieldEvent, it.raw, "stream", c.stream, "id", it.id,
			"group", c.group, "consumer", c.name, "deliveries", it.deliveries, "error", why.Error()}}
		if c.o.MaxLen > 0 {
			a.MaxLen, a.Approx = c.o.MaxLen, true
		}
		p.XAdd(ctx, a)
		p.XAck(ctx, c.stream, c.group, it.id)
		return nil
	})
	return err
}

// retry runs op until it succeeds or ctx ends (then the entry stays pending: redelivered later). ctx is
// settle's, which lasts DrainTimeout past Close (what completes within it is still acknowledged); each
// attempt has two seconds, and none outlasts Close's drain deadline.
func (c *consumer) retry(ctx context.Context, what string, op func(ctx context.Context) error) {
	for n := 0; ; n++ {
		deadline := time.Now().Add(2 * time.Second)
		if end := c.br.drainEnd.Load(); end != 0 && end < deadline.UnixNano() {
			deadline = time.Unix(0, end)
		}
		octx, cancel := context.WithDeadline(ctx, deadline)
		err := op(octx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return
		}
		if n == 0 {
			c.br.report(what+" failed; retrying", err)
		}
		if !backoff(ctx, n+1) {
			return
		}
	}
}
