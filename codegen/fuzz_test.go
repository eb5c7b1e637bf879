package codegen

import (
	"go/format"
	"strings"
	"testing"
)

// FuzzParseOptions feeds arbitrary abxbus tag values to the option parser: it must never panic, and
// whenever it accepts a value the generated code for the event must be valid Go.
func FuzzParseOptions(f *testing.F) {
	for _, seed := range []string{
		"type=user.created,version=1.2.0,timeout=30s,handler_timeout=1500ms,slow_timeout=none,handler_slow_timeout=2m,concurrency=parallel,handler_concurrency=parallel,completion=first",
		" concurrency=global-serial , handler_concurrency=serial, completion=all, timeout=0",
		"timout=5s", "timeout", "timeout=,", ",,", "", "version=1 2", "type=*", "type=_x", "timeout=-1s",
		"timeout=9223372036854775807ns", "timeout=1e3s", "version=\"`", "type=a.b-c_9",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, val string) {
		ev := &Event{GoName: "E", EventType: "E", ResultExpr: "int", Schema: []byte(`{"$schema":"x","type":"integer"}`)}
		if errs := parseOptions(val, ev); len(errs) > 0 {
			for _, e := range errs {
				if e == "" {
					t.Fatalf("empty reason for %q", val)
				}
			}
			return
		}
		src, err := Render(&Package{Name: "p", Events: []*Event{ev}})
		if err != nil {
			t.Fatalf("accepted %q but the generated code does not format: %v", val, err)
		}
		if _, err := format.Source(src); err != nil || !strings.Contains(string(src), "func (E) EventSpec()") {
			t.Fatalf("accepted %q but rendered bad code: %v", val, err)
		}
	})
}
