package codegen_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/typedbus/abxbus-go/codegen"
)

// genGoCmd runs the go command in dir, a module made by genTempModule (its environment applies).
func genGoCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestEndToEnd generates code for every golden package and for the shop scenario into a temporary
// module that requires this one through a replace directive, builds it with the race detector and
// runs it. The program (testdata/codegen/e2e/main.go) checks that each generated schema constant is
// exactly what abxbus.ResultSchemaFor returns for the result type (F220), that RegisterEvents works
// for every package, and drives handlers through the generated helpers: Call with a queue-jumping
// child call, Await, EmitWith, Find/Filter, a JSON result that fails validation (F218) and the
// registry.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	tmp := genTempModule(t)
	var imports, checks []string
	dirs := append(genCases(t, "golden"), filepath.Join(genTestdata, "e2e", "shop"))
	for _, dir := range dirs {
		name := filepath.Base(dir)
		dst := filepath.Join(tmp, name)
		genCopyGoFiles(t, dir, dst)
		f, err := codegen.Generate(dst, codegen.Config{})
		if err != nil {
			t.Fatal(err)
		}
		// The compiled code is the golden code: the output does not depend on where the package is.
		if want, err := os.ReadFile(filepath.Join(dir, "abxbus_gen.go.golden")); err == nil {
			if diff := cmp.Diff(string(want), string(f.Content)); diff != "" {
				t.Fatalf("%s: generated code differs from the golden file:\n%s", name, diff)
			}
		}
		if _, err := f.Write(); err != nil {
			t.Fatal(err)
		}
		genWrite(t, filepath.Join(dst, "e2e_check.go"), genSchemaCheck(f.Package))
		imports = append(imports, fmt.Sprintf("\t%q\n", "abxbusgene2e/"+name))
		checks = append(checks, fmt.Sprintf("\t%q: %s.E2ECheck,\n", name, f.Package.Name))
	}
	// The result types the generator rejects are rejected by the runtime too.
	unsupported := filepath.Join(tmp, "unsupported")
	genCopyGoFiles(t, filepath.Join(genTestdata, "bad", "unsupported_result"), unsupported)
	genWrite(t, filepath.Join(unsupported, "e2e_check.go"), genUnsupportedCheck)
	imports = append(imports, fmt.Sprintf("\t%q\n", "abxbusgene2e/unsupported"))
	checks = append(checks, "\t\"unsupported\": unsupported_result.E2ECheck,\n")
	sort.Strings(imports)
	genWrite(t, filepath.Join(tmp, "cases.go"), "package main\n\nimport (\n"+strings.Join(imports, "")+
		")\n\nvar schemaChecks = map[string]func() []string{\n"+strings.Join(checks, "")+"}\n")
	genCopyGoFiles(t, filepath.Join(genTestdata, "e2e"), tmp)

	if out, err := genGoCmd(t, tmp, "vet", "./..."); err != nil {
		t.Fatalf("go vet of the generated code: %v\n%s", err, out)
	}
	bin := filepath.Join(tmp, "e2e.bin")
	if out, err := genGoCmd(t, tmp, "build", "-race", "-o", bin, "."); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("the generated code failed its end-to-end run: %v", err)
	}
	if !strings.HasSuffix(strings.TrimSpace(string(out)), "PASS") {
		t.Fatalf("the end-to-end run did not finish")
	}
}

// genSchemaCheck writes, into a generated package, E2ECheck: it compares every generated schema
// constant with abxbus.ResultSchemaFor of the result type, byte for byte, and registers the package's
// events in a fresh registry.
func genSchemaCheck(p *codegen.Package) string {
	var b strings.Builder
	fmt.Fprintf(&b, "package %s\n\nimport (\n\t\"fmt\"\n\t\"reflect\"\n", p.Name)
	for _, im := range p.Imports {
		if im.Alias {
			fmt.Fprintf(&b, "\t%s %q\n", im.Name, im.Path)
		} else {
			fmt.Fprintf(&b, "\t%q\n", im.Path)
		}
	}
	b.WriteString("\t\"time\"\n\n\t\"github.com/typedbus/abxbus-go/abxbus\"\n)\n\nvar _ = time.Second\n\n")
	b.WriteString("func E2ECheck() []string {\n\tvar bad []string\n")
	b.WriteString("\tcheck := func(event, constant string, t reflect.Type) {\n" +
		"\t\truntime, err := abxbus.ResultSchemaFor(t)\n" +
		"\t\tif err != nil {\n\t\t\tbad = append(bad, fmt.Sprintf(\"%s: ResultSchemaFor(%v): %v\", event, t, err))\n\t\t\treturn\n\t\t}\n" +
		"\t\tif string(runtime) != constant {\n\t\t\tbad = append(bad, fmt.Sprintf(\"%s (%v):\\n  generated %s\\n  runtime   %s\", event, t, constant, runtime))\n\t\t}\n\t}\n")
	for _, ev := range p.Events {
		fmt.Fprintf(&b, "\tcheck(%q, %s, reflect.TypeFor[%s]())\n", ev.GoName, ev.Names().SchemaConst, ev.ResultExpr)
	}
	b.WriteString("\tif err := RegisterEvents(abxbus.NewRegistry()); err != nil {\n\t\tbad = append(bad, \"RegisterEvents: \"+err.Error())\n\t}\n")
	b.WriteString("\treturn bad\n}\n")
	return b.String()
}

// genUnsupportedCheck is E2ECheck for testdata/codegen/bad/unsupported_result: ResultSchemaFor must
// reject every result type that the generator rejects there.
const genUnsupportedCheck = `package unsupported_result

import (
	"fmt"
	"io"
	"reflect"

	"github.com/typedbus/abxbus-go/abxbus"
)

func E2ECheck() []string {
	var bad []string
	for _, t := range []reflect.Type{
		reflect.TypeFor[chan int](),
		reflect.TypeFor[func() error](),
		reflect.TypeFor[complex128](),
		reflect.TypeFor[map[[2]int]string](),
		reflect.TypeFor[io.Reader](),
		reflect.TypeFor[Custom](),
		reflect.TypeFor[[]struct {
			Ok bool   ` + "`json:\"ok\"`" + `
			Fn func() ` + "`json:\"fn\"`" + `
		}](),
	} {
		if s, err := abxbus.ResultSchemaFor(t); err == nil {
			bad = append(bad, fmt.Sprintf("ResultSchemaFor accepted %v, which abxbus-gen rejects: %s", t, s))
		}
	}
	return bad
}
`
