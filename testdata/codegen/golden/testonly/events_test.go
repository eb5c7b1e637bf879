package testonly

import (
	"context"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// ask is an unexported event declared in a test file.
type ask struct {
	abxbus.Returns[Answer] `abxbus:"completion=first"`
	Q                      string `json:"q"`
}

func TestOnlyTestEvents(t *testing.T) {
	bus, err := abxbus.New("OnlyBus", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Destroy(true)
	if _, err := onAsk(bus, func(ctx context.Context, a ask) (Answer, error) { return Answer{Text: a.Q + "!"}, nil }); err != nil {
		t.Fatal(err)
	}
	if a, err := callAsk(context.Background(), bus, ask{Q: "hi"}); err != nil || a.Text != "hi!" {
		t.Fatalf("callAsk = %+v, %v", a, err)
	}
}
