package middleware_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/middleware"
)

const walChildEnv = "ABXBUS_TEST_WAL_CHILD"

// walChild is the child process of TestWALSurvivesKill9: it writes completed events to the WAL at path
// as fast as it can, with payloads of many sizes, and says "ready" on stdout after the first 300.
func walChild(path string) {
	w, err := middleware.OpenWAL(path, nil)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	b, err := abxbus.New("Writer", &abxbus.Options{Middlewares: []abxbus.Middleware{w}, MaxHistorySize: abxbus.Ptr(0)})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	abxbus.On(b, func(ctx context.Context, o Order) (string, error) { return o.ID, nil })
	ctx := context.Background()
	for i := 0; ; i++ {
		id := strings.Repeat(fmt.Sprint(i%10), (i*7919)%4000)
		if _, err := abxbus.Call(ctx, b, Order{ID: id}); err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		if i == 300 {
			fmt.Println("ready")
		}
	}
}

func readAll(t *testing.T, data []byte) ([]middleware.WALEntry, error) {
	t.Helper()
	var out []middleware.WALEntry
	err := middleware.ReadWAL(bytes.NewReader(data), nil, func(en middleware.WALEntry) error {
		out = append(out, en)
		return nil
	})
	return out, err
}

// TestWALSurvivesKill9: a real writer process killed with SIGKILL in the middle of the stream leaves a
// WAL whose every complete line is a completed event; only a torn last line may be missing.
func TestWALSurvivesKill9(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wal", "events.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), walChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred code, no Close
		t.Fatal(err)
	}
	_ = cmd.Wait()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := readAll(t, data)
	if err != nil && !errors.Is(err, middleware.ErrTornLine) {
		t.Fatalf("ReadWAL after kill -9: %v", err)
	}
	complete := bytes.Count(data, []byte("\n"))
	if len(entries) != complete || complete < 301 {
		t.Fatalf("%d events read, %d complete lines in the file", len(entries), complete)
	}
	for _, en := range entries {
		if en.Event.Status() != abxbus.EventCompleted || en.Event.Type() != "Order" {
			t.Fatalf("line %d: %s %s", en.Line, en.Event, en.Event.Status())
		}
	}
	t.Logf("%d complete lines, torn tail: %v", complete, err)

	// The same file cut inside its last line, as a write torn by the kill would leave it: every line but
	// the last is read, and the torn one is reported with its offset.
	last := bytes.LastIndexByte(data[:len(data)-1], '\n') + 1
	if data[len(data)-1] != '\n' {
		last = bytes.LastIndexByte(data, '\n') + 1
	}
	for _, cut := range []int{1, 2, (len(data) - last) / 2, len(data) - last - 2} {
		if cut <= 0 || last+cut >= len(data) {
			continue
		}
		torn := data[:last+cut]
		entries, err := readAll(t, torn)
		var te *middleware.TornLineError
		if !errors.As(err, &te) || te.Offset != int64(last) || te.Len != cut {
			t.Fatalf("cut at %d: err = %v", last+cut, err)
		}
		if want := fmt.Sprintf("offset %d", last); !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %s", err, want)
		}
		if len(entries) != bytes.Count(torn, []byte("\n")) {
			t.Errorf("cut at %d: %d events", last+cut, len(entries))
		}
	}
}

func TestReadWALLines(t *testing.T) {
	e := abxbus.NewEvent(Ping{N: 1}).Base()
	line := must[[]byte](t)(e.ToJSON())
	// a last line without its newline that is a whole event is read
	entries, err := readAll(t, slices.Concat(line, []byte("\n\n  \n"), line))
	if err != nil || len(entries) != 2 || entries[1].Line != 4 || entries[1].Offset != int64(len(line)+5) {
		t.Fatalf("entries %v, err %v", entries, err)
	}
	// a bad complete line is corruption, named by line and offset
	_, err = readAll(t, slices.Concat(line, []byte("\n{not json}\n"), line, []byte("\n")))
	var le *middleware.LineError
	if !errors.As(err, &le) || le.Line != 2 || le.Offset != int64(len(line)+1) || !strings.Contains(err.Error(), fmt.Sprintf("line 2 at offset %d", len(line)+1)) {
		t.Fatalf("err = %v", err)
	}
	// fn's error stops the read
	stop := errors.New("stop")
	if err := middleware.ReadWAL(bytes.NewReader(slices.Concat(line, []byte("\n"), line)), nil, func(middleware.WALEntry) error { return stop }); err != stop {
		t.Fatalf("err = %v", err)
	}
}

