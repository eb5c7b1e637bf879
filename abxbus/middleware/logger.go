package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/typedbus/abxbus-go/abxbus"
)

// LoggerOptions configures a Logger. The zero value (or nil) logs to slog.Default() at Info.
type LoggerOptions struct {
	// Logger receives the records. nil: slog.Default().
	Logger *slog.Logger
	// Path, when set, is a file the records are also appended to, one JSON object per line (the
	// log/slog JSON format). Its parent directories are created.
	Path string
	// Level is the level of the records (default Info).
	Level slog.Level
}

// Logger logs one record per completed event through log/slog: message "event completed", attribute
// "bus" (the label of the bus reporting it), then the event's metadata as the event JSON writes it
// (every top-level event_* key except the results, in wire order; null values are left out). Payload
// fields are not logged: they may hold sensitive data. An event forwarded between buses that both log
// is logged once per bus.
//
// Create one with NewLogger and Close it when the buses using it are done (only needed with Path). Safe
// for concurrent use; it implements abxbus.EventChangeHook. A record costs one encoding of the event's
// JSON.
type Logger struct {
	logger *slog.Logger
	file   *slog.Logger
	level  slog.Level

	mu     sync.Mutex
	f      *os.File
	closed bool
}

// NewLogger returns a Logger. Errors: the directories of opts.Path cannot be created or the file cannot
// be opened for appending (the error names the path).
func NewLogger(opts *LoggerOptions) (*Logger, error) {
	var o LoggerOptions
	if opts != nil {
		o = *opts
	}
	l := &Logger{logger: o.Logger, level: o.Level}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	if o.Path != "" {
		f, err := openAppend(o.Path)
		if err != nil {
			return nil, fmt.Errorf("abxbus middleware: Logger: %w", err)
		}
		l.f = f
		l.file = slog.New(slog.NewJSONHandler(lockedWriter{l}, &slog.HandlerOptions{Level: o.Level}))
	}
	return l, nil
}

// openAppend creates path's parent directories and opens it for appending.
func openAppend(path string) (*os.File, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create the directories of %s: %w", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return f, nil
}

// lockedWriter writes the file records, one Write per record, dropping them once the Logger is closed.
type lockedWriter struct{ l *Logger }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.l.mu.Lock()
	defer w.l.mu.Unlock()
	if w.l.closed {
		return len(p), nil
	}
	return w.l.f.Write(p)
}

// OnEventChange implements abxbus.EventChangeHook.
func (l *Logger) OnEventChange(b *abxbus.Bus, e *abxbus.BaseEvent, phase abxbus.EventStatus) {
	if phase != abxbus.EventCompleted {
		return
	}
	ctx := context.Background()
	toMain, toFile := l.logger.Enabled(ctx, l.level), l.file != nil && l.file.Enabled(ctx, l.level)
	if !toMain && !toFile {
		return
	}
	attrs, err := eventMetadata(e)
	if err != nil {
		b.Logger().Error("[abxbus] Logger middleware: cannot encode the event", "bus", b.Label(), "event", e, "error", err)
		return
	}
	attrs = append([]slog.Attr{slog.String("bus", b.Label())}, attrs...)
	if toMain {
		l.logger.LogAttrs(ctx, l.level, "event completed", attrs...)
	}
	if toFile {
		l.file.LogAttrs(ctx, l.level, "event completed", attrs...)
	}
}

// Close closes the log file (when Path was set); records of later completions go only to the logger.
// Calling it again does nothing.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed || l.f == nil {
		l.closed = true
		return nil
	}
	l.closed = true
	return l.f.Close()
}

// eventMetadata returns the top-level event_* keys of e's JSON (results excluded, nulls left out) as
// attributes, in wire order.
func eventMetadata(e *abxbus.BaseEvent) ([]slog.Attr, error) {
	data, err := e.ToJSON()
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return nil, err
	}
	var attrs []slog.Attr
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if !strings.HasPrefix(key, "event_") || strings.Contains(key, "results") || v == nil {
			continue
		}
		attrs = append(attrs, jsonAttr(key, v))
	}
	return attrs, nil
}

func jsonAttr(key string, v any) slog.Attr {
	switch x := v.(type) {
	case string:
		return slog.String(key, x)
	case bool:
		return slog.Bool(key, x)
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return slog.Int64(key, i)
		}
		f, _ := x.Float64()
		return slog.Float64(key, f)
	}
	return slog.Any(key, v)
}
