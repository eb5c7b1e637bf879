//go:build linux

package codegen_test

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/codegen"
)

// The compile-cost measurement (issue 12 items 9 and 12): what the code abxbus-gen writes costs the
// compiler. It is slow (tens of seconds), so it runs only when asked:
//
//	go test ./codegen -run TestCompileCost -v -compilecost=50,200 [-compilecost.reps=3] [-compilecost.gcflags=...]
//		[-compilecost.keep] [-compilecost.gocache=dir]
//
// For each N it declares N synthetic events in a temporary module that uses this module through a
// replace directive, generates their helpers, and builds the package with a fresh GOCACHE, the go
// command running every tool through this test binary (-toolexec). The core packages are compiled once
// in that cache before the measured build; the measured build recompiles only the generated package,
// and the wrapper records the CPU time (user+system) and peak RSS of that one compile. The minimum over
// the repetitions is reported, with the generated file's line count and the cost per event.
var (
	compileCostNs      = flag.String("compilecost", "", "comma-separated event counts to measure the compile cost of generated code for (empty: skip)")
	compileCostReps    = flag.Int("compilecost.reps", 3, "measured compiles per event count (the minimum is reported)")
	compileCostGcflags = flag.String("compilecost.gcflags", "", "extra -gcflags for the measured package (e.g. -d=... to see where the time goes)")
	compileCostKeep    = flag.Bool("compilecost.keep", false, "print and keep the temporary module of the last event count")
	compileCostCache   = flag.String("compilecost.gocache", "", "GOCACHE to build in (default: a fresh one); a kept one saves recompiling the standard library between runs")
	compileCostSvc     = flag.Bool("compilecost.service", false, "declare the N events as the methods of one //abxbus:service interface (request events, client and server adapter)")
)

// compileCostLogEnv names the file the toolexec wrapper appends its measurements to; when it is set,
// the test binary is the wrapper (see init below) and runs the tool given in its arguments.
const compileCostLogEnv = "ABXBUS_COMPILECOST_LOG"

// compileSample is one compile the wrapper measured.
type compileSample struct {
	Pkg    string  `json:"pkg"`
	CPU    float64 `json:"cpu"`     // user + system seconds
	MaxRSS int64   `json:"max_rss"` // bytes
}

func init() {
	log := os.Getenv(compileCostLogEnv)
	if log == "" || len(os.Args) < 2 {
		return
	}
	// The go command runs `<this binary> <tool> <args...>`: run the tool, and record compiles.
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, "compilecost wrapper:", err)
		os.Exit(2)
	}
	if filepath.Base(os.Args[1]) == "compile" && !slices.Contains(os.Args, "-V=full") {
		pkg := ""
		if i := slices.Index(os.Args, "-p"); i >= 0 && i+1 < len(os.Args) {
			pkg = os.Args[i+1]
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		s := compileSample{Pkg: pkg, CPU: float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9, MaxRSS: ru.Maxrss * 1024}
		if f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			line, _ := json.Marshal(s)
			f.Write(append(line, '\n'))
			f.Close()
		}
	}
	os.Exit(cmd.ProcessState.ExitCode())
}

// compileCostEvents declares n synthetic events, with a mix of result types seen in real programs: a
// struct of the event's own, a pointer to one, a named string type and a slice of strings; every
// third event has declared defaults.
func compileCostEvents(n int) string {
	var b strings.Builder
	b.WriteString("package events\n\nimport \"github.com/typedbus/abxbus-go/abxbus\"\n\n//go:generate go run github.com/typedbus/abxbus-go/cmd/abxbus-gen\n")
	for i := range n {
		result := ""
		switch i % 4 {
		case 0:
			result = fmt.Sprintf("Result%d", i)
			fmt.Fprintf(&b, "\ntype Result%d struct {\n\tID    string `json:\"id\"`\n\tCount int    `json:\"count\"`\n}\n", i)
		case 1:
			result = fmt.Sprintf("*Result%d", i)
			fmt.Fprintf(&b, "\ntype Result%d struct {\n\tOK   bool    `json:\"ok\"`\n\tNote *string `json:\"note\"`\n}\n", i)
		case 2:
			result = fmt.Sprintf("Name%d", i)
			fmt.Fprintf(&b, "\ntype Name%d string\n", i)
		case 3:
			result = "[]string"
		}
		tag := ""
		if i%3 == 0 {
			tag = " `abxbus:\"timeout=5s,handler_concurrency=parallel\"`"
		}
		fmt.Fprintf(&b, "\ntype Event%d struct {\n\tabxbus.Returns[%s]%s\n\n\tUser  string `json:\"user\"`\n\tItems []int  `json:\"items\"`\n}\n", i, result, tag)
	}
	return b.String()
}

// compileCostService declares one service of n methods with the payloads and result types of
// compileCostEvents: each method's request event has the fields user and items, and every third
// method has declared defaults.
func compileCostService(n int) string {
	var b strings.Builder
	b.WriteString("package events\n\nimport \"context\"\n\n//go:generate go run github.com/typedbus/abxbus-go/cmd/abxbus-gen\n")
	var methods strings.Builder
	for i := range n {
		result := ""
		switch i % 4 {
		case 0:
			result = fmt.Sprintf("Result%d", i)
			fmt.Fprintf(&b, "\ntype Result%d struct {\n\tID    string `json:\"id\"`\n\tCount int    `json:\"count\"`\n}\n", i)
		case 1:
			result = fmt.Sprintf("*Result%d", i)
			fmt.Fprintf(&b, "\ntype Result%d struct {\n\tOK   bool    `json:\"ok\"`\n\tNote *string `json:\"note\"`\n}\n", i)
		case 2:
			result = fmt.Sprintf("Name%d", i)
			fmt.Fprintf(&b, "\ntype Name%d string\n", i)
		case 3:
			result = "[]string"
		}
		if i%3 == 0 {
			methods.WriteString("\t//abxbus:method timeout=5s,handler_concurrency=parallel\n")
		}
		fmt.Fprintf(&methods, "\tEvent%d(ctx context.Context, user string, items []int) (%s, error)\n", i, result)
	}
	fmt.Fprintf(&b, "\n//abxbus:service\ntype Svc interface {\n%s}\n", methods.String())
	return b.String()
}

