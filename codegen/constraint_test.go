package codegen

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// TestFileConstraint: the constraint a generated file copies is the declaring file's //go:build line
// (or its // +build lines) and the GOOS/GOARCH of its name (issue 11 item 12).
func TestFileConstraint(t *testing.T) {
	for _, c := range []struct{ name, header, want string }{
		{"decl.go", "", ""},
		{"decl.go", "//go:build !lite\n\n", "!lite"},
		{"decl.go", "// Copyright\n\n//go:build (a || b) && !c\n\n// Package doc.\n", "(a || b) && !c"},
		{"decl.go", "// +build a b\n// +build !c\n\n", "(a || b) && !c"},
		{"decl.go", "//go:build x\n// +build y\n\n", "x"},
		{"decl_linux.go", "", "linux"},
		{"decl_linux_test.go", "", "linux"},
		{"decl_arm64.go", "//go:build !lite\n\n", "arm64 && !lite"},
		{"decl_windows_amd64.go", "", "windows && amd64"},
		{"decl_amd64_windows.go", "", "windows"},
		{"linux.go", "", ""},
		{"decl_lite.go", "", ""},
		{"decl_test.go", "", ""},
		{"x_ios.go", "", "ios"},
	} {
		src := c.header + "package p\n\n//go:build ignored\n"
		f, err := parser.ParseFile(token.NewFileSet(), c.name, src, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		x, err := fileConstraint(f, "/some/dir/"+c.name)
		if err != nil {
			t.Fatalf("%s %q: %v", c.name, c.header, err)
		}
		got := ""
		if x != nil {
			got = x.String()
		}
		if got != c.want {
			t.Errorf("%s with %q: constraint %q, want %q", c.name, strings.TrimSpace(c.header), got, c.want)
		}
	}
	f, _ := parser.ParseFile(token.NewFileSet(), "x.go", "//go:build a &&\n\npackage p\n", parser.ParseComments)
	if _, err := fileConstraint(f, "x.go"); err == nil || !strings.Contains(err.Error(), "//go:build a &&") {
		t.Errorf("a malformed //go:build line: %v", err)
	}
}
