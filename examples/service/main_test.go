package main

import (
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestRun runs the program: the unchanged checkout call site works against the implementation,
// through a bus and across a JSONL bridge, with the same answers and errors (F267).
func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatalf("%v\noutput so far:\n%s", err, out.String())
	}
	for _, want := range []string{
		"direct:        checkout -> [res-1 res-2], <nil>\n",
		"bus:           checkout -> [res-1 res-2], <nil>\n",
		"bus:           checkout again -> checkout: only 0 pear in stock\n",
		"bus:           events inventory.reserve inventory.reserve inventory.reserve inventory.reserve InventoryRelease\n",
		"bridge:        checkout -> [res-1 res-2], <nil>\n",
		"bridge:        checkout again -> checkout: Inventory.Reserve: only 0 pear in stock\n",
		"bridge:        file holds InventoryRelease abxbus.ServiceReply inventory.reserve\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q; got:\n%s", want, out.String())
		}
	}
}