func TestWALReplay(t *testing.T) {
	ctx := tctx(t)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	w := must[*middleware.WAL](t)(middleware.OpenWAL(path, nil))
	src := newBus(t, "Src", &abxbus.Options{Middlewares: []abxbus.Middleware{w}})
	must[*abxbus.Handler](t)(abxbus.On(src, func(ctx context.Context, p Ping) (int, error) { return p.N, nil }))
	must[*abxbus.Handler](t)(abxbus.On(src, func(ctx context.Context, o Order) (string, error) { return "src", nil }))
	var created []time.Time
	for i := range 10 {
		var e *abxbus.BaseEvent
		if i%3 == 0 {
			e = must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, src, Order{ID: fmt.Sprint(i)})).Base()
		} else {
			e = must[*abxbus.Event[Ping, int]](t)(abxbus.Emit(ctx, src, Ping{N: i})).Base()
		}
		if err := e.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		created = append(created, e.CreatedAt())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data := must[[]byte](t)(os.ReadFile(path))
	// a torn tail is replayed around
	data = append(data, `{"event_type":"Ping","event_id":"0190`...)

	reg := abxbus.NewRegistry()
	if err := abxbus.Register[Ping](reg); err != nil {
		t.Fatal(err)
	}
	dst := newBus(t, "Dst", nil)
	var got []int
	must[*abxbus.Handler](t)(abxbus.On(dst, func(ctx context.Context, p Ping) (int, error) {
		got = append(got, p.N) // bus-serial: one at a time
		return p.N * 10, nil
	}))
	must[*abxbus.Handler](t)(dst.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return nil, nil }))
	st, err := middleware.Replay(ctx, dst, bytes.NewReader(data), &middleware.ReplayOptions{
		Registry: reg, Types: []string{"P*"}, Since: created[2], Until: created[8],
	})
	var te *middleware.TornLineError
	if !errors.As(err, &te) {
		t.Fatalf("Replay: %v", err)
	}
	idle(t, dst)
	// Pings 2..7 without the Orders (3, 6)
	if want := []int{2, 4, 5, 7}; !slices.Equal(got, want) {
		t.Errorf("replayed %v, want %v", got, want)
	}
	if st.Read != 10 || st.Emitted != 4 || st.Filtered != 6 {
		t.Errorf("stats %+v", st)
	}
	for _, e := range dst.History() {
		if e.Status() != abxbus.EventCompleted || len(e.Results()) != 2 {
			t.Errorf("%s: %s, %d results", e, e.Status(), len(e.Results()))
		}
		if _, ok := src.HistoryEvent(e.ID()); ok {
			t.Errorf("%s kept its id: not reset", e)
		}
		if v, _ := abxbus.As[Ping](e); v == nil {
			t.Errorf("%s is not typed through the registry", e)
		}
	}
	if _, err := middleware.Replay(ctx, dst, bytes.NewReader(nil), &middleware.ReplayOptions{Types: []string{"["}}); !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Errorf("bad pattern: %v", err)
	}
}

func FuzzReadWAL(f *testing.F) {
	line, _ := abxbus.NewEvent(Ping{N: 3}).Base().ToJSON()
	f.Add(slices.Concat(line, []byte("\n"), line, []byte("\n")))
	f.Add(slices.Concat(line, []byte("\n"), line[:len(line)/2]))
	f.Add([]byte("\n\n{}\n"))
	f.Add([]byte(`{"event_type":"X","event_id":null}` + "\n"))
	f.Add([]byte("not json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var last int64 = -1
		n := 0
		err := middleware.ReadWAL(bytes.NewReader(data), nil, func(en middleware.WALEntry) error {
			if en.Offset <= last || en.Offset >= int64(len(data)) || en.Event == nil {
				t.Fatalf("entry at offset %d after %d (len %d)", en.Offset, last, len(data))
			}
			last = en.Offset
			n++
			if _, err := en.Event.ToJSON(); err != nil {
				t.Fatalf("a decoded event does not encode: %v", err)
			}
			return nil
		})
		var te *middleware.TornLineError
		var le *middleware.LineError
		switch {
		case err == nil:
		case errors.As(err, &te):
			if te.Offset+int64(te.Len) != int64(len(data)) || bytes.HasSuffix(data, []byte("\n")) {
				t.Fatalf("torn line %+v in %d bytes", te, len(data))
			}
		case errors.As(err, &le):
			if le.Offset < 0 || le.Offset >= int64(len(data)) {
				t.Fatalf("line error %+v", le)
			}
		default:
			t.Fatalf("unexpected error %v", err)
		}
	})
}
