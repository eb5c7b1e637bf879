package jsonl

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges"
)

func TestOpenByAddress(t *testing.T) {
	if err := RegisterError(); err != nil {
		t.Fatalf("RegisterError() = %v", err)
	}
	if s := bridges.Schemes(); !slices.Contains(s, "file") || !slices.Contains(s, "jsonl") {
		t.Fatalf("Schemes() = %v, want file and jsonl", s)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	ctx := context.Background()
	send, err := bridges.Open(ctx, path, nil) // a plain path
	if err != nil {
		t.Fatal(err)
	}
	defer send.Close()
	recv, err := bridges.Open(ctx, "jsonl://"+path+"?cursor="+filepath.Join(dir, "c")+"&from_start=true&poll=5ms", &bridges.OpenOptions{Name: "Recv"})
	if err != nil {
		t.Fatal(err)
	}
	defer recv.Close()
	if f := recv.Features(); !f.Durable || !f.Ordered {
		t.Fatalf("Features() = %+v, want durable (cursor)", f)
	}
	if br := recv.(*Bridge); br.opts.PollInterval != 5*time.Millisecond || !br.opts.FromStart || br.bus.Name() != "Recv" {
		t.Fatalf("options not applied: %+v, bus %s", br.opts, br.bus.Name())
	}
	if err := send.Emit(ctx, abxbus.NewEvent(Ping{N: 7}).Base()); err != nil {
		t.Fatal(err)
	}
	c := newCollector(1)
	if _, err := recv.On("Ping", c.handler); err != nil {
		t.Fatal(err)
	}
	if got := c.wait(t); got[0] != 7 {
		t.Fatalf("got %v", got)
	}
	file, err := bridges.Open(ctx, "file://"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	file.Close()
	for _, bad := range []string{"file://otherhost/x.jsonl", "jsonl://" + path + "?colour=red", "jsonl://" + path + "?poll=soon"} {
		if _, err := bridges.Open(ctx, bad, nil); !errors.Is(err, abxbus.ErrInvalidOption) {
			t.Errorf("Open(%q): err = %v, want ErrInvalidOption", bad, err)
		}
	}
}
