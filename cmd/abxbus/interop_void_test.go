package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

type IopLoggedIn struct {
	abxbus.Returns[abxbus.Void]
	UserID string `json:"user_id"`
}

// Issue 12 item 5: a Go notification (Returns[abxbus.Void]) after processing has no event_result_type
// and a null result per handler; TS accepts it and writes it back with every key equal, and Go reads
// the TS output again.
func TestInteropGoNotificationThroughTS(t *testing.T) {
	requirePeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bus, _ := abxbus.New("GoNotify", nil)
	defer bus.Destroy(true)
	if _, err := abxbus.OnNotify(bus, func(ctx context.Context, u IopLoggedIn) error { return nil }, abxbus.WithName("audit")); err != nil {
		t.Fatal(err)
	}
	bus.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil }, abxbus.WithName("tap"))
	if _, err := abxbus.Call(ctx, bus, IopLoggedIn{UserID: "u1"}); err != nil {
		t.Fatal(err)
	}
	e := bus.History()[0]
	raw, err := e.ToJSON()
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	json.Unmarshal(raw, &obj)
	if _, has := obj["event_result_type"]; has {
		t.Fatalf("notification JSON has event_result_type: %s", raw)
	}
	dir := t.TempDir()
	goMade := filepath.Join(dir, "go_made.json")
	data, _ := json.Marshal([]json.RawMessage{raw})
	os.WriteFile(goMade, data, 0o644)
	viaTS := filepath.Join(dir, "via_ts.json")
	node(t, "roundtrip-events", goMade, viaTS)
	back := filepath.Join(dir, "back.json")
	goRoundtrip(t, "events", viaTS, back)
	want := readAny(t, goMade)
	for name, got := range map[string]any{"TS": readAny(t, viaTS), "Go": readAny(t, back)} {
		if !containsAllExceptChildren(want, got) {
			t.Errorf("a key changed after %s", name)
		}
	}
	ts := readAny(t, viaTS).([]any)[0].(map[string]any)
	rows := ts["event_results"].(map[string]any)
	if len(rows) != 2 {
		t.Fatalf("TS wrote %d result rows; want 2", len(rows))
	}
	for id, r := range rows {
		row := r.(map[string]any)
		if v, has := row["result"]; !has || v != nil || row["status"] != "completed" {
			t.Errorf("TS row %s: result %v (present %v), status %v; want null, completed", id, v, has, row["status"])
		}
	}
	if _, has := ts["event_result_type"]; has {
		t.Errorf("TS added an event_result_type: %v", ts["event_result_type"])
	}
}
