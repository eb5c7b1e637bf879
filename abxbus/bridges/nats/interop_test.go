package nats_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	natsbridge "github.com/typedbus/abxbus-go/abxbus/bridges/nats"
	"github.com/typedbus/abxbus-go/internal/tspeer"
)

// NatsPing is the event the TS peer declares (seq, label).
type NatsPing struct {
	abxbus.Returns[abxbus.Void]
	Seq   int    `json:"seq"`
	Label string `json:"label,omitempty"`
}

func upTo(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TS emits N through its NATSEventBridge; a Go bridge on the same subject receives N, in order: a
// core bridge, and a JetStream bridge (the stream captures the TS core publishes).
func TestInteropTSToGo(t *testing.T) {
	for _, mode := range []natsbridge.Mode{natsbridge.Core, natsbridge.JetStream} {
		t.Run(mode.String(), func(t *testing.T) { testInteropTSToGo(t, mode) })
	}
}

func testInteropTSToGo(t *testing.T, mode natsbridge.Mode) {
	tspeer.Require(t)
	srv := startNATS(t, true)
	reg := abxbus.NewRegistry()
	if err := abxbus.Register[NatsPing](reg); err != nil {
		t.Fatal(err)
	}
	br := newBridge(t, srv.URL, "abxbus_events", &natsbridge.Options{Registry: reg, Mode: mode})
	got := make(chan NatsPing, 1000)
	if _, err := abxbus.On(br.Bus(), func(ctx context.Context, p NatsPing) (abxbus.Void, error) {
		got <- p
		return abxbus.Void{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := br.Start(); err != nil {
		t.Fatal(err)
	}
	const n = 200
	ctx := ctxT(t, 60*time.Second)
	cmd := tspeer.Command(ctx, t, "natspeer.mjs", "emit", srv.URL, "abxbus_events", "200")
	if err := cmd.Run(); err != nil {
		t.Fatalf("TS emitter: %v", err)
	}
	var seqs []int
	timeout := time.After(10 * time.Second)
	for len(seqs) < n {
		select {
		case p := <-got:
			if p.Label != "ts_"+itoa(p.Seq) {
				t.Fatalf("payload %+v", p)
			}
			seqs = append(seqs, p.Seq)
		case <-timeout:
			t.Fatalf("received %d of %d", len(seqs), n)
		}
	}
	if !slices.Equal(seqs, upTo(n)) {
		t.Fatalf("order: %v", seqs)
	}
}

// Go emits N (core, and JetStream: a publish with a Nats-Msg-Id header, which TS ignores); the TS
// NATSEventBridge receives N, in order. A Go Call on the same subject while the TS listener runs does
// not reach it (ErrNoResponders) and does not disturb it.
func TestInteropGoToTS(t *testing.T) {
	for _, mode := range []natsbridge.Mode{natsbridge.Core, natsbridge.JetStream} {
		t.Run(mode.String(), func(t *testing.T) { testInteropGoToTS(t, mode) })
	}
}

func testInteropGoToTS(t *testing.T, mode natsbridge.Mode) {
	tspeer.Require(t)
	srv := startNATS(t, true)
	ctx := ctxT(t, 60*time.Second)
	out := filepath.Join(t.TempDir(), "seqs.json")
	const n = 200
	cmd := tspeer.Command(ctx, t, "natspeer.mjs", "listen", srv.URL, "abxbus_events", "200", out)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "ready" {
				close(ready)
			}
		}
		exited <- cmd.Wait()
	}()
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("TS listener exited before it was ready: %v", err)
	case <-ctx.Done():
		t.Fatal("TS listener not ready")
	}
	br := newBridge(t, srv.URL, "abxbus_events", &natsbridge.Options{Mode: mode})
	if _, err := natsbridge.Call(ctx, br, Sum{A: 1, B: 2}); !errors.Is(err, natsbridge.ErrNoResponders) {
		t.Fatalf("a call with only a TS listener: %v, want ErrNoResponders", err)
	}
	for i := range n {
		if err := br.Emit(ctx, abxbus.NewEvent(NatsPing{Seq: i, Label: "go"}).Base()); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("TS listener: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("TS listener did not receive every event")
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int
	if err := json.Unmarshal(data, &seqs); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs, upTo(n)) {
		t.Fatalf("TS received %v", seqs)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
