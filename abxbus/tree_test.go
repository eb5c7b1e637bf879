package abxbus_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

var treeUpdate = flag.Bool("update", false, "rewrite the golden files under testdata/tree from LogTree's output")

// Event types of the tree tests.

type TreeCheckout struct {
	abxbus.Returns[TreeReceipt]
	OrderID string `json:"order_id"`
}

type TreeReceipt struct {
	OrderID     string `json:"order_id"`
	Reservation string `json:"reservation"`
	Charge      string `json:"charge"`
	Email       string `json:"email"`
}

type TreeReserve struct {
	abxbus.Returns[string]
	OrderID string `json:"order_id"`
}

type TreeCharge struct {
	abxbus.Returns[string]
	OrderID string `json:"order_id"`
}

type TreeFraud struct {
	abxbus.Returns[bool]
	OrderID string `json:"order_id"`
}

type TreeEmail struct {
	abxbus.Returns[[]string]
	OrderID string `json:"order_id"`
}

type TreeSlow struct {
	abxbus.Returns[string]
}

type TreeStuck struct {
	abxbus.Returns[string]
}

type TreeNotify struct {
	abxbus.Returns[int]
}

// TreeCardError is a user error type: the tree names it.
type TreeCardError struct{ Card string }

func (e *TreeCardError) Error() string { return "card " + e.Card + " declined by the audit" }

var (
	treeIDs      = regexp.MustCompile(`#[0-9a-f]{4}\b`)
	treeTimes    = regexp.MustCompile(`\b\d\d:\d\d:\d\d\.\d{3}\b`)
	treeDuration = regexp.MustCompile(`\(\d+\.\d{3}s\)`)
)

// treeNormalise replaces what varies between runs: ids, clock times and durations.
func treeNormalise(s string) string {
	s = treeIDs.ReplaceAllString(s, "#xxxx")
	s = treeTimes.ReplaceAllString(s, "HH:MM:SS.mmm")
	return treeDuration.ReplaceAllString(s, "(d.ddds)")
}

func treeGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "testdata", "tree", name)
	got = treeNormalise(got) + "\n"
	if *treeUpdate {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Fatalf("%s differs from the golden file %s (run with -update after checking):\n--- got ---\n%s--- want ---\n%s", t.Name(), path, got, want)
	}
}

