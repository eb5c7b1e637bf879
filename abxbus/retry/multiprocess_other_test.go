//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package retry_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus/retry"
)

// Without flock, Multiprocess says so instead of pretending.
func TestMultiprocessUnsupported(t *testing.T) {
	_, err := retry.Multiprocess(t.TempDir(), "slots", 2)
	if !errors.Is(err, errors.ErrUnsupported) || !strings.Contains(err.Error(), "flock") {
		t.Fatalf("Multiprocess: %v, want an error wrapping errors.ErrUnsupported", err)
	}
}
