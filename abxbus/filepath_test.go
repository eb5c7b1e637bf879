package abxbus_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

func filePathHandler(ctx context.Context, p Ping) (int, error) { return 1, nil }

// Issue 12 item 8: handler_file_path is the package import path, file name and line, not a local
// absolute path, so handler ids computed from it are the same on every machine and checkout.
func TestHandlerFilePathIsModuleRelativeIssue12(t *testing.T) {
	cwd, _ := os.Getwd()
	_, self, _, _ := runtime.Caller(0)
	const busID = "0190a8e0-0000-7000-8000-000000000001"
	var paths, ids []string
	for i := 0; i < 2; i++ {
		bus := newBus(t, "Paths", &abxbus.Options{ID: busID})
		named := must[*abxbus.Handler](t)(abxbus.On(bus, filePathHandler, abxbus.WithRegisteredAt(time.Unix(0, 1_700_000_000_000_000_000).UTC())))
		closure := must[*abxbus.Handler](t)(bus.OnType("Side", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil },
			abxbus.WithRegisteredAt(time.Unix(0, 1_700_000_000_000_000_001).UTC())))
		for _, h := range []*abxbus.Handler{named, closure} {
			p := h.FilePath()
			file, line, ok := strings.Cut(p, ":")
			if !ok || file != "github.com/typedbus/abxbus-go/abxbus/"+filepath.Base(self) {
				t.Fatalf("handler_file_path %q, want github.com/typedbus/abxbus-go/abxbus/%s:<line>", p, filepath.Base(self))
			}
			if n, err := strconv.Atoi(line); err != nil || n <= 0 {
				t.Fatalf("handler_file_path %q: no line", p)
			}
			if filepath.IsAbs(file) || strings.Contains(p, cwd) {
				t.Fatalf("handler_file_path %q is a local path", p)
			}
			if want := abxbus.HandlerID(bus.ID(), h.Name(), p, h.RegisteredAt(), h.Pattern()); h.ID() != want {
				t.Fatalf("handler id %s, want %s computed from its path", h.ID(), want)
			}
			paths = append(paths, p)
			ids = append(ids, h.ID().String())
		}
	}
	if paths[0] != paths[2] || paths[1] != paths[3] || ids[0] != ids[2] || ids[1] != ids[3] || ids[0] == ids[1] {
		t.Fatalf("paths %v and ids %v differ between two buses with the same id", paths, ids)
	}
	if paths[0] == paths[1] {
		t.Fatalf("the two handlers have the same path %s", paths[0])
	}

	// an explicit path is kept as given
	bus := newBus(t, "Given", nil)
	h := must[*abxbus.Handler](t)(abxbus.On(bus, filePathHandler, abxbus.WithFilePath("/abs/as/given.go:1")))
	if h.FilePath() != "/abs/as/given.go:1" {
		t.Fatalf("WithFilePath: %q", h.FilePath())
	}
}
