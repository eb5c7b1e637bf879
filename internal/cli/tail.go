package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
)

const tailUsage = "usage: abxbus tail ADDRESS [--json] [--count N] [--from-start] [--cursor FILE] [--poll D]"

func init() {
	Register("tail", "print the events a bridge receives: tail ADDRESS [--json] [--count N] [--from-start] [--cursor FILE]", runTail)
}

// runTail prints the events that arrive on the bridge at ADDRESS until interrupted (or --count). A
// JSONL file (a plain path, file:// or jsonl://) is followed line by line: --json prints each line as
// written, and --from-start and --cursor apply. Any other address is opened with bridges.Open as its
// receiving end (OpenOptions.Listen: an HTTP address is listened on; --listen is accepted and changes
// nothing) and prints each received event, which
// the bridge reset (a fresh event_id, pending). Refused lines and frames and read problems go to
// stderr and following goes on; an address that cannot be followed at all is an error at once.
func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print one event JSON per line (for a JSONL file: the line as written)")
	_ = fs.Bool("listen", true, "accepted for compatibility: tail always opens the receiving end of the address (HTTP: listens on it)")
	fromStart := fs.Bool("from-start", false, "JSONL: print the lines already in the file first (without a saved cursor)")
	count := fs.Int("count", 0, "exit after this many events (0: until interrupted)")
	poll := fs.Duration("poll", 50*time.Millisecond, "JSONL: longest wait between looks at a quiet file")
	cursor := fs.String("cursor", "", "JSONL: cursor file; resume after the last event printed by an earlier run with the same cursor")
	maxLine := fs.Int("max-line", jsonl.DefaultMaxLineBytes, "JSONL: longest line accepted, in bytes; longer lines are skipped")
	address, err := parseFileArgs(fs, args)
	if err != nil {
		return err
	}
	if address == "" {
		return errors.New(tailUsage)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	seen := 0
	print := func(e *abxbus.BaseEvent, line []byte) {
		mu.Lock()
		defer mu.Unlock()
		if *count > 0 && seen >= *count {
			return
		}
		if *asJSON {
			fmt.Fprintf(stdout, "%s\n", line)
		} else {
			payload, _ := e.PayloadJSON()
			fmt.Fprintf(stdout, "%s %s %s %s %s\n", abxbus.FormatTimestamp(e.CreatedAt()), e.Type(), e.ID(), e.Status(), payload)
		}
		if seen++; *count > 0 && seen >= *count {
			cancel()
		}
	}
	path, isFile, err := jsonlPath(address)
	if err != nil {
		return err
	}
	if isFile {
		opts := &jsonl.Options{PollInterval: *poll, FromStart: *fromStart, Cursor: *cursor, MaxLineBytes: *maxLine,
			Logger:  slog.New(slog.DiscardHandler),
			OnError: func(err error) { fmt.Fprintf(stderr, "abxbus tail: %v\n", err) }}
		return jsonl.Follow(ctx, path, opts, func(line []byte, _ int64) error {
			e, err := abxbus.FromJSON(line)
			if err != nil {
				return err
			}
			print(e, line)
			return nil
		})
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, name := range []string{"from-start", "cursor", "poll", "max-line"} {
		if set[name] {
			return fmt.Errorf("--%s applies to JSONL files; other bridges take such options in their address", name)
		}
	}
	br, err := bridges.Open(ctx, address, &bridges.OpenOptions{Name: "AbxbusTail", Listen: true, // tail only receives
		Logger: slog.New(slog.NewTextHandler(stderr, nil))})
	if err != nil {
		return err
	}
	_, err = br.On("*", func(_ context.Context, e *abxbus.BaseEvent) (any, error) {
		// The event as received: a fresh pending copy, without this handler's running result.
		r, err := e.Reset()
		if err != nil {
			return nil, err
		}
		line, err := r.ToJSON()
		if err != nil {
			return nil, err
		}
		print(r, line)
		return nil, nil
	})
	if err == nil {
		// On started the listener: say so, for a script that emits only once tail listens.
		shown := address
		if u, perr := url.Parse(address); perr == nil {
			shown = u.Redacted()
		}
		fmt.Fprintf(stderr, "abxbus tail: listening on %s\n", shown)
		<-ctx.Done()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// jsonlPath reports whether address names a JSONL file (a plain path, or file:// or jsonl:// without
// options) and returns its path.
func jsonlPath(address string) (string, bool, error) {
	if !strings.Contains(address, "://") {
		return address, true, nil
	}
	u, err := url.Parse(address)
	if err != nil {
		return "", false, fmt.Errorf("address %q: %v", address, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "file", "jsonl":
	default:
		return "", false, nil
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", false, fmt.Errorf("address %q: a file address has no host (use %s:///absolute/path or a plain path)", address, u.Scheme)
	}
	if u.RawQuery != "" {
		return "", false, fmt.Errorf("address %q: tail takes JSONL options as flags (--cursor, --from-start, --poll)", address)
	}
	return u.Path, true, nil
}
