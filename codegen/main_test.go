package codegen_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/codegen"
)

// genModuleRoot is the root of this repository's module, found from the test's directory.
func genModuleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil || !bytes.Contains(data, []byte("module github.com/typedbus/abxbus-go\n")) {
		t.Fatalf("%s is not the abxbus-go module root: %v", root, err)
	}
	return root
}

func genCopyGoFiles(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func genWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// genTempModule makes a module in a temporary directory that requires this repository's module
// through a replace directive, so the generator can type-check declarations there. It sets the go
// command's environment for the test, so tests using it cannot run in parallel.
//
// The temporary go.mod is complete: it carries this module's go version and every requirement of its
// go.mod (issue 11 item 13). With only the abxbus-go requirement, the go command has to rebuild the
// whole module graph, which includes the go.mod files of the dependencies of modules that predate
// graph pruning (ulid's go.mod requires github.com/pborman/getopt); a fresh module cache does not
// have those, since this module's own build never needs them. With the complete go.mod the temporary
// module needs exactly the modules this one's packages need, so -mod=readonly holds (a missing
// requirement is an error, not a silent update) and GOPROXY is left as the caller has it: a warm
// cache needs no network, a cold one downloads exactly what go.sum pins.
func genTempModule(t *testing.T) string {
	t.Helper()
	root := genModuleRoot(t)
	tmp := t.TempDir()
	genWrite(t, filepath.Join(tmp, "go.mod"), genTempGoMod(t, root))
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	genWrite(t, filepath.Join(tmp, "go.sum"), string(sum))
	t.Setenv("GOFLAGS", "-mod=readonly -buildvcs=false")
	t.Setenv("GOWORK", "off")
	return tmp
}

// genTempGoMod is the go.mod of the temporary module: this module's go.mod under another module
// path, plus a requirement of this module replaced by its directory.
func genTempGoMod(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	replaced := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "module ") {
			line = "module abxbusgene2e"
			replaced = true
		}
		if strings.HasPrefix(strings.TrimSpace(line), "replace") {
			t.Fatalf("%s/go.mod has a replace directive; genTempGoMod does not carry it over yet", root)
		}
		b.WriteString(line + "\n")
	}
	if !replaced {
		t.Fatalf("%s/go.mod has no module line", root)
	}
	fmt.Fprintf(&b, "require github.com/typedbus/abxbus-go v0.0.0\n\nreplace github.com/typedbus/abxbus-go => %s\n", root)
	return b.String()
}

