package jsonl

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// An event whose event_path already names the bridge's bus (its own event written back to the file by
// the documented bidirectional wiring) is not delivered and does not stop the follower. More than
// QueueSize of them, and with a cursor even one, used to block it for good: the bus does not accept
// them, so they never complete.
func TestEchoedLinesDoNotStopTheFollower(t *testing.T) {
	for _, cursor := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "cursor"}[cursor], func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bus.jsonl")
			o := &Options{QueueSize: 2}
			if cursor {
				o.Cursor = path + ".cursor"
			}
			recv := newBridge(t, path, o)
			c := newCollector(2)
			if _, err := recv.On("Ping", c.handler); err != nil {
				t.Fatal(err)
			}
			send := newBridge(t, path, nil)
			ctx := context.Background()
			if err := send.Emit(ctx, abxbus.NewEvent(Ping{N: 0}).Base()); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				data, err := abxbus.NewEvent(Ping{N: 100 + i}).Base().ToJSON()
				if err != nil {
					t.Fatal(err)
				}
				var m map[string]any
				if err := json.Unmarshal(data, &m); err != nil {
					t.Fatal(err)
				}
				m["event_path"] = []string{"App#1234", recv.Bus().Label()}
				line, _ := json.Marshal(m)
				if _, err := f.Write(append(line, '\n')); err != nil {
					t.Fatal(err)
				}
			}
			f.Close()
			if err := send.Emit(ctx, abxbus.NewEvent(Ping{N: 1}).Base()); err != nil {
				t.Fatal(err)
			}
			if got := c.wait(t); got[0] != 0 || got[1] != 1 {
				t.Fatalf("got %v, want [0 1]", got)
			}
		})
	}
}
