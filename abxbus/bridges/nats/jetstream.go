package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Headers of a dead-lettered event (the body is the event JSON as it was received).
const (
	HeaderDeadReason   = "Abxbus-Dead-Reason"
	HeaderDeadStream   = "Abxbus-Dead-Stream"
	HeaderDeadSequence = "Abxbus-Dead-Sequence"
	HeaderDeadConsumer = "Abxbus-Dead-Consumer"
	HeaderDeliveries   = "Abxbus-Deliveries"
)

// setupStream binds the stream when it exists (checking that it captures the subject) or creates it,
// and does the same for the dead-letter stream.
func (br *Bridge) setupStream() error {
	js, err := jetstream.New(br.nc)
	if err != nil {
		return fmt.Errorf("nats bridge: jetstream: %w", err)
	}
	br.js = js
	o := &br.opts
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var cfg jetstream.StreamConfig
	if o.StreamConfig != nil {
		cfg = *o.StreamConfig
	}
	if cfg.Name == "" {
		cfg.Name = o.Stream
	}
	o.Stream = cfg.Name
	if len(cfg.Subjects) == 0 {
		cfg.Subjects = o.Subjects
	}
	o.Subjects = cfg.Subjects
	if cfg.Replicas == 0 {
		cfg.Replicas = o.Replicas
	}
	if o.MemoryStorage {
		cfg.Storage = jetstream.MemoryStorage
	}
	if err := o.checkCaptures(cfg.Subjects); err != nil {
		return err
	}
	subjects, err := ensureStream(ctx, js, cfg, br.subject)
	if err != nil {
		return err
	}
	if err := o.checkCaptures(subjects); err != nil { // a bound stream has its own subjects
		return err
	}
	if o.DeadLetter != "-" {
		if name, err := js.StreamNameBySubject(ctx, o.DeadLetter); err == nil && name != "" {
			return nil
		}
		if _, err := ensureStream(ctx, js, jetstream.StreamConfig{
			Name: o.Stream + "_DLQ", Subjects: []string{o.DeadLetter}, Storage: cfg.Storage, Replicas: cfg.Replicas,
		}, o.DeadLetter); err != nil {
			return err
		}
	}
	return nil
}

// checkCaptures refuses stream subjects that capture the call or the dead-letter subject.
func (o *Options) checkCaptures(subjects []string) error {
	for _, s := range subjects {
		if subjectMatches(s, o.CallSubject) {
			return fmt.Errorf("%w: nats bridge: the call subject %q is captured by the stream's subject %q (the stream would answer calls)", abxbus.ErrInvalidOption, o.CallSubject, s)
		}
		if o.DeadLetter != "-" && subjectMatches(s, o.DeadLetter) {
			return fmt.Errorf("%w: nats bridge: the dead-letter subject %q is captured by the stream's subject %q (a dead letter would be delivered again)", abxbus.ErrInvalidOption, o.DeadLetter, s)
		}
	}
	return nil
}

// ensureStream creates cfg's stream, or binds it when a stream of that name exists and captures
// subject; it returns the stream's subjects.
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig, subject string) ([]string, error) {
	var s jetstream.Stream
	var err error
	for attempt := 0; ; attempt++ {
		// A cluster that is still electing its meta leader answers late or with errors for a moment:
		// each attempt has its own short deadline.
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		s, err = js.Stream(actx, cfg.Name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			s, err = js.CreateStream(actx, cfg)
		}
		cancel()
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			continue // another process created it meanwhile
		}
		if err != nil && ctx.Err() == nil && retryable(err) {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		break
	}
	if err != nil {
		return nil, fmt.Errorf("nats bridge: stream %s: %w", cfg.Name, err)
	}
	info := s.CachedInfo()
	if !slices.ContainsFunc(info.Config.Subjects, func(p string) bool { return subjectMatches(p, subject) }) {
		return nil, fmt.Errorf("%w: nats bridge: the existing stream %s has subjects %v, which do not capture %q", abxbus.ErrInvalidOption, cfg.Name, info.Config.Subjects, subject)
	}
	return info.Config.Subjects, nil
}

func retryable(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrConnectionReconnecting) ||
		isAPIError(err, 10008) /* cluster not ready */ || isAPIError(err, 10005) || isAPIError(err, 10074) /* no suitable peers (yet) */
}

func isAPIError(err error, code jetstream.ErrorCode) bool {
	var ae *jetstream.APIError
	return errors.As(err, &ae) && ae.ErrorCode == code
}

// subjectMatches reports whether the subject pattern p (with * and > wildcards) matches subject s.
func subjectMatches(p, s string) bool {
	pt, st := splitTokens(p), splitTokens(s)
	for i, t := range pt {
		if t == ">" {
			return len(st) > i
		}
		if i >= len(st) || t != "*" && t != st[i] {
			return false
		}
	}
	return len(pt) == len(st)
}

