package sqlitemirror_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/abxbus/middleware/sqlitemirror"
)

type Signup struct {
	abxbus.Returns[string]
	Email string `json:"email"`
}

// A Mirror records every lifecycle step of every event and handler result in SQLite; the tables can
// be queried while buses write them, here after Close has written every row.
func Example() {
	dir, _ := os.MkdirTemp("", "mirror-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "history.db")
	mirror, err := sqlitemirror.Open(path, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	bus, _ := abxbus.New("Accounts", &abxbus.Options{Middlewares: []abxbus.Middleware{mirror}})
	abxbus.On(bus, func(ctx context.Context, s Signup) (string, error) { return "welcome " + s.Email, nil },
		abxbus.WithName("send_welcome"))
	abxbus.Call(ctx, bus, Signup{Email: "ada@example.com"})
	bus.Destroy(true)
	if err := mirror.Close(); err != nil { // flushes: every queued row is written
		fmt.Println(err)
		return
	}

	db, _ := sqlitemirror.OpenDB(path, time.Second)
	defer db.Close()
	rows, _ := db.Query(`SELECT event_type, phase, event_status FROM events_log ORDER BY id`)
	for rows.Next() {
		var typ, phase, status string
		rows.Scan(&typ, &phase, &status)
		fmt.Println("event ", typ, phase)
	}
	rows.Close()
	rows, _ = db.Query(`SELECT handler_name, phase, status, coalesce(result_repr, '') FROM event_results_log ORDER BY id`)
	for rows.Next() {
		var name, phase, status, result string
		rows.Scan(&name, &phase, &status, &result)
		if phase != "completed" { // earlier rows may already show a later status (see Mirror)
			status = ""
		}
		fmt.Println(strings.TrimSpace(strings.Join([]string{"result", name, phase, status, result}, " ")))
	}
	rows.Close()
	// Output:
	// event  Signup pending
	// event  Signup started
	// event  Signup completed
	// result send_welcome pending
	// result send_welcome started
	// result send_welcome completed completed "welcome ada@example.com"
}
