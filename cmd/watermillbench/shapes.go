package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/typedbus/abxbus-go/abxbus"
)

// The other shapes of abxbus bench that map onto watermill's GoChannel (issue 13 item 1): ephemeral,
// onoff and the two fanouts. handlers (50,000 subscribers of one message), worst (timeouts) and
// cleanup (history trimming) have no GoChannel counterpart worth timing. Each variant checks that
// every event was handled (and, for abxbus, that it completed).

const (
	ephemeralPerBus = 100
	fanoutHandlers  = 4
	fanoutBatch     = 40
	fanoutSleep     = 1500 * time.Microsecond
)

type ephemeralSize struct{ buses int }

func ephemeralShape(c config) ephemeralSize { return ephemeralSize{buses: c.scaled(500, 2)} }

func fanoutUnits(c config) int { return c.scaled(800, 2*fanoutBatch) }

// EphemeralEvent is the ephemeral shape's event; OneOffEvent and FanoutEvent are those of the other
// shapes (JSON on the watermill side).
type EphemeralEvent struct {
	abxbus.Returns[int]
	Value int `json:"value"`
}

type OneOffEvent struct {
	abxbus.Returns[int]
	Value int `json:"value"`
}

type FanoutEvent struct {
	abxbus.Returns[int]
	Value int `json:"value"`
}

func wantHandled(got, want int64) error {
	if got != want {
		return fmt.Errorf("handled %d times, want %d", got, want)
	}
	return nil
}

// ephemeral: 500 buses one after another (history 128, drop), 100 events each awaited, then destroyed.
func runAbxbusEphemeral(ctx context.Context, cfg config) (measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	size := ephemeralShape(cfg)
	var handled atomic.Int64
	batch := make([]*abxbus.Event[EphemeralEvent, int], 0, ephemeralPerBus)
	m := startMeter()
	for b := range size.buses {
		bus, err := abxbus.New(fmt.Sprintf("Ephemeral%d", b), &abxbus.Options{MaxHistorySize: abxbus.Ptr(128), MaxHistoryDrop: true})
		if err != nil {
			return m.stop(), err
		}
		if _, err := abxbus.On(bus, func(ctx context.Context, p EphemeralEvent) (int, error) {
			handled.Add(1)
			return p.Value + 1, nil
		}); err != nil {
			bus.Destroy(true)
			return m.stop(), err
		}
		for i := range ephemeralPerBus {
			e, err := abxbus.Emit(ctx, bus, EphemeralEvent{Value: i})
			if err != nil {
				bus.Destroy(true)
				return m.stop(), err
			}
			batch = append(batch, e)
		}
		for _, e := range batch {
			if err := e.Wait(ctx); err != nil {
				bus.Destroy(true)
				return m.stop(), err
			}
		}
		clear(batch)
		batch = batch[:0]
		bus.Destroy(true)
	}
	meas := m.stop()
	return meas, wantHandled(handled.Load(), int64(size.buses*ephemeralPerBus))
}

// subscribe starts one subscriber goroutine on topic that runs handle on each message (decoded from
// JSON), acks it and counts it down on pending. It returns a channel closed when the subscriber ends
// (after the pub/sub is closed or ctx ends).
func subscribe[T any](ctx context.Context, ps *gochannel.GoChannel, topic string, pending *sync.WaitGroup, bad *atomic.Int64, handle func(T)) (<-chan struct{}, error) {
	msgs, err := ps.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for msg := range msgs {
			var p T
			if err := json.Unmarshal(msg.Payload, &p); err != nil {
				bad.Add(1)
			} else {
				handle(p)
			}
			msg.Ack()
			pending.Done()
		}
	}()
	return done, nil
}

func publishJSON(ps *gochannel.GoChannel, topic string, v any) error {
	payload, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return ps.Publish(topic, message.NewMessage(watermill.NewUUID(), payload))
}

