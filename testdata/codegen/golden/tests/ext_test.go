package tests_test

import (
	"context"
	"testing"

	"github.com/typedbus/abxbus-go/abxbus"
)

// Verdict is the external test package's own result type.
type Verdict struct {
	OK bool `json:"ok"`
}

// Check is declared in the external test package: its helpers go to abxbus_gen_external_test.go.
type Check struct {
	abxbus.Returns[Verdict]
	Name string `json:"name"`
}

func TestGeneratedInExternalTests(t *testing.T) {
	bus, err := abxbus.New("ExternalBus", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Destroy(true)
	if _, err := OnCheck(bus, func(ctx context.Context, c Check) (Verdict, error) { return Verdict{OK: c.Name != ""}, nil }); err != nil {
		t.Fatal(err)
	}
	if v, err := CallCheck(context.Background(), bus, Check{Name: "x"}); err != nil || !v.OK {
		t.Fatalf("CallCheck = %+v, %v", v, err)
	}
	reg := abxbus.NewRegistry()
	if err := registerTestEvents(reg); err != nil {
		t.Fatal(err)
	}
}
