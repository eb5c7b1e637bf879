package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
)

func init() {
	Register("tail", "follow a JSONL bridge file and print each event: tail FILE [--json] [--from-start] [--count N] [--cursor FILE]", runTail)
}

// runTail prints the events of a JSONL file as they are appended. Refused lines and read problems are
// printed to stderr and following goes on; a path that cannot be followed at all (a directory, no
// permission) is an error at once.
func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	raw := fs.Bool("json", false, "print each event's JSON line as written")
	fromStart := fs.Bool("from-start", false, "print the lines already in the file first (without a saved cursor)")
	count := fs.Int("count", 0, "exit after this many events (0: until interrupted)")
	poll := fs.Duration("poll", 50*time.Millisecond, "longest wait between looks at a quiet file")
	cursor := fs.String("cursor", "", "cursor file: resume after the last event printed by an earlier run with the same cursor")
	maxLine := fs.Int("max-line", jsonl.DefaultMaxLineBytes, "longest line accepted, in bytes; longer lines are skipped")
	path, rest := splitFirstArg(args)
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if path == "" && fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	if path == "" {
		return errors.New("usage: abxbus tail FILE [--json] [--from-start] [--count N] [--cursor FILE]")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := 0
	opts := &jsonl.Options{PollInterval: *poll, FromStart: *fromStart, Cursor: *cursor, MaxLineBytes: *maxLine,
		Logger:  slog.New(slog.DiscardHandler),
		OnError: func(err error) { fmt.Fprintf(stderr, "abxbus tail: %v\n", err) }}
	return jsonl.Follow(ctx, path, opts, func(line []byte, _ int64) error {
		e, err := abxbus.FromJSON(line)
		switch {
		case err != nil:
			return err
		case *raw:
			fmt.Fprintf(stdout, "%s\n", line)
		default:
			payload, _ := e.PayloadJSON()
			fmt.Fprintf(stdout, "%s %s %s %s %s\n", abxbus.FormatTimestamp(e.CreatedAt()), e.Type(), e.ID(), e.Status(), payload)
		}
		seen++
		if *count > 0 && seen >= *count {
			cancel()
		}
		return nil
	})
}