func runGoChannelEphemeral(ctx context.Context, cfg config) (measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	const topic = "ephemeral_event"
	size := ephemeralShape(cfg)
	var handled, bad atomic.Int64
	m := startMeter()
	for range size.buses {
		ps := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
		var pending sync.WaitGroup
		done, err := subscribe(ctx, ps, topic, &pending, &bad, func(p EphemeralEvent) { handled.Add(1) })
		if err != nil {
			ps.Close()
			return m.stop(), err
		}
		var runErr error
		for i := 0; i < ephemeralPerBus && runErr == nil; i++ {
			pending.Add(1)
			if runErr = publishJSON(ps, topic, EphemeralEvent{Value: i}); runErr != nil {
				pending.Done()
			}
		}
		if runErr == nil {
			runErr = waitGroup(ctx, &pending)
		}
		if err := ps.Close(); err != nil && runErr == nil {
			runErr = err
		}
		<-done
		if runErr != nil {
			return m.stop(), runErr
		}
	}
	meas := m.stop()
	if x := bad.Load(); x != 0 {
		return meas, fmt.Errorf("%d messages did not decode", x)
	}
	return meas, wantHandled(handled.Load(), int64(size.buses*ephemeralPerBus))
}

// onoff: one bus; per event register a handler, emit, await, unregister.
func runAbxbusOnOff(ctx context.Context, cfg config) (measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	n := cfg.scaled(50_000, 100)
	bus, err := abxbus.New("OnOffBus", &abxbus.Options{MaxHistorySize: abxbus.Ptr(128), MaxHistoryDrop: true})
	if err != nil {
		return measurement{}, err
	}
	defer bus.Destroy(true)
	var handled atomic.Int64
	m := startMeter()
	for i := range n {
		h, err := abxbus.On(bus, func(ctx context.Context, p OneOffEvent) (int, error) {
			handled.Add(1)
			return p.Value, nil
		})
		if err != nil {
			return m.stop(), err
		}
		e, err := abxbus.Emit(ctx, bus, OneOffEvent{Value: i})
		if err != nil {
			return m.stop(), err
		}
		if err := e.Wait(ctx); err != nil {
			return m.stop(), err
		}
		bus.Off(h)
	}
	meas := m.stop()
	return meas, wantHandled(handled.Load(), int64(n))
}

func runGoChannelOnOff(ctx context.Context, cfg config) (measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	const topic = "one_off_event"
	n := cfg.scaled(50_000, 100)
	ps := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	defer ps.Close()
	var handled, bad atomic.Int64
	m := startMeter()
	for i := range n {
		subCtx, unsubscribe := context.WithCancel(ctx)
		var pending sync.WaitGroup
		pending.Add(1)
		done, err := subscribe(subCtx, ps, topic, &pending, &bad, func(p OneOffEvent) { handled.Add(1) })
		if err != nil {
			unsubscribe()
			return m.stop(), err
		}
		err = publishJSON(ps, topic, OneOffEvent{Value: i})
		if err == nil {
			err = waitGroup(ctx, &pending)
		}
		unsubscribe() // the subscription ends with its context
		<-done
		if err != nil {
			return m.stop(), err
		}
	}
	meas := m.stop()
	if x := bad.Load(); x != 0 {
		return meas, fmt.Errorf("%d messages did not decode", x)
	}
	return meas, wantHandled(handled.Load(), int64(n))
}

