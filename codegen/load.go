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

// Unit says which files of a package directory a generated file belongs with.
type Unit int

const (
	// PackageUnit is the package itself: its non-test files.
	PackageUnit Unit = iota
	// TestUnit is the package's in-package test files (package x in _test.go files).
	TestUnit
	// ExternalTestUnit is the external test package (package x_test in _test.go files).
	ExternalTestUnit
)

func (u Unit) String() string {
	switch u {
	case TestUnit:
		return "package's test files"
	case ExternalTestUnit:
		return "external test package"
	}
	return "package"
}

// loaded is one type-checked unit of a package directory, without its generated files.
type loaded struct {
	fset *token.FileSet
	dir  string
	unit Unit
	// files are the files type-checked together, sorted by file name within each group (for the test
	// unit the package's files come first); own are those whose declarations this unit generates for.
	files []*ast.File
	own   []*ast.File
	pkg   *types.Package
	info  *types.Info
	// typeErrs are the type checker's complaints. They are not fatal by themselves: the package may
	// use the helpers this generator is about to write. They are reported when a declaration the
	// generator needs does not type-check.
	typeErrs []types.Error
}

// isGenerated reports whether src was written by this generator: Header is a line of the comments
// before the package clause.
func isGenerated(src []byte) bool {
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i], src[i+1:]
		} else {
			src = nil
		}
		line = bytes.TrimSpace(line)
		switch {
		case string(line) == Header:
			return true
		case len(line) == 0 || bytes.HasPrefix(line, []byte("//")):
			continue
		}
		return false
	}
	return false
}

// buildContext is the go/build context of a run: the default one (GOOS, GOARCH, CGO_ENABLED of the
// environment) with the run's extra build tags.
func buildContext(tags []string) *build.Context {
	ctx := build.Default
	ctx.BuildTags = append(append([]string(nil), ctx.BuildTags...), tags...)
	return &ctx
}

// load parses the Go files of the package in dir (build constraints applied with the extra tags,
// files written by this generator left out) and type-checks up to three units: the package, the
// package with its in-package test files, and the external test package. Dependencies come from the
// export data that `go list -export` produces (so the build cache does the work); the external test
// package imports the package as type-checked here from source, test files included, as the go
// command does.
//
// It also returns the package name (of the non-test files, or of the in-package test files).
func load(dir string, tags []string) ([]*loaded, string, error) {
	bp, err := buildContext(tags).ImportDir(dir, 0)
	if err != nil {
		var noGo *build.NoGoError
		if errors.As(err, &noGo) {
			return nil, "", fmt.Errorf("%s: no Go files to read declarations from", dir)
		}
		return nil, "", fmt.Errorf("%s: %w", dir, err)
	}
	fset := token.NewFileSet()
	parse := func(names []string) ([]*ast.File, error) {
		names = append([]string(nil), names...)
		sort.Strings(names)
		var out []*ast.File
		for _, name := range names {
			path := filepath.Join(dir, name)
			src, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			if isGenerated(src) {
				continue
			}
			f, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
		return out, nil
	}
	goFiles, err := parse(bp.GoFiles)
	if err != nil {
		return nil, "", err
	}
	testFiles, err := parse(bp.TestGoFiles)
	if err != nil {
		return nil, "", err
	}
	xtestFiles, err := parse(bp.XTestGoFiles)
	if err != nil {
		return nil, "", err
	}
	if len(goFiles)+len(testFiles)+len(xtestFiles) == 0 {
		return nil, "", fmt.Errorf("%s: no Go files to read declarations from (only generated ones)", dir)
	}
	// Test files are type-checked only when they may declare events, so packages whose tests declare
	// none cost what they did before test files were read.
	// The external test package sees the package with its test files, so those are needed for it too.
	testDecls := mayDeclare(testFiles)
	if !mayDeclare(xtestFiles) {
		xtestFiles = nil
	}
	if !testDecls && len(xtestFiles) == 0 {
		testFiles = nil
	}
	imports := map[string]bool{}
	for _, group := range [][]*ast.File{goFiles, testFiles, xtestFiles} {
		for _, f := range group {
			for _, im := range f.Imports {
				p, err := strconv.Unquote(im.Path.Value)
				if err == nil && p != "C" && p != "unsafe" {
					imports[p] = true
				}
			}
		}
	}
	path := importPath(dir, bp.ImportPath)
	delete(imports, path) // the external test package's import of the package is served from source
	exports, err := listExports(dir, imports, tags)
	if err != nil {
		return nil, "", err
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
	gc := importer.ForCompiler(fset, "gc", lookup).(types.ImporterFrom)
	check := func(unit Unit, pkgPath string, files, own []*ast.File, self *types.Package) *loaded {
		l := &loaded{fset: fset, dir: dir, unit: unit, files: files, own: own}
		conf := types.Config{
			Importer: importerFunc(func(p, dir string, mode types.ImportMode) (*types.Package, error) {
				if self != nil && p == path {
					return self, nil
				}
				return gc.ImportFrom(p, dir, mode)
			}),
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
		l.pkg, _ = conf.Check(pkgPath, fset, files, l.info)
		return l
	}
	var units []*loaded
	var withTests *types.Package
	if len(goFiles) > 0 {
		u := check(PackageUnit, path, goFiles, goFiles, nil)
		units = append(units, u)
		withTests = u.pkg
	}
	if len(testFiles) > 0 {
		all := append(append([]*ast.File(nil), goFiles...), testFiles...)
		u := check(TestUnit, path, all, testFiles, nil)
		if testDecls {
			units = append(units, u)
		}
		withTests = u.pkg
	}
	if len(xtestFiles) > 0 {
		units = append(units, check(ExternalTestUnit, path+"_test", xtestFiles, xtestFiles, withTests))
	}
	return units, bp.Name, nil
}

// mayDeclare reports whether a file of files has a struct type with an embedded field written like
// the marker (pkg.Returns[R]), an abxbus struct tag or an abxbus: directive comment, before
// type-checking tells which are real.
func mayDeclare(files []*ast.File) bool {
	found := false
	for _, f := range files {
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				if strings.HasPrefix(c.Text, "//abxbus:") {
					return true
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if found {
				return false
			}
			field, ok := n.(*ast.Field)
			if !ok {
				return true
			}
			if field.Tag != nil && strings.Contains(field.Tag.Value, TagKey+":") {
				found = true
			}
			if idx, ok := field.Type.(*ast.IndexExpr); ok && len(field.Names) == 0 {
				if sel, ok := idx.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Returns" {
					found = true
				}
			}
			return !found
		})
		if found {
			return true
		}
	}
	return false
}

type importerFunc func(path, dir string, mode types.ImportMode) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path, "", 0) }
func (f importerFunc) ImportFrom(path, dir string, mode types.ImportMode) (*types.Package, error) {
	return f(path, dir, mode)
}

type exportFile struct {
	file string
	err  string
}

// listExports runs `go list -e -export -deps` (with the build tags) in dir for the given import paths and returns where the
// compiler's export data of each package (and of their dependencies) is.
func listExports(dir string, imports map[string]bool, tags []string) (map[string]exportFile, error) {
	out := map[string]exportFile{}
	if len(imports) == 0 {
		return out, nil
	}
	paths := make([]string, 0, len(imports))
	for p := range imports {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	args := []string{"list", "-e", "-export", "-deps", "-json=ImportPath,Export,Error"}
	if len(tags) > 0 {
		args = append(args, "-tags="+strings.Join(tags, ","))
	}
	args = append(args, paths...)
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
