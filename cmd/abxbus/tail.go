package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
)

func init() {
	register("tail", "follow a JSONL bridge file and print each event: tail FILE [--json] [--from-start] [--count N]", runTail)
}

func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	raw := fs.Bool("json", false, "print each event's JSON line as written")
	fromStart := fs.Bool("from-start", false, "print the lines already in the file first")
	count := fs.Int("count", 0, "exit after this many events (0: until interrupted)")
	poll := fs.Duration("poll", 50*time.Millisecond, "longest wait between looks at a quiet file")
	path, rest := splitFirstArg(args)
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if path == "" && fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	if path == "" {
		return errors.New("usage: abxbus tail FILE [--json] [--from-start] [--count N]")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := 0
	return jsonl.Follow(ctx, path, *fromStart, &jsonl.Options{PollInterval: *poll}, func(line []byte) {
		e, err := abxbus.FromJSON(line)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "abxbus tail: skipping a line: %v\n", err)
			return
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
	})
}
