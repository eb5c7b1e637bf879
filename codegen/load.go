package codegen

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// loaded is one package directory, parsed and type-checked without its generated files.
type loaded struct {
	fset  *token.FileSet
	dir   string
	files []*ast.File // sorted by file name
	pkg   *types.Package
	info  *types.Info
	// typeErrs are the type checker's complaints. They are not fatal by themselves: the package may
	// use the helpers this generator is about to write. They are reported when a declaration the
	// generator needs does not type-check.
	typeErrs []types.Error
}

// isGenerated reports whether src starts (after blank lines) with this generator's header.
func isGenerated(src []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(src, " \t\r\n"), []byte(Header))
}

// load parses the Go files of the package in dir (build constraints applied, test files and files
// written by this generator left out) and type-checks them, importing dependencies from the export
// data that `go list -export` produces (so the build cache does the work).
func load(dir string) (*loaded, error) {
	bp, err := build.Default.ImportDir(dir, 0)
	if err != nil {
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil, fmt.Errorf("%s: no Go files to read declarations from", dir)
		}
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	l := &loaded{fset: token.NewFileSet(), dir: dir}
	names := append([]string(nil), bp.GoFiles...)
	sort.Strings(names)
	imports := map[string]bool{}
	for _, name := range names {
		path := filepath.Join(dir, name)
		src, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if isGenerated(src) {
			continue
		}
		f, err := parser.ParseFile(l.fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		l.files = append(l.files, f)
		for _, im := range f.Imports {
			p, err := strconv.Unquote(im.Path.Value)
			if err == nil && p != "C" && p != "unsafe" {
				imports[p] = true
			}
		}
	}
	if len(l.files) == 0 {
		return nil, fmt.Errorf("%s: no Go files to read declarations from (only generated ones)", dir)
	}
	exports, err := listExports(dir, imports)
	if err != nil {
		return nil, err
	}
	lookup := func(path string) (io.ReadCloser, error) {
		e, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("package %q is not a dependency listed by go list", path)
		}
		if e.err != "" {
			return nil, errors.New(e.err)
		}
		return os.Open(e.file)
	}
	conf := types.Config{
		Importer: importer.ForCompiler(l.fset, "gc", lookup),
		Error: func(err error) {
			if te, ok := err.(types.Error); ok {
				l.typeErrs = append(l.typeErrs, te)
			}
		},
	}
	l.info = &types.Info{
		Types: map[ast.Expr]types.TypeAndValue{},
		Defs:  map[*ast.Ident]types.Object{},
		Uses:  map[*ast.Ident]types.Object{},
	}
	// Errors are collected above; the package object is complete enough for the declarations.
	l.pkg, _ = conf.Check(importPath(dir, bp.ImportPath), l.fset, l.files, l.info)
	return l, nil
}

type exportFile struct {
	file string
	err  string
}

// listExports runs `go list -e -export -deps` in dir for the given import paths and returns where the
// compiler's export data of each package (and of their dependencies) is.
func listExports(dir string, imports map[string]bool) (map[string]exportFile, error) {
	out := map[string]exportFile{}
	if len(imports) == 0 {
		return out, nil
	}
	paths := make([]string, 0, len(imports))
	for p := range imports {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	args := append([]string{"list", "-e", "-export", "-deps", "-json=ImportPath,Export,Error"}, paths...)
	cmd := exec.Command(goTool(), args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %v\n%s", dir, err, stderr.Bytes())
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var p struct {
			ImportPath string
			Export     string
			Error      *struct{ Err string }
		}
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("go list in %s: reading its output: %w", dir, err)
		}
		e := exportFile{file: p.Export}
		if p.Error != nil {
			e.err = p.Error.Err
		} else if p.Export == "" {
			e.err = fmt.Sprintf("go list gave no export data for %s", p.ImportPath)
		}
		out[p.ImportPath] = e
	}
	return out, nil
}

// goTool is the go command: $GOROOT/bin/go of the running toolchain when it exists (so `go run` and
// `go generate` use the toolchain that started them), else "go" from PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// firstTypeError returns the first type error positioned inside [from, to), if any.
func (l *loaded) firstTypeError(from, to token.Pos) *types.Error {
	for i := range l.typeErrs {
		if te := &l.typeErrs[i]; te.Pos >= from && te.Pos < to {
			return te
		}
	}
	return nil
}

func (l *loaded) position(p token.Pos) token.Position { return l.fset.Position(p) }

// importPath is the import path of the package in dir: its module path (from the nearest go.mod
// above it) joined with dir's path inside the module, or fallback outside any module.
func importPath(dir, fallback string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fallback
	}
	for d := abs; ; {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module"); ok {
					mod := strings.Trim(strings.TrimSpace(rest), `"`)
					rel, err := filepath.Rel(d, abs)
					if err != nil || rel == "." {
						return mod
					}
					return mod + "/" + filepath.ToSlash(rel)
				}
			}
			return fallback
		}
		parent := filepath.Dir(d)
		if parent == d {
			return fallback
		}
		d = parent
	}
}