// treeScenario runs a checkout with nested children, a handler error, a result-type mismatch, a
// handler that hits its own timeout, an event that hits its deadline (one handler interrupted, one never
// started) and an event forwarded to a second bus; it returns the bus and the checkout event.
func treeScenario(t *testing.T) (*abxbus.Bus, *abxbus.BaseEvent) {
	ctx := tctx(t)
	b := newBus(t, "TreeBus", &abxbus.Options{ID: "0190a000-0000-7000-8000-00000000a001"})
	mirror := newBus(t, "MirrorBus", &abxbus.Options{ID: "0190a000-0000-7000-8000-00000000b002"})
	h := must[*abxbus.Handler](t)

	h(abxbus.On(b, func(ctx context.Context, c TreeCheckout) (TreeReceipt, error) {
		res, err := abxbus.CallChild(ctx, TreeReserve{OrderID: c.OrderID})
		if err != nil {
			return TreeReceipt{}, err
		}
		charge, _ := abxbus.CallChild(ctx, TreeCharge{OrderID: c.OrderID}) // the audit error is shown in the tree
		mail, err := abxbus.CallChild(ctx, TreeEmail{OrderID: c.OrderID})
		return TreeReceipt{OrderID: c.OrderID, Reservation: res, Charge: charge, Email: strings.Join(mail, ",")}, err
	}, abxbus.WithName("on_checkout")))
	h(b.OnType("TreeCheckout", func(context.Context, *abxbus.BaseEvent) (any, error) {
		return []string{"not", "a", "receipt"}, nil // does not fit the result type
	}, abxbus.WithName("legacy_checkout")))
	h(abxbus.On(b, func(ctx context.Context, r TreeReserve) (string, error) {
		return "reserve:" + r.OrderID, nil
	}, abxbus.WithName("on_reserve")))
	h(abxbus.On(b, func(ctx context.Context, c TreeCharge) (string, error) {
		ok, err := abxbus.CallChild(ctx, TreeFraud{OrderID: c.OrderID})
		if err != nil || !ok {
			return "", err
		}
		return "charge:" + c.OrderID, nil
	}, abxbus.WithName("on_charge")))
	h(abxbus.On(b, func(ctx context.Context, c TreeCharge) (string, error) {
		return "", &TreeCardError{Card: "4242"}
	}, abxbus.WithName("audit_charge")))
	h(abxbus.On(b, func(ctx context.Context, f TreeFraud) (bool, error) { return true, nil }, abxbus.WithName("on_fraud")))
	h(abxbus.On(b, func(ctx context.Context, m TreeEmail) ([]string, error) {
		return []string{"to:customer", "cc:shop"}, nil
	}, abxbus.WithName("on_email")))
	h(abxbus.On(b, func(ctx context.Context, s TreeSlow) (string, error) {
		<-ctx.Done()
		return "too late", nil
	}, abxbus.WithName("slow_own"), abxbus.WithHandlerTimeout(10*time.Millisecond)))
	h(abxbus.On(b, func(ctx context.Context, s TreeStuck) (string, error) {
		<-ctx.Done()
		return "too late", nil
	}, abxbus.WithName("stuck")))
	h(abxbus.On(b, func(ctx context.Context, s TreeStuck) (string, error) {
		return "never runs", nil
	}, abxbus.WithName("never")))
	h(b.OnType("TreeNotify", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		return mirror.Emit(ctx, e)
	}, abxbus.WithName("forward_to_mirror")))
	h(abxbus.On(mirror, func(ctx context.Context, n TreeNotify) (int, error) { return 42, nil }, abxbus.WithName("on_notify")))

	checkout := must[*abxbus.Event[TreeCheckout, TreeReceipt]](t)(abxbus.Emit(ctx, b, TreeCheckout{OrderID: "ord-1"}))
	if err := checkout.Now(ctx); err != nil {
		t.Fatal(err)
	}
	slow := must[*abxbus.Event[TreeSlow, string]](t)(abxbus.Emit(ctx, b, TreeSlow{}))
	if err := slow.Now(ctx); err != nil {
		t.Fatal(err)
	}
	stuck := must[*abxbus.Event[TreeStuck, string]](t)(abxbus.EmitWith(ctx, b, TreeStuck{}, abxbus.EventOptions{Timeout: 50 * time.Millisecond}))
	if err := stuck.Now(ctx); err != nil {
		t.Fatal(err)
	}
	notify := must[*abxbus.Event[TreeNotify, int]](t)(abxbus.Emit(ctx, b, TreeNotify{}))
	if err := notify.Now(ctx); err != nil {
		t.Fatal(err)
	}
	idle(t, b)
	idle(t, mirror)
	return b, checkout.Base()
}