func TestCompileCost(t *testing.T) {
	if *compileCostNs == "" {
		t.Skip("run with -compilecost=50,200 to measure the compile cost of generated code")
	}
	var ns []int
	for _, f := range strings.Split(*compileCostNs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			t.Fatalf("-compilecost: %q is not an event count", f)
		}
		ns = append(ns, n)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		n, lines    int
		cpu         float64
		rss         int64
		genFileSize int
	}
	var rows []row
	// One cache for every count: the core is compiled into it once, each count's package is new to it.
	cache := *compileCostCache
	if cache == "" {
		cache = t.TempDir()
	}
	nonce := time.Now().UnixNano() // a kept cache never has the measured package
	for _, n := range ns {
		tmp := genTempModule(t)
		dir := filepath.Join(tmp, "events")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		decls := compileCostEvents(n)
		if *compileCostSvc {
			decls = compileCostService(n)
		}
		genWrite(t, filepath.Join(dir, "events.go"), decls)
		files, err := codegen.Generate(dir, codegen.Config{})
		if err != nil {
			t.Fatal(err)
		}
		lines, size := 0, 0
		for _, f := range files {
			if _, err := f.Write(); err != nil {
				t.Fatal(err)
			}
			lines += strings.Count(string(f.Content), "\n")
			size += len(f.Content)
		}
		logFile := filepath.Join(t.TempDir(), "compiles.jsonl")
		env := append(os.Environ(), "GOCACHE="+cache, compileCostLogEnv+"="+logFile)
		build := func(args ...string) {
			t.Helper()
			cmd := exec.Command("go", append([]string{"build", "-toolexec", self}, args...)...)
			cmd.Dir, cmd.Env = tmp, env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build %v: %v\n%s", args, err, out)
			}
		}
		// The core, compiled into the fresh cache (with the same toolexec, which is part of the cache
		// key) before the first count, then the measured package, recompiled for every repetition: each
		// repetition adds a file that changes the package's source hash.
		build("github.com/typedbus/abxbus-go/abxbus")
		gcflags := []string{}
		if *compileCostGcflags != "" {
			gcflags = []string{"-gcflags=abxbusgene2e/events=" + *compileCostGcflags}
		}
		best := row{n: n, lines: lines, genFileSize: size, cpu: -1}
		for rep := range *compileCostReps {
			genWrite(t, filepath.Join(dir, "rep.go"), fmt.Sprintf("package events\n\nconst compileCostRep = \"%d-%d\"\n", nonce, rep))
			if err := os.Truncate(logFile, 0); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			build(append(gcflags, "./events")...)
			samples := readCompileSamples(t, logFile)
			var got *compileSample
			for i := range samples {
				if samples[i].Pkg == "abxbusgene2e/events" {
					got = &samples[i]
				}
			}
			if got == nil || len(samples) != 1 {
				t.Fatalf("the measured build compiled %v; want only abxbusgene2e/events", samples)
			}
			t.Logf("N=%d rep %d: %.2fs CPU, %d MiB", n, rep, got.CPU, got.MaxRSS>>20)
			if best.cpu < 0 || got.CPU < best.cpu {
				best.cpu = got.CPU
			}
			if got.MaxRSS < best.rss || best.rss == 0 {
				best.rss = got.MaxRSS
			}
		}
		rows = append(rows, best)
		if *compileCostKeep && n == ns[len(ns)-1] {
			keep, err := os.MkdirTemp("", "abxbus-compilecost-")
			if err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command("cp", "-r", tmp+"/.", keep).CombinedOutput(); err != nil {
				t.Fatalf("keeping the module: %v\n%s", err, out)
			}
			t.Logf("module kept in %s", keep)
		}
	}
	var report strings.Builder
	fmt.Fprintf(&report, "\n%6s %8s %8s %10s %10s %12s %12s\n", "events", "lines", "KiB", "CPU s", "RSS MiB", "CPU ms/ev", "RSS KiB/ev")
	for i, r := range rows {
		perCPU, perRSS := r.cpu/float64(r.n)*1000, float64(r.rss)/float64(r.n)/1024
		if i > 0 {
			// The marginal cost per event between this count and the previous one.
			p := rows[i-1]
			perCPU = (r.cpu - p.cpu) / float64(r.n-p.n) * 1000
			perRSS = float64(r.rss-p.rss) / float64(r.n-p.n) / 1024
		}
		fmt.Fprintf(&report, "%6d %8d %8d %10.2f %10d %12.1f %12.0f\n", r.n, r.lines, r.genFileSize>>10, r.cpu, r.rss>>20, perCPU, perRSS)
	}
	report.WriteString("(per event: the first row's average, later rows the marginal cost from the row above)\n")
	t.Log(report.String())
}

func readCompileSamples(t *testing.T, path string) []compileSample {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []compileSample
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var s compileSample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, s)
	}
	return out
}
