package retry_test

import (
	"os"
	"testing"

	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

// childEnv selects a child-process mode of the test binary (see multiprocess_test.go).
const childEnv = "ABXBUS_RETRY_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(childMain(mode))
	}
	leakcheck.Main(m)
}