// F204-F210: the whole-bus tree and one event's tree, pinned by golden files (ids, times and durations
// normalised). Timed-out and interrupted handlers are told apart by their error types (F209).
func TestLogTreeGoldenF205(t *testing.T) {
	b, checkout := treeScenario(t)
	tree := b.LogTree()
	treeGolden(t, "bus.golden", tree)
	treeGolden(t, "event.golden", checkout.LogTree())

	// Independent of the golden file: the facts the tree must show.
	for _, want := range []string{
		"📊 Event History Tree for TreeBus#a001",
		"☠️ EventHandlerTimeoutError: ",   // slow_own: its own budget
		"☠️ EventHandlerAbortedError: ",   // stuck: interrupted by the event deadline
		"☠️ EventHandlerCancelledError: ", // never: never started
		"☠️ TreeCardError: card 4242 declined by the audit",
		"☠️ EventHandlerResultSchemaError: ",
		"→ dict(4 items)",
		"→ list(2 items)",
		`→ "reserve:ord-1"`,
		"→ true",
		"→ 42",
		"MirrorBus#b002.on_notify#",
		"→ Event(TreeNotify#",
	} {
		if !strings.Contains(tree, want) {
			t.Errorf("tree lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(tree)
	}
}

// F206, F207: in-flight states: a started event and handler show 🏃 and no duration, a queued event and
// a pending handler show ⏳; the empty history has its own line.
func TestLogTreeInFlightF207(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "LiveBus", nil)
	if got := b.LogTree(); got != "(No events in history)" {
		t.Fatalf("empty tree = %q", got)
	}
	started, gate := make(chan struct{}), make(chan struct{})
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, o Order) (string, error) {
		close(started)
		<-gate
		return "ok", nil
	}, abxbus.WithName("first")))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, o Order) (string, error) {
		return "second", nil
	}, abxbus.WithName("second")))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, s Shipment) (string, error) {
		return "shipped", nil
	}))
	o := must[*abxbus.Event[Order, string]](t)(abxbus.Emit(ctx, b, Order{OrderID: "o1"}))
	s := must[*abxbus.Event[Shipment, string]](t)(abxbus.Emit(ctx, b, Shipment{OrderID: "o1"}))
	<-started
	got := treeNormalise(b.LogTree())
	want := strings.Join([]string{
		"📊 Event History Tree for LiveBus#xxxx",
		"================================================================================",
		"├── 🏃 Order#xxxx [HH:MM:SS.mmm]",
		"│   ├── 🏃 LiveBus#xxxx.first#xxxx [HH:MM:SS.mmm]",
		"│   └── ⏳ LiveBus#xxxx.second#xxxx",
		"└── ⏳ Shipment#xxxx [HH:MM:SS.mmm]",
		"================================================================================",
	}, "\n")
	if got != want {
		t.Fatalf("in-flight tree:\n%s\nwant:\n%s", got, want)
	}
	close(gate)
	if err := s.Now(ctx); err != nil {
		t.Fatal(err)
	}
	idle(t, b)
	if got := treeNormalise(o.Base().LogTree()); !strings.HasPrefix(got, "└── ✅ Order#xxxx [HH:MM:SS.mmm (d.ddds)]\n    ├── ✅ LiveBus#xxxx.first#xxxx [HH:MM:SS.mmm (d.ddds)] → \"ok\"") {
		t.Fatalf("completed event tree:\n%s", got)
	}
}

// LogTreeOf renders decoded events (a WAL, a JSONL file) as Bus.LogTree renders the live history
// (F204-F210): the same lines, linked by ids instead of in-process pointers.
func TestF204LogTreeOfDecoded(t *testing.T) {
	ctx := tctx(t)
	b := newBus(t, "TreeBus", nil)
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, p Parent) (string, error) {
		if _, err := abxbus.CallChild(ctx, Kid{N: 1}); err != nil {
			return "", err
		}
		if _, err := abxbus.EmitChild(ctx, abxbus.NewEvent(Side{Tag: "bg"}).Base()); err != nil {
			return "", err
		}
		return "parent-done", nil
	}, abxbus.WithName("onParent")))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, k Kid) (int, error) { return k.N + 1, nil }, abxbus.WithName("onKid")))
	must[*abxbus.Handler](t)(abxbus.On(b, func(ctx context.Context, s Side) (string, error) { return "", errors.New("side failed") }, abxbus.WithName("onSide")))
	for range 2 {
		if _, err := abxbus.Call(ctx, b, Parent{Name: "p"}); err != nil {
			t.Fatal(err)
		}
	}
	idle(t, b)
	live := b.LogTree()
	var decoded []*abxbus.BaseEvent
	hist := b.History()
	for i := len(hist) - 1; i >= 0; i-- { // any order: LogTreeOf sorts by creation
		d := must[*abxbus.BaseEvent](t)(abxbus.FromJSON(must[[]byte](t)(hist[i].ToJSON())))
		decoded = append(decoded, d, d) // an id listed twice stands for one event
	}
	if got := abxbus.LogTreeOf(b.Label(), decoded); got != live {
		t.Errorf("LogTreeOf decoded:\n%s\nwant (Bus.LogTree):\n%s", got, live)
	}
	if got := abxbus.LogTreeOf("x", nil); got != "(No events in history)" {
		t.Errorf("empty: %q", got)
	}
}
