package codegen

import (
	"fmt"
	"go/ast"
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

// FuzzReadDirectives feeds arbitrary file contents to the go:generate directive reader with the
// smallest buffer (so lines of any length cross buffer boundaries, issue 11 item 12) and compares it
// with reading the whole content and splitting it into lines.
func FuzzReadDirectives(f *testing.F) {
	for _, seed := range []string{
		"package p\n//go:generate abxbus-gen -output x.go\n",
		"//go:generate go run github.com/typedbus/abxbus-go/cmd/abxbus-gen -tags a,b\r\n//go:generate abxbus-gen",
		"const s = \"" + strings.Repeat("y", 100) + "\"\n//go:generate abxbus-gen " + strings.Repeat("-tags t ", 20) + "\n",
		"//go:generate stringer\n//go:generate  abxbus-gen\n\n", "", "\n\n", "//go:generate ",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, content string) {
		got, err := readDirectives(strings.NewReader(content), 16)
		if err != nil {
			t.Fatal(err)
		}
		var want [][]string
		for _, line := range strings.SplitAfter(content, "\n") {
			rest, ok := strings.CutPrefix(line, "//go:generate ")
			if !ok {
				continue
			}
			fields := strings.Fields(rest)
			for i, w := range fields {
				if w == "abxbus-gen" || strings.HasSuffix(w, "/abxbus-gen") {
					want = append(want, fields[i+1:])
					break
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != len(want) {
			t.Fatalf("readDirectives(%q) = %q, want %q", content, got, want)
		}
	})
}

// FuzzServiceOptions feeds arbitrary //abxbus:method options to a service method's event: the parser
// must never panic, and whenever it accepts them the generated service (request event, client and
// server adapter) must be valid Go.
func FuzzServiceOptions(f *testing.F) {
	for _, seed := range []string{"type=billing.charge,version=2", "timeout=5s,handler_concurrency=parallel", "type=", "x", "completion=first"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, val string) {
		s := &Service{GoName: "Billing"}
		ev := &Event{GoName: "BillingCharge", EventType: "BillingCharge", ResultExpr: "int", Schema: []byte(`{"type":"integer"}`)}
		m := &Method{Name: "Charge", Service: s, Event: ev, Params: []*Param{{Name: "id", Field: "ID", JSON: "id", TypeExpr: "string"}}}
		ev.Method = m
		s.Methods = []*Method{m}
		d := &ast.CommentGroup{List: []*ast.Comment{{Text: MethodDirective + " " + val}}}
		c, opts := directiveOf(d, MethodDirective)
		if c == nil {
			return // not a directive line (val starts with something that is not a space-separated option list)
		}
		if errs := parseOptions(opts, ev); len(errs) > 0 {
			return
		}
		src, err := Render(&Package{Name: "p", Events: []*Event{ev}, Services: []*Service{s}})
		if err != nil {
			t.Fatalf("accepted %q but the generated code does not format: %v", val, err)
		}
		if !strings.Contains(string(src), "func NewBillingClient(") || !strings.Contains(string(src), "func RegisterBilling(") {
			t.Fatalf("accepted %q but rendered no service", val)
		}
	})
}