func splitTokens(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// publishJS stores data in the stream, retrying until the stream acknowledges it or ctx ends.
func (br *Bridge) publishJS(ctx context.Context, e *abxbus.BaseEvent, data []byte) error {
	msg := &nats.Msg{Subject: br.subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(jetstream.MsgIDHeader, e.ID().String())
	wait := 20 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := br.js.PublishMsg(actx, msg)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			return fmt.Errorf("nats bridge %s: %s: %w", br.subject, e, err)
		}
		if errors.Is(err, nats.ErrConnectionClosed) {
			return fmt.Errorf("nats bridge %s: %s not stored: %w", br.subject, e, err)
		}
		var ae *jetstream.APIError
		if errors.As(err, &ae) && ae.Code >= 400 && ae.Code < 500 && ae.Code != 408 && !isAPIError(err, 10008) {
			return fmt.Errorf("nats bridge %s: %s refused by the stream: %w", br.subject, e, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("nats bridge %s: %s not stored (last error: %v): %w", br.subject, e, err, context.Cause(ctx))
		}
		br.opts.Logger.Debug("[abxbus] nats bridge: publish retried", "event", e, "error", err)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		wait = min(wait*2, time.Second)
	}
}

// jsEntry is a received event waiting for its handlers, with the message to acknowledge.
type jsEntry struct {
	msg jetstream.Msg
	e   *abxbus.BaseEvent
	// acked, when set, is closed once the server confirmed the acknowledgement (careful reading).
	acked chan struct{}
}

// startJS creates (or joins) the durable consumer and starts the reader and the acknowledger.
func (br *Bridge) startJS(ctx context.Context) error {
	o := &br.opts
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cfg := jetstream.ConsumerConfig{
		Durable:       o.Consumer,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		MaxDeliver:    o.MaxDeliver,
		AckWait:       o.AckWait,
		MaxAckPending: o.QueueSize,
		Replicas:      0,
	}
	if len(o.Subjects) != 1 || o.Subjects[0] != br.subject {
		cfg.FilterSubject = br.subject
	}
	var cons jetstream.Consumer
	var err error
	for {
		actx, acancel := context.WithTimeout(cctx, 3*time.Second)
		cons, err = br.js.CreateOrUpdateConsumer(actx, o.Stream, cfg)
		acancel()
		if err != nil && cctx.Err() == nil && retryable(err) {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		break
	}
	if err != nil {
		return fmt.Errorf("consumer %s on stream %s: %w", o.Consumer, o.Stream, err)
	}
	if err := br.subscribeMaxDeliveries(); err != nil {
		return fmt.Errorf("max-deliveries advisories: %w", err)
	}
	rctx, stopRead := context.WithCancel(ctx)
	br.stopRead = stopRead
	pending := make(chan jsEntry, o.QueueSize)
	br.wg.Add(2)
	br.readers.Add(1)
	go func() {
		defer br.wg.Done()
		defer br.readers.Done()
		defer close(pending)
		br.readJS(rctx, cons, pending)
	}()
	go func() {
		defer br.wg.Done()
		br.ackJS(ctx, pending)
	}()
	return nil
}

// readJS takes the consumer's messages in order and emits them on the inbound bus; pending (of
// capacity QueueSize) is the backpressure. It starts careful: one message per fetch, and a redelivered
// message is handled before the next is fetched, so a poison event that kills its worker uses up the
// deliveries of the events behind it at most once per crash of a worker that was reading in batches.
// The first message delivered for the first time switches to batches (a continuous pull of up to
// QueueSize messages).
func (br *Bridge) readJS(ctx context.Context, cons jetstream.Consumer, pending chan<- jsEntry) {
	careful := true
	var msgs jetstream.MessagesContext
	defer func() {
		if msgs != nil {
			msgs.Stop()
		}
	}()
	for ctx.Err() == nil {
		if careful {
			fctx, cancel := context.WithTimeout(ctx, br.pullExpiry())
			batch, err := cons.Fetch(1, jetstream.FetchContext(fctx))
			if err != nil {
				cancel()
				if fctx.Err() == nil {
					br.consumerTrouble(ctx, err)
				}
				continue
			}
			for msg := range batch.Messages() {
				if md, err := msg.Metadata(); err == nil && md.NumDelivered <= 1 {
					careful = false
					br.receiveJS(ctx, msg, pending, nil)
					continue
				}
				acked := make(chan struct{})
				if br.receiveJS(ctx, msg, pending, acked) {
					select {
					case <-acked:
					case <-ctx.Done():
					}
				}
			}
			if err := batch.Error(); err != nil && fctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) {
				br.consumerTrouble(ctx, err)
			}
			cancel()
			continue
		}
		if msgs == nil {
			m, err := cons.Messages(jetstream.PullMaxMessages(min(br.opts.QueueSize, 512)), jetstream.PullExpiry(br.pullExpiry()))
			if err != nil {
				br.consumerTrouble(ctx, err)
				continue
			}
			msgs = m
			stop := context.AfterFunc(ctx, func() { m.Drain() })
			defer stop()
		}
		msg, err := msgs.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			br.consumerTrouble(ctx, err)
			continue
		}
		br.receiveJS(ctx, msg, pending, nil)
	}
}