func genMain(args ...string) (int, string, string) {
	var stdout, stderr strings.Builder
	code := codegen.Main(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestMainCheckAndWrite covers -check (missing, fresh, stale) and that a run writes only when the
// output changes.
func TestMainCheckAndWrite(t *testing.T) {
	dir := filepath.Join(genTempModule(t), "basic")
	genCopyGoFiles(t, filepath.Join(genTestdata, "golden", "basic"), dir)
	out := filepath.Join(dir, codegen.DefaultOutput)

	if code, _, stderr := genMain("-check", dir); code != 1 || !strings.Contains(stderr, out+" is stale") {
		t.Fatalf("-check with no generated file: exit %d, stderr %q; want 1 and a stale message", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("-check wrote %s", out)
	}
	if code, stdout, stderr := genMain(dir); code != 0 || stdout != "wrote "+out+"\n" {
		t.Fatalf("generate: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, _, stderr := genMain("-check", dir); code != 0 {
		t.Fatalf("-check after generating: exit %d, stderr %q", code, stderr)
	}

	// Unchanged output: the file is not rewritten (its modification time stays).
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(out, past, past); err != nil {
		t.Fatal(err)
	}
	if code, stdout, _ := genMain(dir); code != 0 || stdout != "" {
		t.Fatalf("second generate: exit %d, stdout %q; want 0 and nothing written", code, stdout)
	}
	if fi, err := os.Stat(out); err != nil || !fi.ModTime().Equal(past) {
		t.Fatalf("unchanged output was rewritten: %v %v", fi.ModTime(), err)
	}

	// A changed declaration makes the file stale until the next run.
	decl := filepath.Join(dir, "decl.go")
	src, err := os.ReadFile(decl)
	if err != nil {
		t.Fatal(err)
	}
	genWrite(t, decl, strings.Replace(string(src), "version=2", "version=3", 1))
	if code, _, stderr := genMain("-check", dir); code != 1 || !strings.Contains(stderr, "stale") {
		t.Fatalf("-check after a declaration change: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, _ := genMain(dir); code != 0 || stdout == "" {
		t.Fatalf("regenerate: exit %d, stdout %q", code, stdout)
	}
	if got, _ := os.ReadFile(out); !strings.Contains(string(got), `Version: "3"`) {
		t.Fatalf("regenerated file lacks the new version")
	}

	// A hand-edited generated file is stale too.
	genWrite(t, out, strings.Replace(string(mustRead(t, out)), "Version: \"3\"", "Version: \"4\"", 1))
	if code, _, _ := genMain("-check", dir); code != 1 {
		t.Fatalf("-check of a hand-edited generated file: exit %d, want 1", code)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMainPattern covers dir/...: packages are found by their go:generate directives, whose flags
// are used; testdata directories are skipped.
func TestMainPattern(t *testing.T) {
	tmp := genTempModule(t)
	a := filepath.Join(tmp, "a")
	b := filepath.Join(tmp, "nested", "b")
	skipped := filepath.Join(tmp, "testdata", "c")
	for _, d := range []string{a, b, skipped} {
		genCopyGoFiles(t, filepath.Join(genTestdata, "golden", "scalars"), d)
	}
	genWrite(t, filepath.Join(a, "gen.go"), "package scalars\n\n//go:generate go run github.com/typedbus/abxbus-go/cmd/abxbus-gen\n")
	genWrite(t, filepath.Join(b, "gen.go"), "package scalars\n\n//go:generate abxbus-gen -output events_gen.go\n")
	genWrite(t, filepath.Join(skipped, "gen.go"), "package scalars\n\n//go:generate abxbus-gen\n")

	ds, err := codegen.FindDirectives(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Dir != a || ds[1].Dir != b || len(ds[0].Args) != 0 || strings.Join(ds[1].Args, " ") != "-output events_gen.go" {
		t.Fatalf("FindDirectives = %+v", ds)
	}
	if code, _, stderr := genMain("-check", tmp+"/..."); code != 1 || strings.Count(stderr, "stale") != 2 {
		t.Fatalf("-check ./...: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, stderr := genMain(tmp + "/..."); code != 0 || strings.Count(stdout, "wrote") != 2 {
		t.Fatalf("generate ./...: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for _, p := range []string{filepath.Join(a, codegen.DefaultOutput), filepath.Join(b, "events_gen.go")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("missing %s: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(skipped, codegen.DefaultOutput)); !os.IsNotExist(err) {
		t.Errorf("generated into a testdata directory")
	}
	if code, _, stderr := genMain("-check", tmp+"/..."); code != 0 {
		t.Fatalf("-check ./... after generating: exit %d, stderr %q", code, stderr)
	}
}

// TestMainErrors covers bad usage, bad declarations (file:line:col, nothing written) and refusing
// to overwrite a file the generator did not write.
func TestMainErrors(t *testing.T) {
	if code, _, stderr := genMain("-nope"); code != 2 || !strings.Contains(stderr, "usage: abxbus-gen") {
		t.Errorf("unknown flag: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := genMain("-output", "../x.go", filepath.Join(genTestdata, "golden", "basic")); code != 1 || !strings.Contains(stderr, "must be a non-test .go file name") {
		t.Errorf("bad -output: exit %d, stderr %q", code, stderr)
	}

	tmp := genTempModule(t)
	bad := filepath.Join(tmp, "bad")
	genCopyGoFiles(t, filepath.Join(genTestdata, "bad", "unknown_option"), bad)
	code, stdout, stderr := genMain(bad)
	if code != 1 || stdout != "" || !strings.Contains(stderr, filepath.Join(bad, "decl.go")+`:6:25: event type Typo: unknown option "timout"`) {
		t.Errorf("bad declarations: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(bad, codegen.DefaultOutput)); !os.IsNotExist(err) {
		t.Errorf("bad declarations produced output")
	}

	mine := filepath.Join(tmp, "mine")
	genCopyGoFiles(t, filepath.Join(genTestdata, "golden", "scalars"), mine)
	genWrite(t, filepath.Join(mine, codegen.DefaultOutput), "package scalars\n\n// hand-written\n")
	if code, _, stderr := genMain(mine); code != 1 || !strings.Contains(stderr, "was not written by abxbus-gen") {
		t.Errorf("overwrite of a hand-written file: exit %d, stderr %q", code, stderr)
	}
	if got := string(mustRead(t, filepath.Join(mine, codegen.DefaultOutput))); got != "package scalars\n\n// hand-written\n" {
		t.Errorf("the hand-written file changed")
	}
}

// TestMainTagsTestsAndLongLines covers issue 11 item 12 through the command: -tags selects the files
// read and the generated file carries the declarations' build constraint; a package may have one
// directive per build configuration; events of test files and of the external test package go to
// their own files, which are removed when their events are; a source line over 1 MiB is read.
func TestMainTagsTestsAndLongLines(t *testing.T) {
	tmp := genTempModule(t)

	// -tags and the build constraint of the declarations.
	tags := filepath.Join(tmp, "tags")
	genCopyGoFiles(t, filepath.Join(genTestdata, "golden", "tags"), tags)
	if code, stdout, stderr := genMain("-tags", "lite", "-output", "abxbus_gen_lite.go", tags); code != 0 || stdout != "wrote "+filepath.Join(tags, "abxbus_gen_lite.go")+"\n" {
		t.Fatalf("-tags lite: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	lite := string(mustRead(t, filepath.Join(tags, "abxbus_gen_lite.go")))
	if !strings.Contains(lite, "\n//go:build lite\n\npackage tags\n") || !strings.Contains(lite, "func OnLite(") || strings.Contains(lite, "Full") {
		t.Errorf("abxbus_gen_lite.go:\n%s", lite)
	}
	if code, _, stderr := genMain("-check", tmp+"/..."); code != 1 || !strings.Contains(stderr, filepath.Join(tags, codegen.DefaultOutput)+" is stale") || strings.Contains(stderr, "abxbus_gen_lite.go") {
		t.Errorf("-check ./... with the lite file only: exit %d, stderr %q; want abxbus_gen.go stale", code, stderr)
	}
	if code, _, stderr := genMain(tmp + "/..."); code != 0 {
		t.Fatalf("generate ./...: exit %d, stderr %q", code, stderr)
	}
	full := string(mustRead(t, filepath.Join(tags, codegen.DefaultOutput)))
	if !strings.Contains(full, "\n//go:build !lite\n\npackage tags\n") || !strings.Contains(full, "func OnFull(") || strings.Contains(full, "Lite") {
		t.Errorf("abxbus_gen.go:\n%s", full)
	}

	// Test files: three generated files, and one removed when its declarations go.
	tests := filepath.Join(tmp, "tests")
	genCopyGoFiles(t, filepath.Join(genTestdata, "golden", "tests"), tests)
	code, stdout, stderr := genMain(tests)
	if code != 0 || strings.Count(stdout, "wrote") != 3 {
		t.Fatalf("generate tests: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	ext := filepath.Join(tests, "abxbus_gen_external_test.go")
	if !strings.Contains(string(mustRead(t, ext)), "package tests_test\n") ||
		!strings.Contains(string(mustRead(t, filepath.Join(tests, "abxbus_gen_test.go"))), "func OnProbe(") {
		t.Errorf("test files generated wrongly")
	}
	if err := os.Remove(filepath.Join(tests, "ext_test.go")); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := genMain("-check", tests); code != 1 || !strings.Contains(stderr, ext+" is stale (no events are declared for it any more)") {
		t.Errorf("-check after removing the external test declarations: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, _ := genMain(tests); code != 0 || stdout != "removed "+ext+"\n" {
		t.Errorf("generate after removing the external test declarations: exit %d, stdout %q", code, stdout)
	}
	if _, err := os.Stat(ext); !os.IsNotExist(err) {
		t.Errorf("%s still exists: %v", ext, err)
	}

	// A package with a 2 MiB source line (a big literal) and its go:generate directive after it.
	long := filepath.Join(tmp, "long")
	genCopyGoFiles(t, filepath.Join(genTestdata, "golden", "scalars"), long)
	genWrite(t, filepath.Join(long, "big.go"), "package scalars\n\nconst big = \""+strings.Repeat("x", 2<<20)+"\"\n\n//go:generate abxbus-gen -output long_gen.go\n")
	ds, err := codegen.FindDirectives(long)
	if err != nil || len(ds) != 1 || strings.Join(ds[0].Args, " ") != "-output long_gen.go" {
		t.Fatalf("FindDirectives with a 2 MiB line = %+v, %v", ds, err)
	}
	if code, stdout, stderr := genMain(long + "/..."); code != 0 || stdout != "wrote "+filepath.Join(long, "long_gen.go")+"\n" {
		t.Fatalf("generate with a 2 MiB line: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
