// Command abxbus is the command-line tool of the library: emitting to and tailing any bridge (a JSONL
// file, and every bridge package linked into the binary), replaying and printing WALs, JSON roundtrips
// for cross-runtime checks, and the standard performance workloads.
//
//	abxbus <command> [arguments]
//
// The commands live in internal/cli (bench in this directory); each registers itself in init.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"

	"github.com/typedbus/abxbus-go/internal/cli"
)

// register adds a command of this directory (bench) to the shared registry.
func register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	cli.Register(name, summary, run)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain is main without the process: tests call it directly.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cli.Main(ctx, args, stdout, stderr)
}
