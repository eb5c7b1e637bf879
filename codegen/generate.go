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
	// Output is the generated file's name inside the package directory (default DefaultOutput). The
	// events declared in the package's test files go to the same name with _test.go for .go
	// (abxbus_gen_test.go), those of its external test package (package x_test) to the name with
	// _external_test.go (abxbus_gen_external_test.go).
	Output string
	// Tags are extra build tags, as for go build -tags: the files they select are the ones read.
	Tags []string
}

// File is a generated file: where it goes and what it holds.
type File struct {
	Path    string
	Content []byte
	Package *Package
}

// OutputNames returns the names of the files a run with cfg may write, for the package, its test files
// and its external test package, in that order.
func (cfg Config) OutputNames() ([3]string, error) {
	out := cfg.Output
	if out == "" {
		out = DefaultOutput
	}
	if out != filepath.Base(out) || !strings.HasSuffix(out, ".go") || strings.HasSuffix(out, "_test.go") {
		return [3]string{}, fmt.Errorf("output %q must be a non-test .go file name inside the package directory", out)
	}
	base := strings.TrimSuffix(out, ".go")
	return [3]string{out, base + "_test.go", base + "_external_test.go"}, nil
}

// Generate reads the event declarations of the Go package in dir and renders the generated files: one
// for the events of the package itself, one for those declared in its test files and one for those of
// its external test package, each only when there are such events (see Config.Output for the names).
// Each file carries the build constraint of the files declaring its events. It writes nothing. Bad
// declarations give an ErrorList of `file:line:col: reason` errors; files written by this generator are
// not read, so a stale or broken generated file never blocks a run. A package without any event
// declaration is an error.
//
// Cost: one `go list -export` of the package's imports (served by the build cache after the first
// run) and a type-check of the package's own files (once more with its test files when it has some).
func Generate(dir string, cfg Config) ([]*File, error) {
	names, err := cfg.OutputNames()
	if err != nil {
		return nil, err
	}
	units, pkgName, err := load(dir, cfg.Tags)
	if err != nil {
		return nil, err
	}
	var files []*File
	var prior []*Event
	var errs ErrorList
	for _, l := range units {
		p, err := extract(l, prior)
		var list ErrorList
		switch {
		case errors.As(err, &list):
			errs = append(errs, list...)
			continue
		case err != nil:
			return nil, err
		case p == nil:
			continue
		}
		if l.unit != ExternalTestUnit {
			prior = append(prior, p.Events...)
		}
		src, err := Render(p)
		if err != nil {
			return nil, err
		}
		files = append(files, &File{Path: filepath.Join(dir, names[l.unit]), Content: src, Package: p})
	}
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no event declarations (struct types embedding %s.Returns[R], or interfaces marked %s) in package %s or its test files", dir, "abxbus", ServiceDirective, pkgName)
	}
	return files, nil
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

