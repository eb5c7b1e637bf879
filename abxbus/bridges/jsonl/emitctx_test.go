package jsonl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// An Emit whose ctx already ended writes nothing and returns an error naming the bridge and its file
// that still matches ctx's error.
func TestEmitEndedCtxNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	br := newBridge(t, path, nil)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, tc := range []struct {
		ctx  context.Context
		want error
	}{{cancelled, context.Canceled}, {expired, context.DeadlineExceeded}} {
		err := br.Emit(tc.ctx, abxbus.NewEvent(Ping{N: 1}).Base())
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "jsonl bridge") || !strings.Contains(err.Error(), path) {
			t.Errorf("Emit with an ended ctx: %v, want an error naming the jsonl bridge and %s, matching %v", err, path, tc.want)
		}
	}
	if b, err := os.ReadFile(path); (err != nil && !os.IsNotExist(err)) || len(b) != 0 {
		t.Errorf("file after the refused Emits: %q, %v; want it empty", b, err)
	}
}
