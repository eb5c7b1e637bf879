// Command abxbus-all is the abxbus command-line tool with every bridge driver of the project linked in:
// besides what abxbus speaks (JSONL files, HTTP, Unix sockets), emit and tail take sqlite://,
// postgres://, redis:// and nats:// addresses (see each bridge package for its address form and
// options). It lives in a module of its own
// so that the core module keeps none of the drivers' dependencies; the performance workloads (bench)
// stay in abxbus.
//
//	go install github.com/typedbus/abxbus-go/cmd/abxbus-all@latest
//	abxbus-all tail redis://127.0.0.1:6379/0/abxbus_events --json
//	abxbus-all emit redis://127.0.0.1:6379/0/abxbus_events --type OrderPlaced --payload '{"id":"o-1"}'
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/typedbus/abxbus-go/internal/cli"

	_ "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
	_ "github.com/typedbus/abxbus-go/abxbus/bridges/postgres"
	_ "github.com/typedbus/abxbus-go/abxbus/bridges/redis"
	_ "github.com/typedbus/abxbus-go/abxbus/bridges/sqlite"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
