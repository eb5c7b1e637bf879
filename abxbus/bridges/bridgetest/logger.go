package bridgetest

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Logger returns a logger for the bridges a harness opens in t: its records go to t.Log (until t ends)
// and the suite reads them, for the check that bad frames are refused with a logged reason. Every
// call with the same t returns a logger on the same record; it is safe for concurrent use.
func Logger(t testing.TB) *slog.Logger {
	capturesMu.Lock()
	c := captures[t]
	if c == nil {
		c = &capture{t: t}
		c.inner = slog.NewTextHandler(&c.buf, &slog.HandlerOptions{Level: slog.LevelDebug})
		captures[t] = c
		t.Cleanup(func() {
			c.mu.Lock()
			c.done = true
			c.mu.Unlock()
			capturesMu.Lock()
			delete(captures, t)
			capturesMu.Unlock()
		})
	}
	capturesMu.Unlock()
	return slog.New(&captureHandler{c: c, inner: c.inner})
}

var (
	capturesMu sync.Mutex
	captures   = map[testing.TB]*capture{}
)

func captureOf(t testing.TB) *capture {
	capturesMu.Lock()
	defer capturesMu.Unlock()
	return captures[t]
}

type capture struct {
	t     testing.TB
	inner slog.Handler
	mu    sync.Mutex
	done  bool
	buf   bytes.Buffer // the text handler's output of the record being handled
	lines []string
	warns int
}

func (c *capture) warnings() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.warns
}

func (c *capture) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.lines, "")
}

type captureHandler struct {
	c     *capture
	inner slog.Handler
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *captureHandler) Handle(ctx context.Context, r slog.Record) error {
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	line := c.buf.String()
	c.lines = append(c.lines, line)
	if r.Level >= slog.LevelWarn {
		c.warns++
	}
	if !c.done {
		c.t.Log(strings.TrimSuffix(line, "\n"))
	}
	return nil
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &captureHandler{c: h.c, inner: h.inner.WithAttrs(as)}
}

func (h *captureHandler) WithGroup(name string) slog.Handler {
	return &captureHandler{c: h.c, inner: h.inner.WithGroup(name)}
}
