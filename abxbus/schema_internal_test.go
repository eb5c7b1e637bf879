package abxbus

import (
	"encoding/json"
	"fmt"
	"testing"
)

// Issue 11 item 2: schemas arrive from the wire, so the compiled-schema cache is bounded: distinct
// schema texts do not pile up in memory.
func TestCompiledSchemaCacheBoundedIssue11Item2(t *testing.T) {
	for i := 0; i < 3*maxCompiledSchemas; i++ {
		if err := ValidateResult(json.RawMessage(fmt.Sprintf(`{"type":"integer","minimum":%d}`, -i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	compiledSchemas.Range(func(any, any) bool { n++; return true })
	if n > maxCompiledSchemas {
		t.Fatalf("%d compiled schemas cached, limit %d", n, maxCompiledSchemas)
	}
}