// FindDirectives walks root and returns, sorted by directory, the go:generate directives running
// abxbus-gen in the Go files of each package directory: one per distinct set of flags (a package may
// generate several build configurations, each with its own -tags and -output), in file name order,
// then line order. Like the go command it skips testdata, vendor, directories starting with . or _ and
// nested modules. Lines of any length are read.
func FindDirectives(root string) ([]Directive, error) {
	var out []Directive
	seen := map[string]bool{}
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
		found, err := directivesIn(path)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		for _, args := range found {
			key := dir + "\x00" + strings.Join(args, "\x00")
			if !seen[key] {
				seen[key] = true
				out = append(out, Directive{Dir: dir, Args: args})
			}
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out, err
}

// directivesIn returns the flags of each abxbus-gen go:generate directive in the file at path. Lines
// are read in bounded pieces, so a long line (a big literal, say) costs no more memory than the file's
// biggest directive.
func directivesIn(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out, err := readDirectives(f, 64*1024)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// readDirectives reads lines from rd through a buffer of size bytes and returns the flags of each
// abxbus-gen go:generate directive.
func readDirectives(rd io.Reader, size int) ([][]string, error) {
	const prefix = "//go:generate "
	var out [][]string
	r := bufio.NewReaderSize(rd, size)
	for {
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 {
			full := err == nil || err == io.EOF
			if !bytes.HasPrefix(chunk, []byte(prefix)) {
				// Not a directive: skip the rest of the line.
				for err == bufio.ErrBufferFull {
					_, err = r.ReadSlice('\n')
				}
			} else {
				line := append([]byte(nil), chunk...)
				for !full && err == bufio.ErrBufferFull {
					chunk, err = r.ReadSlice('\n')
					line = append(line, chunk...)
					full = err != bufio.ErrBufferFull
				}
				fields := strings.Fields(strings.TrimPrefix(string(line), prefix))
				for i, w := range fields {
					if w == "abxbus-gen" || strings.HasSuffix(w, "/abxbus-gen") {
						out = append(out, fields[i+1:])
						break
					}
				}
			}
		}
		switch {
		case err == io.EOF:
			return out, nil
		case err != nil && err != bufio.ErrBufferFull:
			return nil, err
		}
	}
}

// Config returns the configuration the directive's flags give (-output, -tags; -check is ignored).
func (d Directive) Config() (Config, error) {
	fl := flag.NewFlagSet("abxbus-gen", flag.ContinueOnError)
	fl.SetOutput(io.Discard)
	out, tags, _ := genFlags(fl)
	if err := fl.Parse(d.Args); err != nil {
		return Config{}, fmt.Errorf("go:generate abxbus-gen in %s: %w", d.Dir, err)
	}
	return Config{Output: *out, Tags: *tags}, nil
}

// tagsFlag is the -tags flag: a comma-separated list of build tags, as for go build.
type tagsFlag []string

func (t *tagsFlag) String() string { return strings.Join(*t, ",") }

func (t *tagsFlag) Set(v string) error {
	*t = nil
	for _, tag := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		*t = append(*t, tag)
	}
	return nil
}

// genFlags defines the flags of a run (on the command line or in a go:generate directive).
func genFlags(fl *flag.FlagSet) (output *string, tags *tagsFlag, check *bool) {
	output = fl.String("output", DefaultOutput, "name of the generated file in each package directory (test files' events go to the name with _test.go, the external test package's to _external_test.go)")
	tags = new(tagsFlag)
	fl.Var(tags, "tags", "comma-separated build tags selecting the files to read, as for go build -tags")
	check = fl.Bool("check", false, "write nothing; exit 1 when a generated file is missing or stale")
	return
}

// Main is the abxbus-gen command: it parses args (without the program name), runs the generator and
// returns the exit status (0 ok, 1 errors or stale files in -check mode, 2 bad usage). Messages go to
// stderr; the names of written and removed files to stdout.
func Main(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("abxbus-gen", flag.ContinueOnError)
	fl.SetOutput(stderr)
	output, tags, check := genFlags(fl)
	fl.Usage = func() {
		fmt.Fprintf(stderr, "usage: abxbus-gen [-output file] [-tags list] [-check] [dir | dir/... ...]\n\n"+
			"Generates typed helpers for the event types (structs embedding abxbus.Returns[R]) of the Go\n"+
			"package in each dir (default: the current directory), its test files and its external test\n"+
			"package. dir/... finds every package below dir with a go:generate directive running abxbus-gen\n"+
			"and uses that directive's flags (a package may have several, one per build configuration).\n"+
			"A generated file carries the build constraint of the files declaring its events; those files\n"+
			"must share one.\n\n"+
			"An interface marked //abxbus:service (a line in its doc comment, optionally followed by options)\n"+
			"is a service: each method becomes a request event, and a client (NewXClient) implementing the\n"+
			"interface over a bus and a server adapter (RegisterX) are generated. //abxbus:method lines in a\n"+
			"method's doc comment hold its own options.\n\n"+
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
				cfg, err := d.Config()
				if err != nil {
					fmt.Fprintln(stderr, "abxbus-gen:", err)
					return 2
				}
				jobs = append(jobs, job{d.Dir, cfg})
			}
			continue
		}
		jobs = append(jobs, job{t, Config{Output: *output, Tags: *tags}})
	}
	status := 0
	for _, j := range jobs {
		files, err := Generate(j.dir, j.cfg)
		if err != nil {
			fmt.Fprintln(stderr, err)
			status = 1
			continue
		}
		// A generated file of a unit that no longer declares events is obsolete.
		names, _ := j.cfg.OutputNames()
		var obsolete []string
		for _, name := range names {
			path := filepath.Join(j.dir, name)
			wanted := false
			for _, f := range files {
				wanted = wanted || f.Path == path
			}
			if old, err := os.ReadFile(path); !wanted && err == nil && isGenerated(old) {
				obsolete = append(obsolete, path)
			}
		}
		if *check {
			for _, f := range files {
				stale, err := f.Stale()
				if err != nil {
					fmt.Fprintln(stderr, "abxbus-gen:", err)
					status = 1
				} else if stale {
					fmt.Fprintf(stderr, "abxbus-gen: %s is stale: run go generate in %s\n", f.Path, j.dir)
					status = 1
				}
			}
			for _, path := range obsolete {
				fmt.Fprintf(stderr, "abxbus-gen: %s is stale (no events are declared for it any more): run go generate in %s\n", path, j.dir)
				status = 1
			}
			continue
		}
		for _, f := range files {
			wrote, err := f.Write()
			if err != nil {
				fmt.Fprintln(stderr, "abxbus-gen:", err)
				status = 1
			} else if wrote {
				fmt.Fprintln(stdout, "wrote", f.Path)
			}
		}
		for _, path := range obsolete {
			if err := os.Remove(path); err != nil {
				fmt.Fprintln(stderr, "abxbus-gen:", err)
				status = 1
			} else {
				fmt.Fprintln(stdout, "removed", path)
			}
		}
	}
	return status
}
