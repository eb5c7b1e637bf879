package main

import (
	"os"
	"testing"

	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

// asAbxbusEnv makes the test binary run as the abxbus command (process tests of the real main).
const asAbxbusEnv = "ABXBUS_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asAbxbusEnv) == "1" {
		main()
	}
	leakcheck.Main(m)
}
