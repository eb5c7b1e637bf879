package codegen_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
// child call, Await, AwaitChild (a linked child, issue 11 item 12), EmitWith, Find/Filter, a JSON
// result that fails validation (F218) and the registry.
//
// Issue 11 item 12: the module is also vetted, built and run with -tags lite (the golden package
// "tags" declares events under //go:build !lite and //go:build lite, generated into two files), and
// its tests run: the golden packages "tests" and "testonly" declare events in test files, whose
// generated files the tests there use, and every generated test file gets a schema check test.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	tmp := genTempModule(t)
	var imports, checks, testPkgs []string
	dirs := append(genCases(t, "golden"), filepath.Join(genTestdata, "e2e", "shop"), filepath.Join(genTestdata, "e2e", "xref"))
	for _, dir := range dirs {
		name := filepath.Base(dir)
		dst := filepath.Join(tmp, name)
		genCopyGoFiles(t, dir, dst)
		pkgName := ""
		for _, cfg := range genConfigs(t, dir) {
			files, err := codegen.Generate(dst, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range files {
				base := filepath.Base(f.Path)
				// The compiled code is the golden code: the output does not depend on where the package is.
				if want, err := os.ReadFile(filepath.Join(dir, base+".golden")); err == nil {
					if diff := cmp.Diff(string(want), string(f.Content)); diff != "" {
						t.Fatalf("%s/%s: generated code differs from the golden file:\n%s", name, base, diff)
					}
				}
				if _, err := f.Write(); err != nil {
					t.Fatal(err)
				}
				check := "e2e_check_" + strings.TrimSuffix(base, ".go") + ".go"
				if f.Package.Unit != codegen.PackageUnit {
					check = "e2e_check_" + strings.TrimSuffix(base, "_test.go") + "_test.go"
					testPkgs = append(testPkgs, "./"+name)
				} else {
					pkgName = f.Package.Name
				}
				genWrite(t, filepath.Join(dst, check), genSchemaCheck(f.Package))
			}
		}
		if pkgName != "" {
			imports = append(imports, fmt.Sprintf("\t%q\n", "abxbusgene2e/"+name))
			checks = append(checks, fmt.Sprintf("\t%q: %s.E2ECheck,\n", name, pkgName))
		}
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
	genCopyGoFiles(t, filepath.Join(genTestdata, "e2e", "samples"), filepath.Join(tmp, "samples"))
	if !slices.Contains(testPkgs, "./tests") || !slices.Contains(testPkgs, "./testonly") || !slices.Contains(testPkgs, "./xref") {
		t.Fatalf("test-file declarations were not generated: %v", testPkgs)
	}
	samplesFile := filepath.Join(tmp, "samples.json")

	for _, tags := range [][]string{nil, {"-tags", "lite"}} {
		if out, err := genGoCmd(t, tmp, append(append([]string{"vet"}, tags...), "./...")...); err != nil {
			t.Fatalf("go vet %v of the generated code: %v\n%s", tags, err, out)
		}
		bin := filepath.Join(tmp, "e2e.bin")
		race := []string{"-race"}
		if tags != nil {
			race = nil // the second configuration is built without the race detector, to save time
		}
		if out, err := genGoCmd(t, tmp, append(append(append([]string{"build"}, race...), tags...), "-o", bin, ".")...); err != nil {
			t.Fatalf("go build %v: %v\n%s", tags, err, out)
		}
		run := exec.Command(bin)
		if tags == nil {
			run.Env = append(os.Environ(), "ABXBUS_E2E_SAMPLES="+samplesFile) // for the TypeScript check below
		}
		out, err := run.CombinedOutput()
		t.Logf("%v:\n%s", tags, out)
		if err != nil {
			t.Fatalf("the generated code (%v) failed its end-to-end run: %v", tags, err)
		}
		if !strings.HasSuffix(strings.TrimSpace(string(out)), "PASS") {
			t.Fatalf("the end-to-end run (%v) did not finish", tags)
		}
		if want := map[bool]string{false: "schemas of tags: Full\n", true: "schemas of tags: Lite\n"}[tags != nil]; !strings.Contains(string(out), want) {
			t.Fatalf("the end-to-end run (%v) did not check %s", tags, want)
		}
	}
	sort.Strings(testPkgs)
	testPkgs = slices.Compact(testPkgs)
	out, err := genGoCmd(t, tmp, append([]string{"test", "-count=1", "-v"}, testPkgs...)...)
	t.Logf("go test %v:\n%s", testPkgs, out)
	if err != nil {
		t.Fatalf("go test of the packages declaring events in test files: %v", err)
	}
	for _, want := range []string{"--- PASS: TestE2ESchemas_abxbus_gen_test", "--- PASS: TestE2ESchemas_abxbus_gen_external_test", "--- PASS: TestGeneratedInTests", "--- PASS: TestGeneratedInExternalTests", "--- PASS: TestOnlyTestEvents"} {
		if !strings.Contains(out, want) {
			t.Errorf("go test output lacks %q", want)
		}
	}
	t.Run("typescript", func(t *testing.T) { genTypeScriptSamples(t, samplesFile) })
}

// genTypeScriptSamples has the TypeScript peer (abxbus@2.5.56, testdata/interop) validate every sample
// the end-to-end program recorded (issue 11 item 6): the zero and a populated value of each golden
// result type, against its generated schema, the way abxbus does for a handler's return value.
func genTypeScriptSamples(t *testing.T, samplesFile string) {
	peer, err := filepath.Abs(filepath.Join("..", "testdata", "interop"))
	if err != nil {
		t.Fatal(err)
	}
	_, nodeErr := exec.LookPath("node")
	_, peerErr := os.Stat(filepath.Join(peer, "node_modules", "abxbus", "package.json"))
	if nodeErr != nil || peerErr != nil {
		if os.Getenv("CI") != "true" {
			t.Skipf("the TypeScript peer is not available (node: %v, peer: %v); run `make interop-deps` (make test does)", nodeErr, peerErr)
		}
		t.Fatalf("the TypeScript peer is required in CI (node: %v, peer: %v)", nodeErr, peerErr)
	}
	verdicts := filepath.Join(t.TempDir(), "verdicts.json")
	cmd := exec.Command("node", "peer.mjs", "validate-results", samplesFile, verdicts)
	cmd.Dir = peer
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node peer.mjs validate-results: %v\n%s", err, out)
	}
	var samples []struct {
		Event, Kind   string
		Schema, Value json.RawMessage
	}
	var got []struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	for path, v := range map[string]any{samplesFile: &samples, verdicts: &got} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if len(samples) < 80 || len(got) != len(samples) {
		t.Fatalf("%d samples, %d verdicts", len(samples), len(got))
	}
	for i, s := range samples {
		if !got[i].OK {
			t.Errorf("%s: TS rejects the %s value %s under %s: %s", s.Event, s.Kind, s.Value, s.Schema, got[i].Error)
		}
	}
	t.Logf("TS accepts all %d samples", len(samples))
}

