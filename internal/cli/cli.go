// Package cli is the abxbus command-line tool without its main: the command registry and the
// commands emit, tail, replay, tree and roundtrip. cmd/abxbus is a thin main over it; a second main
// package (in a nested module that links driver-backed bridges, for example) blank-imports the bridge
// packages it wants and calls Main to offer the same commands over those transports.
//
// Bridge addresses (emit, tail, replay --to) are opened with bridges.Open: the scheme picks the bridge
// package, which must be linked into the binary. This package links the core module's bridges.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"sync"

	// The core module's bridge packages, registered for bridges.Open.
	_ "github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
	// The HTTP and Unix socket bridges of the core module are imported here once they exist:
	// _ "github.com/typedbus/abxbus-go/abxbus/bridges/httpbridge"
	// _ "github.com/typedbus/abxbus-go/abxbus/bridges/unixsock"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var (
	mu       sync.RWMutex
	commands = map[string]command{}
)

// Register adds a command, shown with its one-line summary in the usage text. run gets the arguments
// after the command name, writes its output to stdout and its diagnostics to stderr, and returns an
// error to make the process exit with status 1 (printed after "abxbus NAME: "); ctx ends on an
// interrupt. Commands register from init; registering a name again replaces the earlier command. Safe
// for concurrent use.
func Register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	mu.Lock()
	defer mu.Unlock()
	commands[name] = command{summary: summary, run: run}
}

// Main runs the command args[0] with the remaining arguments and returns the process exit status: 0
// on success (and for help), 1 when the command failed, 2 for a missing or unknown command (the usage
// text goes to stderr).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	mu.RLock()
	cmd, ok := commands[args[0]]
	mu.RUnlock()
	if !ok {
		fmt.Fprintf(stderr, "abxbus: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err := cmd.run(ctx, args[1:], stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "abxbus %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: abxbus <command> [arguments]\n\ncommands:")
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
}

// splitFirstArg lets the file come before the flags (emit FILE --type T) as well as after them.
func splitFirstArg(args []string) (string, []string) {
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		return args[0], args[1:]
	}
	return "", args
}

// parseFileArgs parses a subcommand's flags with its one file argument before or after them, and
// returns the file ("" when there is none). More than one argument besides the flags is an error.
func parseFileArgs(fs *flag.FlagSet, args []string) (string, error) {
	path, rest := splitFirstArg(args)
	if err := fs.Parse(rest); err != nil {
		return "", err
	}
	extra := fs.Args()
	if path == "" && len(extra) > 0 {
		path, extra = extra[0], extra[1:]
	}
	if len(extra) > 0 {
		return "", fmt.Errorf("unexpected argument %q (flags go before or after the one address or file)", extra[0])
	}
	return path, nil
}
