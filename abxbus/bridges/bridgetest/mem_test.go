package bridgetest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

// memBridge is an in-process bridge: every bridge on one hub receives what any of them emits. It is
// the suite's reference implementation, and, with a fault switched on, the broken bridge the suite
// must catch.
type memBridge struct {
	hub    *hub
	bus    *abxbus.Bus
	max    int
	fault  string
	logger *slog.Logger

	mu      sync.Mutex
	started bool
	closed  bool
	inbox   chan []byte
	stop    chan struct{}
	wg      sync.WaitGroup
	held    []byte // fault "reorder": a frame held back to go after the next one
}

type hub struct {
	mu   sync.Mutex
	subs []*memBridge
}

func (h *hub) publish(data []byte) {
	h.mu.Lock()
	subs := append([]*memBridge(nil), h.subs...)
	h.mu.Unlock()
	for _, s := range subs {
		select {
		case s.inbox <- data:
		case <-s.stop:
		}
	}
}

func newMem(h *hub, max int, fault string, logger *slog.Logger) (*memBridge, error) {
	bus, err := abxbus.New("MemBridge", &abxbus.Options{MaxHistorySize: abxbus.Ptr(0), Logger: logger})
	if err != nil {
		return nil, err
	}
	return &memBridge{hub: h, bus: bus, max: max, fault: fault, logger: logger,
		inbox: make(chan []byte, 1<<14), stop: make(chan struct{})}, nil
}

func (b *memBridge) Features() bridges.Features {
	return bridges.Features{Ordered: true, FanOut: true, MaxMessageBytes: b.max}
}

func (b *memBridge) Bus() *abxbus.Bus { return b.bus }

func (b *memBridge) Emit(ctx context.Context, e *abxbus.BaseEvent) error {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		if b.fault == "closed" {
			return errors.New("mem bridge: closed")
		}
		return fmt.Errorf("mem bridge: %w", bridges.ErrClosed)
	}
	data, err := e.ToJSON()
	if err != nil {
		return err
	}
	if b.max > 0 && len(data) > b.max && b.fault != "nolimit" {
		return bridges.TooLarge("mem bridge", e, len(data), b.max)
	}
	switch b.fault {
	case "dup":
		b.hub.publish(data)
	case "reorder":
		b.mu.Lock()
		held := b.held
		b.held = nil
		if held == nil {
			b.held = data
		}
		b.mu.Unlock()
		if held == nil {
			return nil
		}
		b.hub.publish(data)
		data = held
	}
	b.hub.publish(data)
	return nil
}

func (b *memBridge) Forward(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
	return nil, b.Emit(ctx, e)
}

func (b *memBridge) On(eventType string, fn abxbus.HandlerFunc, opts ...abxbus.HandlerOption) (*abxbus.Handler, error) {
	h, err := b.bus.OnType(eventType, fn, opts...)
	if err != nil {
		return nil, err
	}
	return h, b.Start()
}

func (b *memBridge) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("mem bridge: %w", bridges.ErrClosed)
	}
	if b.started && b.fault != "doublestart" {
		return nil
	}
	b.started = true
	b.hub.mu.Lock()
	b.hub.subs = append(b.hub.subs, b)
	b.hub.mu.Unlock()
	b.wg.Go(b.loop)
	if b.fault == "leak" {
		go func() { select {} }()
	}
	return nil
}

func (b *memBridge) loop() {
	for {
		select {
		case data := <-b.inbox:
			if !b.deliver(data) {
				return
			}
		case <-b.stop:
			return
		}
	}
}

func (b *memBridge) deliver(data []byte) bool {
	if b.fault == "nopath" {
		var m map[string]any
		if json.Unmarshal(data, &m) == nil {
			delete(m, "event_path")
			data, _ = json.Marshal(m)
		}
	}
	e, err := abxbus.FromJSON(data)
	if err != nil {
		b.logger.Warn("mem bridge: refused a frame", "error", err)
		return b.fault != "badframe"
	}
	r, err := e.Reset()
	if b.fault == "noreset" {
		r = e
	}
	if err != nil {
		b.logger.Warn("mem bridge: refused a frame", "error", err)
		return true
	}
	if _, err := b.bus.Emit(context.Background(), r); err != nil {
		b.logger.Warn("mem bridge: inbound emit", "error", err)
	}
	return true
}

func (b *memBridge) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.hub.mu.Lock()
	subs := b.hub.subs[:0]
	for _, s := range b.hub.subs {
		if s != b {
			subs = append(subs, s)
		}
	}
	b.hub.subs = subs
	b.hub.mu.Unlock()
	close(b.stop)
	b.wg.Wait()
	b.bus.Destroy(true)
	return nil
}
