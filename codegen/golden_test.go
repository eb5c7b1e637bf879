package codegen_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/typedbus/abxbus-go/codegen"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

var update = flag.Bool("update", false, "rewrite the golden files under testdata/codegen from the generator's output")

// genTestdata is the root of the generator's golden files: declarations in, generated Go (or the
// expected errors) out.
const genTestdata = "../testdata/codegen"

func genCases(t *testing.T, kind string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(genTestdata, kind))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() {
			dirs = append(dirs, filepath.Join(genTestdata, kind, e.Name()))
		}
	}
	if len(dirs) == 0 {
		t.Fatalf("no cases under %s/%s", genTestdata, kind)
	}
	return dirs
}

// genCompare compares got with the golden file (or rewrites it under -update).
func genCompare(t *testing.T, golden string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./codegen -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from the generator's output (-golden +got); if the change is intended run go test ./codegen -update:\n%s", golden, diff)
	}
}

// TestGolden runs the generator on every declaration set under testdata/codegen/golden and compares
// the file it writes with abxbus_gen.go.golden. The cases cover every option of the abxbus tag and
// every supported result shape (F9, F219, F220).
func TestGolden(t *testing.T) {
	for _, dir := range genCases(t, "golden") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			f, err := codegen.Generate(dir, codegen.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if f.Path != filepath.Join(dir, codegen.DefaultOutput) {
				t.Errorf("output path %s, want %s", f.Path, filepath.Join(dir, codegen.DefaultOutput))
			}
			genCompare(t, filepath.Join(dir, "abxbus_gen.go.golden"), f.Content)
			// Deterministic: a second run gives the same bytes.
			again, err := codegen.Generate(dir, codegen.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(f.Content), string(again.Content)); diff != "" {
				t.Errorf("second run differs:\n%s", diff)
			}
		})
	}
}

// TestBadDeclarations runs the generator on every declaration set under testdata/codegen/bad and
// compares its errors, one `file:line:col: reason` per line, with errors.golden. Nothing is written.
func TestBadDeclarations(t *testing.T) {
	for _, dir := range genCases(t, "bad") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			f, err := codegen.Generate(dir, codegen.Config{})
			if err == nil {
				t.Fatalf("no error; generated %d bytes", len(f.Content))
			}
			if f != nil {
				t.Errorf("partial output %s alongside the error", f.Path)
			}
			if _, statErr := os.Stat(filepath.Join(dir, codegen.DefaultOutput)); !errors.Is(statErr, os.ErrNotExist) {
				t.Errorf("a generated file exists in %s", dir)
			}
			var list codegen.ErrorList
			if dir != filepath.Join(genTestdata, "bad", "no_events") && !errors.As(err, &list) {
				t.Errorf("error is %T, want codegen.ErrorList", err)
			}
			got := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "") + "\n"
			got = strings.ReplaceAll(got, dir, "<dir>")
			genCompare(t, filepath.Join(dir, "errors.golden"), []byte(got))
		})
	}
}
