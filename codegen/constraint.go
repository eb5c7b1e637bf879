package codegen

import (
	"fmt"
	"go/ast"
	"go/build"
	"go/build/constraint"
	"io"
	"path/filepath"
	"strings"
)

// fileConstraint returns the build constraint of a source file as one expression: its //go:build line
// (or, in a file without one, the conjunction of its // +build lines) and the GOOS/GOARCH of its name
// (decl_linux.go builds only for linux). nil means the file is always built.
func fileConstraint(f *ast.File, filename string) (constraint.Expr, error) {
	var lineExpr constraint.Expr
	var plus []constraint.Expr
	for _, cg := range f.Comments {
		if cg.Pos() >= f.Package {
			break
		}
		for _, c := range cg.List {
			switch {
			case constraint.IsGoBuild(c.Text):
				x, err := constraint.Parse(c.Text)
				if err != nil {
					return nil, fmt.Errorf("%s: %v", c.Text, err)
				}
				lineExpr = x
			case constraint.IsPlusBuild(c.Text):
				x, err := constraint.Parse(c.Text)
				if err != nil {
					return nil, fmt.Errorf("%s: %v", c.Text, err)
				}
				plus = append(plus, x)
			}
		}
	}
	if lineExpr == nil {
		for _, x := range plus {
			lineExpr = and(lineExpr, x)
		}
	}
	var nameExpr constraint.Expr
	for _, tag := range fileNameTags(filepath.Base(filename)) {
		nameExpr = and(nameExpr, &constraint.TagExpr{Tag: tag})
	}
	return and(nameExpr, lineExpr), nil
}

func and(x, y constraint.Expr) constraint.Expr {
	switch {
	case x == nil:
		return y
	case y == nil:
		return x
	}
	return &constraint.AndExpr{X: x, Y: y}
}

// fileNameTags returns the GOOS and GOARCH a file name restricts the file to, following the go
// command's rules (name_GOOS_GOARCH.go, name_GOOS.go, name_GOARCH.go, optionally before _test).
func fileNameTags(name string) []string {
	name, _, _ = strings.Cut(name, ".")
	i := strings.Index(name, "_")
	if i < 0 {
		return nil
	}
	l := strings.Split(name[i:], "_")
	if n := len(l); n > 0 && l[n-1] == "test" {
		l = l[:n-1]
	}
	n := len(l)
	if n >= 2 && isKnown(l[n-2], false) && isKnown(l[n-1], true) {
		return []string{l[n-2], l[n-1]}
	}
	if n >= 1 && (isKnown(l[n-1], false) || isKnown(l[n-1], true)) {
		return []string{l[n-1]}
	}
	return nil
}

// isKnown reports whether tok is a GOOS (or, with arch, a GOARCH) that go/build recognises in file
// names. go/build does not export its lists, so this asks it: a file named x_tok.go is excluded for a
// platform it does not know exactly when tok is a known GOOS or GOARCH; x_tok_386.go then builds for
// GOARCH 386 exactly when tok is not a GOOS (otherwise the name also requires GOOS tok).
func isKnown(tok string, arch bool) bool {
	if tok == "" {
		return false
	}
	ctx := build.Context{GOOS: "abxbusnone", GOARCH: "abxbusnone", Compiler: "gc",
		OpenFile: func(string) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("package p\n")), nil }}
	if ok, err := ctx.MatchFile(".", "x_"+tok+".go"); err != nil || ok {
		return false
	}
	ctx.GOARCH = "386"
	ok, err := ctx.MatchFile(".", "x_"+tok+"_386.go")
	isOS := err == nil && !ok
	return isOS != arch
}
