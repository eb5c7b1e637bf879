package codegen

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultOutput is the name of the generated file, written next to the declarations.
const DefaultOutput = "abxbus_gen.go"

// Config configures one generator run on one package. The zero value writes DefaultOutput.
type Config struct {
	// Output is the generated file's name inside the package directory (default DefaultOutput).
	Output string
}

// File is a generated file: where it goes and what it holds.
type File struct {
	Path    string
	Content []byte
	Package *Package
}

// Generate reads the event declarations of the Go package in dir and renders the generated file. It
// writes nothing. Bad declarations give an ErrorList of `file:line:col: reason` errors; files written
// by this generator are not read, so a stale or broken generated file never blocks a run.
//
// Cost: one `go list -export` of the package's imports (served by the build cache after the first
// run) and a type-check of the package's own files.
func Generate(dir string, cfg Config) (*File, error) {
	out := cfg.Output
	if out == "" {
		out = DefaultOutput
	}
	if out != filepath.Base(out) || !strings.HasSuffix(out, ".go") || strings.HasSuffix(out, "_test.go") {
		return nil, fmt.Errorf("output %q must be a non-test .go file name inside the package directory", out)
	}
	l, err := load(dir)
	if err != nil {
		return nil, err
	}
	p, err := extract(l)
	if err != nil {
		return nil, err
	}
	src, err := Render(p)
	if err != nil {
		return nil, err
	}
	return &File{Path: filepath.Join(dir, out), Content: src, Package: p}, nil
}

// Stale reports whether the file on disk differs from f (a missing file is stale).
func (f *File) Stale() (bool, error) {
	old, err := os.ReadFile(f.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return !bytes.Equal(old, f.Content), nil
}

// Write writes f when the file on disk differs (so an unchanged run leaves the file and its modification
// time alone) and reports whether it wrote. It refuses to overwrite a file this generator did not write.
func (f *File) Write() (bool, error) {
	old, err := os.ReadFile(f.Path)
	switch {
	case err == nil && bytes.Equal(old, f.Content):
		return false, nil
	case err == nil && !isGenerated(old):
		return false, fmt.Errorf("%s exists and was not written by abxbus-gen; not overwriting it", f.Path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.Path), ".abxbus-gen-*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(f.Content); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	return true, os.Rename(tmp.Name(), f.Path)
}

// Directive is one `//go:generate ... abxbus-gen [flags]` line found in a package.
type Directive struct {
	Dir  string   // the package directory
	Args []string // the flags after the abxbus-gen command word
}

// FindDirectives walks root and returns, sorted by directory, every package directory whose Go files
// have a go:generate directive running abxbus-gen. Like the go command it skips testdata, vendor,
// directories starting with . or _ and nested modules.
func FindDirectives(root string) ([]Directive, error) {
	var out []Directive
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		args, ok, err := directiveIn(path)
		if err != nil || !ok {
			return err
		}
		dir := filepath.Dir(path)
		if n := len(out); n > 0 && out[n-1].Dir == dir {
			return nil // one run per package
		}
		out = append(out, Directive{Dir: dir, Args: args})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out, err
}

func directiveIn(path string) ([]string, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "//go:generate ") {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(line, "//go:generate "))
		for i, w := range fields {
			if w == "abxbus-gen" || strings.HasSuffix(w, "/abxbus-gen") {
				return fields[i+1:], true, nil
			}
		}
	}
	return nil, false, sc.Err()
}

// Main is the abxbus-gen command: it parses args (without the program name), runs the generator and
// returns the exit status (0 ok, 1 errors or stale files in -check mode, 2 bad usage). Messages go to
// stderr; the names of written files to stdout.
func Main(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("abxbus-gen", flag.ContinueOnError)
	fl.SetOutput(stderr)
	output := fl.String("output", DefaultOutput, "name of the generated file in each package directory")
	check := fl.Bool("check", false, "write nothing; exit 1 when a generated file is missing or stale")
	fl.Usage = func() {
		fmt.Fprintf(stderr, "usage: abxbus-gen [-output file] [-check] [dir | dir/... ...]\n\n"+
			"Generates typed helpers for the event types (structs embedding abxbus.Returns[R]) of the Go\n"+
			"package in each dir (default: the current directory). dir/... finds every package below dir\n"+
			"with a go:generate directive running abxbus-gen and uses that directive's flags.\n\n"+
			"Options of an event, in the abxbus struct tag of its abxbus.Returns[R] field (key=value,...):\n")
		for _, k := range optionKeys {
			fmt.Fprintf(stderr, "  %-22s %s\n", k, options[k].doc)
		}
		fmt.Fprintln(stderr, "\nFlags:")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	type job struct {
		dir string
		cfg Config
	}
	var jobs []job
	targets := fl.Args()
	if len(targets) == 0 {
		targets = []string{"."}
	}
	for _, t := range targets {
		if root, ok := strings.CutSuffix(t, "..."); ok {
			root = filepath.Clean(strings.TrimSuffix(root, "/"))
			if root == "" {
				root = "."
			}
			ds, err := FindDirectives(root)
			if err != nil {
				fmt.Fprintln(stderr, "abxbus-gen:", err)
				return 1
			}
			for _, d := range ds {
				dfl := flag.NewFlagSet("go:generate abxbus-gen in "+d.Dir, flag.ContinueOnError)
				dfl.SetOutput(stderr)
				out := dfl.String("output", DefaultOutput, "")
				dfl.Bool("check", false, "")
				if err := dfl.Parse(d.Args); err != nil {
					return 2
				}
				jobs = append(jobs, job{d.Dir, Config{Output: *out}})
			}
			continue
		}
		jobs = append(jobs, job{t, Config{Output: *output}})
	}
	status := 0
	for _, j := range jobs {
		f, err := Generate(j.dir, j.cfg)
		if err != nil {
			fmt.Fprintln(stderr, err)
			status = 1
			continue
		}
		if *check {
			stale, err := f.Stale()
			if err != nil {
				fmt.Fprintln(stderr, "abxbus-gen:", err)
				status = 1
			} else if stale {
				fmt.Fprintf(stderr, "abxbus-gen: %s is stale: run go generate in %s\n", f.Path, j.dir)
				status = 1
			}
			continue
		}
		wrote, err := f.Write()
		if err != nil {
			fmt.Fprintln(stderr, "abxbus-gen:", err)
			status = 1
		} else if wrote {
			fmt.Fprintln(stdout, "wrote", f.Path)
		}
	}
	return status
}
