package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/middleware"
)

func init() {
	Register("tree", "print the event tree of a WAL or JSONL bridge file: tree FILE", runTree)
}

// runTree prints the causality tree (the format of Bus.LogTree) of the events in a WAL or a JSONL file.
// A torn last line is skipped with a message on stderr.
func runTree(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tree", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path, err := parseFileArgs(fs, args)
	if err != nil {
		return err
	}
	if path == "" {
		return errors.New("usage: abxbus tree FILE")
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var events []*abxbus.BaseEvent
	err = middleware.ReadWAL(f, nil, func(en middleware.WALEntry) error {
		events = append(events, en.Event)
		return ctx.Err()
	})
	if errors.Is(err, middleware.ErrTornLine) {
		fmt.Fprintf(stderr, "abxbus tree: %v\n", err)
		err = nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, abxbus.LogTreeOf(filepath.Base(path), events))
	return nil
}
