package jsonl

import (
	"context"
	"errors"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

// Any address given to bridges.Open for the file and jsonl schemes either opens a bridge (not started,
// so no file is touched) or fails with an error matching ErrInvalidOption, without a panic.
func FuzzOpenAddress(f *testing.F) {
	for _, s := range []string{"events.jsonl", "file:///tmp/x.jsonl", "jsonl:///tmp/x?cursor=/tmp/c&from_start=1&poll=5ms",
		"jsonl://host/x", "jsonl:///x?max_line_bytes=-1", "file://localhost/%zz", "jsonl:///x?poll=1h&cursor_sync=maybe", "jsonl:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		br, err := bridges.Open(context.Background(), addr, nil)
		if err != nil {
			var inv error = abxbus.ErrInvalidOption
			if !errors.Is(err, inv) {
				t.Fatalf("Open(%q): %v, not matching ErrInvalidOption", addr, err)
			}
			return
		}
		if err := br.Close(); err != nil {
			t.Fatal(err)
		}
	})
}
