package otel_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestCoreDoesNotDependOnThisModule: the packages of the core module (github.com/typedbus/abxbus-go)
// pull in none of this module's third-party dependencies: importing abxbus never requires them.
func TestCoreDoesNotDependOnThisModule(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./abxbus/...", "./cmd/...")
	cmd.Dir = "../../.."
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps in the core module: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list -deps listed only %v", deps)
	}
	for _, d := range deps {
		for _, banned := range []string{"modernc.org/", "go.opentelemetry.io/", "github.com/typedbus/abxbus-go/abxbus/middleware/sqlitemirror", "github.com/typedbus/abxbus-go/abxbus/middleware/otel"} {
			if strings.HasPrefix(d, banned) {
				t.Errorf("the core module depends on %s", d)
			}
		}
	}
}
