package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/middleware"
)

func init() {
	Register("replay", "re-emit the events of a WAL: replay WAL [--type PATTERN]... [--since T] [--until T] [--to ADDRESS]", runReplay)
}

// patterns is a repeatable flag of comma-separated event type patterns.
type patterns []string

func (p *patterns) String() string { return strings.Join(*p, ",") }
func (p *patterns) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*p = append(*p, s)
		}
	}
	return nil
}

// timeFlag parses RFC 3339 times (fractional seconds allowed).
type timeFlag struct{ t time.Time }

func (f *timeFlag) String() string {
	if f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339Nano)
}

func (f *timeFlag) Set(v string) error {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return fmt.Errorf("not an RFC 3339 time (2026-12-02T09:00:00Z): %q", v)
	}
	f.t = t
	return nil
}

// runReplay re-emits a WAL's events (reset, in order) into a fresh bus that prints each one as it is
// processed, or, with --to, forwards each to the bridge at ADDRESS.
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var types patterns
	var since, until timeFlag
	fs.Var(&types, "type", "replay only event types matching this pattern (path.Match syntax, e.g. User*); repeatable or comma-separated")
	fs.Var(&since, "since", "replay only events created at or after this RFC 3339 time")
	fs.Var(&until, "until", "replay only events created before this RFC 3339 time")
	to := fs.String("to", "", "forward the replayed events to the bridge at this address (bridges.Open) instead of printing them")
	path, err := parseFileArgs(fs, args)
	if err != nil {
		return err
	}
	if path == "" {
		return errors.New("usage: abxbus replay WAL [--type PATTERN]... [--since T] [--until T] [--to ADDRESS]")
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bus, err := abxbus.New("Replay", &abxbus.Options{MaxHistorySize: abxbus.Ptr(100), Logger: slog.New(slog.NewTextHandler(stderr, nil))})
	if err != nil {
		return err
	}
	defer bus.Destroy(true)
	var mu sync.Mutex // the printing handler runs on the bus's goroutines
	if *to != "" {
		br, err := bridges.Open(ctx, *to, nil)
		if err != nil {
			return err
		}
		defer br.Close()
		if _, err := bus.OnType("*", br.Forward, abxbus.WithName("forward")); err != nil {
			return err
		}
	} else {
		_, err := bus.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
			payload, _ := e.PayloadJSON()
			mu.Lock()
			fmt.Fprintf(stdout, "%s %s %s %s\n", abxbus.FormatTimestamp(e.CreatedAt()), e.Type(), e.ID(), payload)
			mu.Unlock()
			return nil, nil
		}, abxbus.WithName("print"))
		if err != nil {
			return err
		}
	}
	st, err := middleware.Replay(ctx, bus, f, &middleware.ReplayOptions{Types: types, Since: since.t, Until: until.t})
	if werr := bus.WaitUntilIdle(ctx); werr != nil && err == nil {
		err = werr
	}
	var failed []string
	for _, e := range bus.History() {
		for _, r := range e.Results() {
			if r.Err() != nil {
				failed = append(failed, fmt.Sprintf("%s: %v", e, r.Err()))
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if errors.Is(err, middleware.ErrTornLine) {
		fmt.Fprintf(stderr, "abxbus replay: %v\n", err) // expected after a crash: everything before it was replayed
		err = nil
	}
	fmt.Fprintf(stderr, "abxbus replay: %d events read, %d replayed, %d filtered out\n", st.Read, st.Emitted, st.Filtered)
	if err == nil && len(failed) > 0 {
		err = fmt.Errorf("%d events failed to forward:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return err
}