// fanout: 4 handlers sleeping 1.5 ms, 800 events in batches of 40; abxbus with serial or parallel
// handlers; GoChannel with one subscriber running the 4 handlers in turn, or 4 subscribers.
func runAbxbusFanout(ctx context.Context, cfg config, mode abxbus.HandlerConcurrency) (measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	n := fanoutUnits(cfg)
	bus, err := abxbus.New("FanoutBus", &abxbus.Options{MaxHistorySize: abxbus.Ptr(128), MaxHistoryDrop: true,
		HandlerConcurrency: mode, DetectFilePaths: abxbus.Ptr(false)})
	if err != nil {
		return measurement{}, err
	}
	defer bus.Destroy(true)
	var handled atomic.Int64
	for i := range fanoutHandlers {
		if _, err := abxbus.On(bus, func(ctx context.Context, p FanoutEvent) (int, error) {
			time.Sleep(fanoutSleep)
			handled.Add(1)
			return i, nil
		}, abxbus.WithName(fmt.Sprintf("fanout_handler_%d", i))); err != nil {
			return measurement{}, err
		}
	}
	batch := make([]*abxbus.Event[FanoutEvent, int], 0, fanoutBatch)
	await := func() error {
		for _, e := range batch {
			if err := e.Wait(ctx); err != nil {
				return err
			}
		}
		clear(batch)
		batch = batch[:0]
		return nil
	}
	m := startMeter()
	for i := range n {
		e, err := abxbus.Emit(ctx, bus, FanoutEvent{Value: i})
		if err != nil {
			return m.stop(), err
		}
		if batch = append(batch, e); len(batch) == fanoutBatch {
			if err := await(); err != nil {
				return m.stop(), err
			}
		}
	}
	if err := await(); err != nil {
		return m.stop(), err
	}
	meas := m.stop()
	return meas, wantHandled(handled.Load(), int64(n*fanoutHandlers))
}

func runAbxbusFanoutSerial(ctx context.Context, cfg config) (measurement, error) {
	return runAbxbusFanout(ctx, cfg, abxbus.HandlersSerial)
}

func runAbxbusFanoutParallel(ctx context.Context, cfg config) (measurement, error) {
	return runAbxbusFanout(ctx, cfg, abxbus.HandlersParallel)
}

func runGoChannelFanout(ctx context.Context, cfg config, parallel bool) (measurement, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	const topic = "fanout_event"
	n := fanoutUnits(cfg)
	ps := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	defer ps.Close()
	var handled, bad atomic.Int64
	var pending sync.WaitGroup
	perMessage := 1 // pending counts deliveries: one per subscriber
	var dones []<-chan struct{}
	if parallel {
		perMessage = fanoutHandlers
		for range fanoutHandlers {
			done, err := subscribe(ctx, ps, topic, &pending, &bad, func(p FanoutEvent) {
				time.Sleep(fanoutSleep)
				handled.Add(1)
			})
			if err != nil {
				return measurement{}, err
			}
			dones = append(dones, done)
		}
	} else {
		done, err := subscribe(ctx, ps, topic, &pending, &bad, func(p FanoutEvent) {
			for range fanoutHandlers {
				time.Sleep(fanoutSleep)
				handled.Add(1)
			}
		})
		if err != nil {
			return measurement{}, err
		}
		dones = append(dones, done)
	}
	m := startMeter()
	var runErr error
	for i := 0; i < n && runErr == nil; i++ {
		pending.Add(perMessage)
		if err := publishJSON(ps, topic, FanoutEvent{Value: i}); err != nil {
			pending.Add(-perMessage)
			runErr = err
			break
		}
		if (i+1)%fanoutBatch == 0 {
			runErr = waitGroup(ctx, &pending)
		}
	}
	if runErr == nil {
		runErr = waitGroup(ctx, &pending)
	}
	meas := m.stop()
	if err := ps.Close(); err != nil && runErr == nil {
		runErr = err
	}
	for _, d := range dones {
		<-d
	}
	if runErr != nil {
		return meas, runErr
	}
	if x := bad.Load(); x != 0 {
		return meas, errors.New("messages did not decode")
	}
	return meas, wantHandled(handled.Load(), int64(n*fanoutHandlers))
}

func runGoChannelFanoutSerial(ctx context.Context, cfg config) (measurement, error) {
	return runGoChannelFanout(ctx, cfg, false)
}

func runGoChannelFanoutParallel(ctx context.Context, cfg config) (measurement, error) {
	return runGoChannelFanout(ctx, cfg, true)
}
