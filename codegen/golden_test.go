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

// genConfigs returns the configurations to generate dir with: one per go:generate directive running
// abxbus-gen in it, or the default one.
func genConfigs(t *testing.T, dir string) []codegen.Config {
	t.Helper()
	ds, err := codegen.FindDirectives(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) == 0 {
		return []codegen.Config{{}}
	}
	var out []codegen.Config
	for _, d := range ds {
		cfg, err := d.Config()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cfg)
	}
	return out
}

// TestGolden runs the generator on every declaration set under testdata/codegen/golden (once for
// each go:generate directive in it, with its -tags and -output) and compares each file it writes with the
// file of the same name plus .golden; every .golden file of the case must be written. The cases cover
// every option of the abxbus tag and every supported result shape (F9, F219, F220), build constraints
// and -tags, and declarations in test files (issue 11 item 12).
func TestGolden(t *testing.T) {
	for _, dir := range genCases(t, "golden") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			written := map[string]bool{}
			for _, cfg := range genConfigs(t, dir) {
				files, err := codegen.Generate(dir, cfg)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range files {
					if filepath.Dir(f.Path) != dir {
						t.Errorf("output path %s is not in %s", f.Path, dir)
					}
					written[filepath.Base(f.Path)+".golden"] = true
					genCompare(t, f.Path+".golden", f.Content)
				}
				// Deterministic: a second run gives the same bytes.
				again, err := codegen.Generate(dir, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if len(again) != len(files) {
					t.Fatalf("second run gave %d files, first %d", len(again), len(files))
				}
				for i := range files {
					if diff := cmp.Diff(string(files[i].Content), string(again[i].Content)); diff != "" {
						t.Errorf("second run differs:\n%s", diff)
					}
				}
			}
			goldens, _ := filepath.Glob(filepath.Join(dir, "*.golden"))
			for _, g := range goldens {
				if !written[filepath.Base(g)] {
					t.Errorf("%s: the generator no longer writes this file", g)
				}
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
			files, err := codegen.Generate(dir, codegen.Config{})
			if err == nil {
				t.Fatalf("no error; generated %d files", len(files))
			}
			if files != nil {
				t.Errorf("partial output %d files alongside the error", len(files))
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
