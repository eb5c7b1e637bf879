package nats_test

import (
	"os"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus/bridges/bridgetest"
	natsbridge "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) {
	for _, m := range []natsbridge.Mode{natsbridge.Core, natsbridge.JetStream} {
		bridgetest.MaybeRunChild(harness(m, nil))
	}
	if os.Getenv(workerEnv) != "" {
		os.Exit(workerMain())
	}
	leakcheck.Main(m)
}