// pullExpiry is how long a pull request waits on the server: shorter than AckWait (at least 1 s, at
// most 5 s), because a server (2.9) delivers to the open pull requests of a worker that died until
// they expire, and each such delivery counts towards MaxDeliver.
func (br *Bridge) pullExpiry() time.Duration {
	return min(max(br.opts.AckWait/2, time.Second), 5*time.Second)
}

// consumerTrouble reports a consumer error and pauses a little.
func (br *Bridge) consumerTrouble(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	br.opts.Logger.Warn("[abxbus] nats bridge: consumer", "consumer", br.opts.Consumer, "error", err)
	if br.opts.OnError != nil {
		br.opts.OnError(fmt.Errorf("nats bridge %s: consumer %s: %w", br.subject, br.opts.Consumer, err))
	}
	select {
	case <-ctx.Done():
	case <-time.After(100 * time.Millisecond):
	}
}

// receiveJS decodes one message and emits it on the inbound bus (or dead-letters it when it does not
// decode, or acknowledges it when it is the bridge's own echo); it reports whether an event was emitted. acked (optional) is closed once the event's
// acknowledgement (or Nak, or dead-lettering) was confirmed by the server.
func (br *Bridge) receiveJS(ctx context.Context, msg jetstream.Msg, pending chan<- jsEntry, acked chan struct{}) bool {
	e, derr := br.decode(msg.Data())
	if derr != nil {
		seq := uint64(0)
		if md, err := msg.Metadata(); err == nil {
			seq = md.Sequence.Stream
		}
		br.refuse(msg.Subject(), seq, len(msg.Data()), derr)
		br.deadLetter(msg, "undecodable: "+derr.Error())
		return false
	}
	if br.ownEcho(e) {
		if err := msg.Ack(); err != nil {
			br.opts.Logger.Warn("[abxbus] nats bridge: ack", "event", e, "error", err)
		}
		return false
	}
	// Messages already fetched are handled at Close too: only the end of Close's wait stops them.
	select {
	case pending <- jsEntry{msg: msg, e: e, acked: acked}:
	case <-br.ctx.Done():
		return false // not acknowledged: delivered again
	}
	if _, err := br.bus.Emit(context.Background(), e); err != nil {
		br.opts.Logger.Warn("[abxbus] nats bridge: inbound emit refused", "event", e, "error", err)
	}
	return true
}

// ackJS acknowledges the received events in order, each once its handlers finished: Ack when all
// succeeded, else Nak (delivered again) or, on the last allowed delivery, dead-letter and Term.
func (br *Bridge) ackJS(ctx context.Context, pending <-chan jsEntry) {
	tick := time.NewTicker(max(br.opts.AckWait/2, 10*time.Millisecond))
	defer tick.Stop()
	for en := range pending {
	wait:
		for {
			select {
			case <-en.e.Done():
				break wait
			case <-tick.C:
				// A long handler keeps its event: the server's AckWait starts again.
				en.msg.InProgress()
			case <-ctx.Done():
				break wait
			}
		}
		if ctx.Err() != nil && !isDone(en.e) {
			continue // not acknowledged: delivered again after AckWait
		}
		br.settle(en)
	}
}

// settle acknowledges one finished event: Ack when its handlers succeeded, else Nak or, on the last
// allowed delivery, dead-letter and Term. A careful entry's Ack waits for the server's confirmation.
func (br *Bridge) settle(en jsEntry) {
	if en.acked != nil {
		defer close(en.acked)
	}
	failure := handlerFailure(en.e)
	if failure == nil {
		var err error
		if en.acked != nil {
			ctx, cancel := context.WithTimeout(br.ctx, 5*time.Second)
			err = en.msg.DoubleAck(ctx)
			cancel()
		} else {
			err = en.msg.Ack()
		}
		if err != nil {
			br.opts.Logger.Warn("[abxbus] nats bridge: ack", "event", en.e, "error", err)
		}
		return
	}
	md, err := en.msg.Metadata()
	if err == nil && md.NumDelivered >= uint64(br.opts.MaxDeliver) {
		br.deadLetter(en.msg, fmt.Sprintf("failed %d deliveries; last: %v", md.NumDelivered, failure))
		return
	}
	if br.opts.RetryDelay > 0 {
		err = en.msg.NakWithDelay(br.opts.RetryDelay)
	} else {
		err = en.msg.Nak()
	}
	if err != nil {
		br.opts.Logger.Warn("[abxbus] nats bridge: nak", "event", en.e, "error", err)
	}
}

