package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/bridges/sqlite"
)

// Two bridges on one database file: the emitter writes rows, the listener (a named consumer, so it
// would resume after a restart) receives them in order on its bus.
func Example() {
	dir, _ := os.MkdirTemp("", "abxbus-sqlite-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "events.db")

	emitter, err := sqlite.New(path, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer emitter.Close()
	listener, err := sqlite.New(path, &sqlite.Options{Consumer: "billing", PollInterval: 10 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer listener.Close()

	got := make(chan string, 3)
	if _, err := listener.On("OrderPlaced", func(_ context.Context, e *abxbus.BaseEvent) (any, error) {
		raw, _ := e.PayloadJSON()
		got <- string(raw)
		return nil, nil
	}); err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	for _, id := range []string{"A-1", "A-2", "A-3"} {
		e, _ := abxbus.NewBaseEvent("OrderPlaced", map[string]string{"order": id})
		if err := emitter.Emit(ctx, e); err != nil {
			fmt.Println(err)
			return
		}
	}
	for range 3 {
		fmt.Println(<-got)
	}
	fmt.Println(listener.Features().Durable)
	// Output:
	// {"order":"A-1"}
	// {"order":"A-2"}
	// {"order":"A-3"}
	// true
}
