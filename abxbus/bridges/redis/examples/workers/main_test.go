package main

import (
	"os"
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/internal/leakcheck"
	"github.com/typedbus/abxbus-go/internal/testservers"
)

func TestMain(m *testing.M) {
	if name := os.Getenv(workerEnv); name != "" { // the test binary as a worker process
		if err := worker(name, os.Getenv("DEMO_ADDR"), os.Getenv("DEMO_OUT")); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	leakcheck.Main(m)
}

// The demo run on a real server: a worker killed with SIGKILL mid-run, nothing lost.
func TestDemo(t *testing.T) {
	srv := testservers.StartRedisWith(t, testservers.RedisOptions{AppendOnly: true})
	var out strings.Builder
	s, err := run(&out, srv.URL(), 900, os.Args[0])
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	if s.Lost != 0 || s.Delivered != 900 {
		t.Fatalf("%+v", s)
	}
	if !strings.Contains(out.String(), "killed worker-2") {
		t.Fatal("worker-2 was not killed")
	}
}