// genSchemaCheck writes, into a generated package, its schema check: it compares every generated
// schema constant with abxbus.ResultSchemaFor of the result type, byte for byte, and registers the
// package's events in a fresh registry. For the package itself it is E2ECheck (main.go calls it), for
// test files a test named after the generated file. It carries the generated file's build constraint.
func genSchemaCheck(p *codegen.Package) string {
	var b strings.Builder
	if p.BuildConstraint != "" {
		fmt.Fprintf(&b, "//go:build %s\n\n", p.BuildConstraint)
	}
	fmt.Fprintf(&b, "package %s\n\nimport (\n\t\"fmt\"\n\t\"reflect\"\n", p.Name)
	if p.Unit != codegen.PackageUnit {
		b.WriteString("\t\"testing\"\n")
	}
	for _, im := range p.Imports {
		if im.Alias {
			fmt.Fprintf(&b, "\t%s %q\n", im.Name, im.Path)
		} else {
			fmt.Fprintf(&b, "\t%q\n", im.Path)
		}
	}
	b.WriteString("\t\"time\"\n\n\te2ejson \"encoding/json\"\n\te2esamples \"abxbusgene2e/samples\"\n\t\"github.com/typedbus/abxbus-go/abxbus\"\n)\n\nvar _ = time.Second\n\n")
	if p.Unit == codegen.PackageUnit {
		b.WriteString("func E2ECheck() []string {\n\tvar bad []string\n")
	} else {
		name := map[codegen.Unit]string{codegen.TestUnit: "abxbus_gen_test", codegen.ExternalTestUnit: "abxbus_gen_external_test"}[p.Unit]
		fmt.Fprintf(&b, "func TestE2ESchemas_%s(t *testing.T) {\n\tvar bad []string\n", name)
		b.WriteString("\tdefer func() {\n\t\tfor _, msg := range bad {\n\t\t\tt.Error(msg)\n\t\t}\n\t}()\n")
	}
	b.WriteString("\tcheck := func(event, constant string, t reflect.Type) {\n" +
		"\t\truntime, err := abxbus.ResultSchemaFor(t)\n" +
		"\t\tif err != nil {\n\t\t\tbad = append(bad, fmt.Sprintf(\"%s: ResultSchemaFor(%v): %v\", event, t, err))\n\t\t\treturn\n\t\t}\n" +
		"\t\tif string(runtime) != constant {\n\t\t\tbad = append(bad, fmt.Sprintf(\"%s (%v):\\n  generated %s\\n  runtime   %s\", event, t, constant, runtime))\n\t\t}\n" +
		// Issue 11 item 6: what encoding/json writes for the zero value and for a populated value of the
		// result type is valid under the type's own schema (here in Go; the test checks the same samples
		// in the TypeScript peer).
		"\t\tzero, populated, err := e2esamples.Values(t)\n" +
		"\t\tif err != nil {\n\t\t\tbad = append(bad, fmt.Sprintf(\"%s: samples of %v: %v\", event, t, err))\n\t\t\treturn\n\t\t}\n" +
		"\t\tfor kind, v := range map[string][]byte{\"zero\": zero, \"populated\": populated} {\n" +
		"\t\t\tif err := abxbus.ValidateResult(e2ejson.RawMessage(constant), e2ejson.RawMessage(v)); err != nil {\n" +
		"\t\t\t\tbad = append(bad, fmt.Sprintf(\"%s (%v): the %s value %s does not match its own schema: %v\", event, t, kind, v, err))\n\t\t\t}\n" +
		"\t\t\te2esamples.Record(e2esamples.Sample{Event: event, Kind: kind, Schema: e2ejson.RawMessage(constant), Value: v})\n\t\t}\n\t}\n")
	for _, ev := range p.Events {
		fmt.Fprintf(&b, "\tcheck(%q, %s, reflect.TypeFor[%s]())\n", ev.GoName, ev.Names().SchemaConst, ev.ResultExpr)
	}
	fmt.Fprintf(&b, "\tif err := %s(abxbus.NewRegistry()); err != nil {\n\t\tbad = append(bad, \"%s: \"+err.Error())\n\t}\n", p.RegisterEventsFunc(), p.RegisterEventsFunc())
	if p.Unit == codegen.PackageUnit {
		var names []string
		for _, ev := range p.Events {
			names = append(names, ev.GoName)
		}
		fmt.Fprintf(&b, "\tfmt.Printf(\"schemas of %%s: %%s\\n\", %q, %q)\n", p.Name, strings.Join(names, " "))
		b.WriteString("\treturn bad\n")
	}
	b.WriteString("}\n")
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
