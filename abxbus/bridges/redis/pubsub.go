package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/typedbus/abxbus-go/abxbus/bridges/internal/inbound"
)

// pingEvery is how long a quiet subscription waits before it checks the connection with a PING.
const pingEvery = 15 * time.Second

// MessageError is a pub/sub message or a stream entry that the bridge refused: not JSON, or not a valid
// event. The listener skips it (pub/sub) or moves it to the dead-letter stream (streams) and goes on.
type MessageError struct {
	// Source is the channel or the stream key.
	Source string
	// ID is the stream entry id ("" for pub/sub).
	ID string
	// Len is the message's length in bytes.
	Len int
	// Err is why it was refused.
	Err error
}

func (e *MessageError) Error() string {
	if e.ID != "" {
		return fmt.Sprintf("entry %s of stream %s (%d bytes) refused: %v", e.ID, e.Source, e.Len, e.Err)
	}
	return fmt.Sprintf("message on channel %s (%d bytes) refused: %v", e.Source, e.Len, e.Err)
}

func (e *MessageError) Unwrap() error { return e.Err }

// startPubSub subscribes and waits for the server's confirmation.
func (br *Bridge) startPubSub(ctx context.Context) (func(context.Context), error) {
	sub := goredis.NewClient(br.copts)
	ps := sub.Subscribe(ctx, br.channel)
	wait := br.copts.DialTimeout + br.copts.ReadTimeout
	if wait <= 0 {
		wait = 10 * time.Second
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		m, err := ps.Receive(wctx)
		if err != nil {
			ps.Close()
			sub.Close()
			return nil, fmt.Errorf("SUBSCRIBE %s: %w", br.channel, err)
		}
		if s, ok := m.(*goredis.Subscription); ok && s.Kind == "subscribe" && s.Channel == br.channel {
			break
		}
	}
	br.sub = ps
	br.closers = append(br.closers, func() { ps.Close() })
	return func(ctx context.Context) {
		defer sub.Close()
		br.runPubSub(ctx, ps)
	}, nil
}

// runPubSub receives messages until ctx ends, reconnecting and resubscribing when the connection
// breaks (go-redis resubscribes on the new connection; the confirmation is logged).
func (br *Bridge) runPubSub(ctx context.Context, ps *goredis.PubSub) {
	fails := 0
	for {
		msg, err := ps.ReceiveTimeout(ctx, pingEvery)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if perr := ps.Ping(ctx); perr == nil {
					continue
				}
			}
			if fails == 0 {
				br.report("subscription connection lost; reconnecting", err)
			}
			fails++
			if !backoff(ctx, fails) {
				return
			}
			continue
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			if fails > 0 && m.Kind == "subscribe" {
				br.opts.Logger.Info("[abxbus] redis bridge: subscribed again", "bridge", br.label, "attempts", fails)
			}
			fails = 0
		case *goredis.Message:
			fails = 0
			if m.Channel != br.channel {
				continue
			}
			if br.onRaw != nil {
				br.onRaw(m.Payload)
				continue
			}
			if !br.deliverPubSub(ctx, m.Payload) {
				return
			}
		}
	}
}

// deliverPubSub decodes one message and emits it on the inbound bus, keeping at most QueueSize events
// in flight (waiting for the oldest when full). It reports false when ctx ended while it waited.
func (br *Bridge) deliverPubSub(ctx context.Context, payload string) bool {
	e, err := br.in.Deliver(ctx, []byte(payload), true)
	var de *inbound.DecodeError
	var re *inbound.RefusedError
	switch {
	case errors.As(err, &de):
		br.report("skipping a message", &MessageError{Source: br.channel, Len: len(payload), Err: de.Err})
	case errors.As(err, &re):
		br.report("inbound bus refused an event", re.Err, "event", e.String())
	case err != nil:
		return false
	}
	return true
}
