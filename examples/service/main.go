// Command service migrates an existing Go interface onto the bus without touching its call sites
// (see inventory.go): abxbus-gen reads the interface marked //abxbus:service and writes one event
// type per method, a client that implements the interface by calling over a bus
// (NewInventoryClient) and a server adapter that registers the existing implementation as the
// handlers (RegisterInventory). The same checkout call site then runs against the implementation
// directly, through a bus in this process, and through a JSONL bridge file as two processes would
// use it (here both ends live in this process).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/jsonl"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

var order = map[string]int{"apple": 2, "pear": 1}

func run(w io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// 1. Before: the call site calls the implementation.
	ids, err := checkout(ctx, newWarehouse(), order, []string{"apple", "pear"})
	fmt.Fprintf(w, "direct:        checkout -> %v, %v\n", ids, err)

	// 2. In one process: the implementation becomes the handlers of the Inventory events, and the
	// call site gets a client that implements Inventory. Every call is now an event that other code
	// can observe, time out, retry or forward.
	bus, err := abxbus.New("Shop", nil)
	if err != nil {
		return err
	}
	defer bus.Destroy(true)
	if _, err := RegisterInventory(bus, newWarehouse()); err != nil {
		return err
	}
	var seen []string
	var mu sync.Mutex
	bus.OnType("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) {
		mu.Lock()
		seen = append(seen, e.Type())
		mu.Unlock()
		return nil, nil
	}, abxbus.WithName("audit"))
	inv, err := NewInventoryClient(bus)
	if err != nil {
		return err
	}
	ids, err = checkout(ctx, inv, order, []string{"apple", "pear"})
	fmt.Fprintf(w, "bus:           checkout -> %v, %v\n", ids, err)
	_, err = checkout(ctx, inv, order, []string{"apple", "pear"}) // the pear is gone: the apples are released
	fmt.Fprintf(w, "bus:           checkout again -> %v\n", err)
	mu.Lock()
	fmt.Fprintf(w, "bus:           events %s\n", strings.Join(seen, " "))
	mu.Unlock()

	// 3. Across processes: the server process wires its bus to a bridge and registers the
	// implementation; the client process wires its own bus to the same bridge and waits for the
	// answers (abxbus.ServiceReply events) on the bridge's bus.
	dir, err := os.MkdirTemp("", "abxbus-service-example")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "shop.jsonl")
	fast := &jsonl.Options{PollInterval: 10 * time.Millisecond}

	srvBus, err := abxbus.New("InventoryServer", nil)
	if err != nil {
		return err
	}
	defer srvBus.Destroy(true)
	srvBridge, err := jsonl.New(file, fast)
	if err != nil {
		return err
	}
	defer srvBridge.Close()
	srvBus.OnType("*", srvBridge.Forward)
	srvBridge.On("*", func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return srvBus.Emit(ctx, e) })
	if _, err := RegisterInventory(srvBus, newWarehouse()); err != nil {
		return err
	}

	cliBus, err := abxbus.New("Storefront", nil)
	if err != nil {
		return err
	}
	defer cliBus.Destroy(true)
	cliBridge, err := jsonl.New(file, fast)
	if err != nil {
		return err
	}
	defer cliBridge.Close()
	if err := cliBridge.Start(); err != nil {
		return err
	}
	cliBus.OnType("*", cliBridge.Forward)
	remote, err := NewInventoryClient(cliBus, abxbus.ServiceReplies(cliBridge.Bus()), abxbus.ServiceTimeout(10*time.Second))
	if err != nil {
		return err
	}
	defer remote.ServiceClient().Close()
	ids, err = checkout(ctx, remote, order, []string{"apple", "pear"})
	fmt.Fprintf(w, "bridge:        checkout -> %v, %v\n", ids, err)
	_, err = checkout(ctx, remote, order, []string{"apple", "pear"})
	fmt.Fprintf(w, "bridge:        checkout again -> %v\n", err)

	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	types := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		e, err := abxbus.FromJSON([]byte(line))
		if err != nil {
			return err
		}
		types[e.Type()]++
	}
	var kinds []string
	for t := range types {
		kinds = append(kinds, t)
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "bridge:        file holds %s\n", strings.Join(kinds, " "))
	return nil
}