func isDone(e *abxbus.BaseEvent) bool {
	select {
	case <-e.Done():
		return true
	default:
		return false
	}
}

// handlerFailure returns the first error of the event's handlers (nil: all succeeded).
func handlerFailure(e *abxbus.BaseEvent) error {
	for _, r := range e.Results() {
		if err := r.Err(); err != nil {
			return err
		}
	}
	return nil
}

// deadLetter publishes msg to the dead-letter subject (stored by its stream), then terminates it, so
// the consumer does not deliver it again. Without a dead-letter subject the event is only terminated.
// When the publish fails the message is left unacknowledged: the server delivers it again.
func (br *Bridge) deadLetter(msg jetstream.Msg, reason string) {
	stream, seq, deliveries := "", uint64(0), uint64(0)
	if md, err := msg.Metadata(); err == nil {
		stream, seq, deliveries = md.Stream, md.Sequence.Stream, md.NumDelivered
	}
	if !br.publishDeadLetter(msg.Data(), reason, stream, seq, deliveries) {
		return
	}
	if err := msg.Term(); err != nil {
		br.opts.Logger.Warn("[abxbus] nats bridge: term", "error", err)
	}
}

// publishDeadLetter stores one dead letter; its message id (stream and sequence) makes the stream
// keep one copy when several workers report the same event.
func (br *Bridge) publishDeadLetter(data []byte, reason, stream string, seq, deliveries uint64) bool {
	o := &br.opts
	if o.DeadLetter != "-" {
		dl := &nats.Msg{Subject: o.DeadLetter, Data: data, Header: nats.Header{}}
		dl.Header.Set(HeaderDeadReason, reason)
		dl.Header.Set(HeaderDeadConsumer, o.Consumer)
		if stream != "" {
			dl.Header.Set(HeaderDeadStream, stream)
			dl.Header.Set(HeaderDeadSequence, strconv.FormatUint(seq, 10))
			dl.Header.Set(HeaderDeliveries, strconv.FormatUint(deliveries, 10))
			dl.Header.Set(jetstream.MsgIDHeader, stream+":"+strconv.FormatUint(seq, 10))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := br.js.PublishMsg(ctx, dl)
		cancel()
		if err != nil {
			br.opts.Logger.Error("[abxbus] nats bridge: dead-letter publish failed", "reason", reason, "stream", stream, "sequence", seq, "error", err)
			if o.OnError != nil {
				o.OnError(fmt.Errorf("nats bridge %s: dead-letter publish of %s:%d to %s: %w", br.subject, stream, seq, o.DeadLetter, err))
			}
			return false
		}
	}
	br.stats.mu.Lock()
	br.stats.deadLetter++
	br.stats.mu.Unlock()
	br.opts.Logger.Warn("[abxbus] nats bridge: event dead-lettered", "subject", o.DeadLetter, "stream", stream, "sequence", seq, "reason", reason)
	return true
}

// maxDeliveries is the server's advisory for an event that reached MaxDeliver without being
// acknowledged (its handlers never finished: the worker died or hung each time).
type maxDeliveries struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// subscribeMaxDeliveries dead-letters the events that the server stops delivering because they were
// never acknowledged: every listener of the consumer gets the advisory, and the dead-letter stream
// keeps one copy (message id).
func (br *Bridge) subscribeMaxDeliveries() error {
	if br.opts.DeadLetter == "-" {
		return nil
	}
	subj := "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + br.opts.Stream + "." + br.opts.Consumer
	sub, err := br.nc.Subscribe(subj, func(m *nats.Msg) {
		var a maxDeliveries
		if err := json.Unmarshal(m.Data, &a); err != nil || a.StreamSeq == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(br.ctx, 10*time.Second)
		defer cancel()
		st, err := br.js.Stream(ctx, a.Stream)
		var raw *jetstream.RawStreamMsg
		if err == nil {
			raw, err = st.GetMsg(ctx, a.StreamSeq)
		}
		if err != nil {
			br.opts.Logger.Error("[abxbus] nats bridge: an event reached MaxDeliver unacknowledged and could not be read for the dead letters", "stream", a.Stream, "sequence", a.StreamSeq, "error", err)
			return
		}
		br.publishDeadLetter(raw.Data, fmt.Sprintf("not acknowledged after %d deliveries (the handlers never finished)", a.Deliveries), a.Stream, a.StreamSeq, a.Deliveries)
	})
	if err != nil {
		return err
	}
	br.advSub = sub
	return nil
}
