// Package doccheck holds a test of the project's exported documentation: go doc is for users, so the
// behavior reference's item numbers (F149, D5, §18) and the Python runtime's vocabulary stay out of
// every exported doc comment of the public packages (issue 12 item 9). Tests and unexported code may
// cite the reference freely.
package doccheck

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// forbidden matches spec item numbers and Python words in doc text. A wire name (a JSON key such as
// event_handler_timeout) is fine; "None" and "raise_if_any" are Python API words a Go user cannot use.
var forbidden = regexp.MustCompile(`\b[FD][0-9]{1,3}\b|§ ?[0-9]+|\bNone\b|raise_if_any|\bTrue\b|\bFalse\b`)

// quoted is a backticked span: a literal the docs show (a wire name, the tree format's `None`).
var quoted = regexp.MustCompile("`[^`]*`")

// publicDirs are the directories (relative to the module root) whose exported API users read.
var publicDirs = []string{"abxbus", "abxbus/abxbustest", "abxbus/middleware", "codegen", "examples/generated",
	"abxbus/bridges", "abxbus/bridges/bridgetest", "abxbus/bridges/jsonl", "abxbus/bridges/httpbridge", "abxbus/bridges/unixsock"}

func TestExportedDocsHaveNoSpecNumbers(t *testing.T) {
	root := filepath.Join("..", "..")
	checked := 0
	for _, dir := range publicDirs {
		path := filepath.Join(root, dir)
		if _, err := os.Stat(path); err != nil {
			if os.IsNotExist(err) && dir == "abxbus/abxbustest" {
				continue
			}
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		entries, err := os.ReadDir(path)
		if err != nil {
			t.Fatal(err)
		}
		pkgs := map[string][]*ast.File{}
		for _, en := range entries {
			if en.IsDir() || !strings.HasSuffix(en.Name(), ".go") || strings.HasSuffix(en.Name(), "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(path, en.Name()), nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			pkgs[f.Name.Name] = append(pkgs[f.Name.Name], f)
		}
		for _, files := range pkgs {
			p, err := doc.NewFromFiles(fset, files, "example.com/"+dir)
			if err != nil {
				t.Fatal(err)
			}
			check := func(what, text string) {
				checked++
				if m := forbidden.FindString(quoted.ReplaceAllString(text, "")); m != "" {
					t.Errorf("%s/%s: exported doc mentions %q:\n%s", dir, what, m, indent(text))
				}
			}
			check("package "+p.Name, p.Doc)
			for _, v := range append(p.Consts, p.Vars...) {
				check(strings.Join(v.Names, ","), v.Doc)
				checkSpecs(v.Decl, dir, t, &checked)
			}
			for _, f := range p.Funcs {
				check(f.Name, f.Doc)
			}
			for _, ty := range p.Types {
				check(ty.Name, ty.Doc)
				checkFields(ty.Decl, ty.Name, dir, t, &checked)
				for _, v := range append(ty.Consts, ty.Vars...) {
					check(strings.Join(v.Names, ","), v.Doc)
					checkSpecs(v.Decl, dir, t, &checked)
				}
				for _, f := range append(ty.Funcs, ty.Methods...) {
					check(ty.Name+"."+f.Name, f.Doc)
				}
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d doc comments checked: the walk is broken", checked)
	}
}

// checkSpecs checks the doc comments of the exported names in a const or var block.
func checkSpecs(decl *ast.GenDecl, dir string, t *testing.T, checked *int) {
	for _, s := range decl.Specs {
		vs, ok := s.(*ast.ValueSpec)
		if !ok {
			continue
		}
		for _, n := range vs.Names {
			if n.IsExported() {
				checkGroup(dir, n.Name, vs.Doc, t, checked)
				checkGroup(dir, n.Name, vs.Comment, t, checked)
			}
		}
	}
}

// checkFields checks the doc comments of a struct's exported fields and an interface's methods.
func checkFields(decl *ast.GenDecl, typeName, dir string, t *testing.T, checked *int) {
	for _, s := range decl.Specs {
		ts, ok := s.(*ast.TypeSpec)
		if !ok {
			continue
		}
		var fields *ast.FieldList
		switch x := ts.Type.(type) {
		case *ast.StructType:
			fields = x.Fields
		case *ast.InterfaceType:
			fields = x.Methods
		}
		if fields == nil {
			continue
		}
		for _, f := range fields.List {
			for _, n := range f.Names {
				if n.IsExported() {
					checkGroup(dir, typeName+"."+n.Name, f.Doc, t, checked)
					checkGroup(dir, typeName+"."+n.Name, f.Comment, t, checked)
				}
			}
		}
	}
}

func checkGroup(dir, what string, g *ast.CommentGroup, t *testing.T, checked *int) {
	if g == nil {
		return
	}
	*checked++
	text := g.Text()
	if m := forbidden.FindString(quoted.ReplaceAllString(text, "")); m != "" {
		t.Errorf("%s/%s: exported doc mentions %q:\n%s", dir, what, m, indent(text))
	}
}

func indent(s string) string {
	return "\t" + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t")
}
