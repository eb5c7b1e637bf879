// Command benchupstream compares `abxbus bench` with the upstream Go port (github.com/ArchiveBox/abxbus,
// abxbus-go) on the same machine in the same run: it runs ours and upstream's workloads alternately, N
// times each, each run in a fresh process, and prints per workload the min and median ms per unit of
// both and the ratios (upstream / ours: how many times faster ours is).
//
//	UPSTREAM_MIRROR=<git dir of ArchiveBox/abxbus> go run ./cmd/benchupstream [-n 3] [-only 50k,worst]
//	make bench-upstream UPSTREAM_MIRROR=<git dir> [N=3]
//
// The upstream module is not served by the Go module proxy and must never become a dependency of this
// project, nor its code part of it. Upstream's workloads are run by a harness kept outside the project
// (it re-creates upstream's seven performance workloads through upstream's public API): this command
// copies it from -harness into a scratch folder outside the project (-scratch), which extracts the
// upstream tree from the mirror there. Nothing is written anywhere else. Without a mirror (and no tree
// already extracted in the scratch folder) it only prints how to get one.
//
// Flags (each with an environment default):
//
//	-mirror   $UPSTREAM_MIRROR   a git directory of ArchiveBox/abxbus (a bare clone or a mirror)
//	-harness  $UPSTREAM_HARNESS  the harness folder to copy (holds run_upstream_perfmem.sh)
//	-scratch  $UPSTREAM_SCRATCH  where the harness runs (default: $TMPDIR/abxbus-upstream-perf)
//	-n        runs of each side, alternated (default 3)
//	-only     workload keys, comma-separated (default: those both sides have)
//
// The machines these run on are shared: only ratios from one such run mean anything, and the min is
// the figure least disturbed by other load.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const howToGetMirror = `benchupstream: no upstream tree to run.
  It needs a git directory of the upstream repository ArchiveBox/abxbus, outside this project, e.g.
      git clone --mirror https://github.com/ArchiveBox/abxbus.git /some/scratch/abxbus.git
  and the upstream harness folder (run_upstream_perfmem.sh, perfmem/), kept outside the project
  beside the other shared notes (../shared/perf/upstream in the project's workspace). Then:
      make bench-upstream UPSTREAM_MIRROR=/some/scratch/abxbus.git UPSTREAM_HARNESS=<harness folder>
  Nothing of upstream is ever copied into this project.`

// sample is one workload's figures from one run.
type sample struct {
	ms, allocs, bytes float64
}

// parseLines reads JSON lines of `abxbus bench --json` (key "scenario", bytes "bytes_per_unit") or of
// the upstream harness (key "key", bytes "alloc_bytes_per_unit"), keeping the rows marked ok.
func parseLines(out []byte) (map[string]sample, error) {
	rows := map[string]sample{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var r struct {
			Scenario   string   `json:"scenario"`
			Key        string   `json:"key"`
			OK         *bool    `json:"ok"`
			Ms         float64  `json:"ms_per_unit"`
			Allocs     float64  `json:"allocs_per_unit"`
			Bytes      *float64 `json:"bytes_per_unit"`
			AllocBytes *float64 `json:"alloc_bytes_per_unit"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("bad JSON line %q: %w", line, err)
		}
		key := r.Key
		if key == "" {
			key = r.Scenario
		}
		if key == "" || r.OK == nil || !*r.OK || r.Ms <= 0 {
			continue
		}
		s := sample{ms: r.Ms, allocs: r.Allocs}
		if r.Bytes != nil {
			s.bytes = *r.Bytes
		} else if r.AllocBytes != nil {
			s.bytes = *r.AllocBytes
		}
		rows[key] = s
	}
	return rows, sc.Err()
}

func minMedian(v []float64) (float64, float64) {
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0, 0
	}
	if len(s)%2 == 1 {
		return s[0], s[len(s)/2]
	}
	return s[0], (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report prints the comparison table of all runs.
func report(w io.Writer, ours, up []map[string]sample, order []string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tours min ms\tours median ms\tupstream min ms\tupstream median ms\tx min\tx median\tallocs ours/upstream\tbytes ours/upstream\truns\t")
	for _, k := range order {
		var om, um, oa, ua, ob, ub []float64
		for _, r := range ours {
			if s, ok := r[k]; ok {
				om, oa, ob = append(om, s.ms), append(oa, s.allocs), append(ob, s.bytes)
			}
		}
		for _, r := range up {
			if s, ok := r[k]; ok {
				um, ua, ub = append(um, s.ms), append(ua, s.allocs), append(ub, s.bytes)
			}
		}
		if len(om) == 0 || len(um) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t%d/%d\t\n", k, len(om), len(um))
			continue
		}
		omin, omed := minMedian(om)
		umin, umed := minMedian(um)
		_, oal := minMedian(oa)
		_, ual := minMedian(ua)
		_, oby := minMedian(ob)
		_, uby := minMedian(ub)
		fmt.Fprintf(tw, "%s\t%.5f\t%.5f\t%.5f\t%.5f\t%.1fx\t%.1fx\t%.1f/%.1f\t%.0f/%.0f\t%d/%d\t\n",
			k, omin, omed, umin, umed, umin/omin, umed/omed, oal, ual, oby, uby, len(om), len(um))
	}
	tw.Flush()
	fmt.Fprintln(w, "(x = upstream ms / ours ms, from the min and from the median of the runs; runs alternate ours, upstream, ...)")
}

// insideDir reports whether path is dir or below it.
func insideDir(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() && (d.Name() == ".upstream" || d.Name() == ".bin") && rel != "." {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if info, err := d.Info(); err == nil && info.Mode()&0o111 != 0 {
			mode = 0o755
		}
		return os.WriteFile(target, b, mode)
	})
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchupstream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mirror := fs.String("mirror", os.Getenv("UPSTREAM_MIRROR"), "git directory of ArchiveBox/abxbus (default $UPSTREAM_MIRROR)")
	harness := fs.String("harness", os.Getenv("UPSTREAM_HARNESS"), "the upstream harness folder to copy (default $UPSTREAM_HARNESS)")
	scratch := fs.String("scratch", envOr("UPSTREAM_SCRATCH", filepath.Join(os.TempDir(), "abxbus-upstream-perf")), "scratch folder outside the project where the harness runs (default $UPSTREAM_SCRATCH)")
	n := fs.Int("n", 3, "runs of each side, alternated")
	only := fs.String("only", "", "comma-separated workload keys (default: all both sides have)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "benchupstream: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *n < 1 || *n > 100 {
		fmt.Fprintf(stderr, "benchupstream: -n must be between 1 and 100, got %d\n", *n)
		return 2
	}
	root, err := projectRoot()
	if err != nil {
		fmt.Fprintf(stderr, "benchupstream: %v (run it from the project, e.g. make bench-upstream)\n", err)
		return 2
	}
	scr, err := filepath.Abs(*scratch)
	if err != nil {
		fmt.Fprintf(stderr, "benchupstream: -scratch: %v\n", err)
		return 2
	}
	if insideDir(scr, root) {
		fmt.Fprintf(stderr, "benchupstream: the scratch folder %s is inside the project %s; upstream code must stay outside it\n", scr, root)
		return 2
	}
	script := filepath.Join(scr, "run_upstream_perfmem.sh")
	haveTree := fileExists(filepath.Join(scr, ".upstream", "abxbus-go", "go.mod"))
	if !fileExists(*mirror) && !haveTree {
		fmt.Fprintln(stderr, howToGetMirror)
		return 2
	}
	if !fileExists(script) {
		if *harness == "" || !fileExists(filepath.Join(*harness, "run_upstream_perfmem.sh")) {
			fmt.Fprintf(stderr, "benchupstream: no harness in %s and -harness/UPSTREAM_HARNESS (%q) holds no run_upstream_perfmem.sh\n%s\n", scr, *harness, howToGetMirror)
			return 2
		}
		if h, _ := filepath.Abs(*harness); insideDir(h, root) {
			fmt.Fprintf(stderr, "benchupstream: the harness %s is inside the project; keep it outside\n", h)
			return 2
		}
		if err := copyTree(*harness, scr); err != nil {
			fmt.Fprintf(stderr, "benchupstream: copy the harness to %s: %v\n", scr, err)
			return 1
		}
		fmt.Fprintf(stderr, "benchupstream: harness copied to %s\n", scr)
	}

	bin := filepath.Join(scr, ".bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		fmt.Fprintf(stderr, "benchupstream: %v\n", err)
		return 1
	}
	ours := filepath.Join(bin, "abxbus-ours")
	build := exec.CommandContext(ctx, "go", "build", "-o", ours, "./cmd/abxbus")
	build.Dir, build.Stdout, build.Stderr = root, stderr, stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(stderr, "benchupstream: build ours: %v\n", err)
		return 1
	}
	oursArgs := []string{"bench", "--json", "--floors=false"}
	upArgs := []string{"1", "--json"}
	if *only != "" {
		oursArgs = append(oursArgs, "--only", *only)
		upArgs = append(upArgs, "--only", *only)
	}
	var oursRuns, upRuns []map[string]sample
	for i := range *n {
		for _, side := range []string{"ours", "upstream"} {
			var cmd *exec.Cmd
			if side == "ours" {
				cmd = exec.CommandContext(ctx, ours, oursArgs...)
			} else {
				cmd = exec.CommandContext(ctx, "bash", append([]string{script}, upArgs...)...)
				cmd.Env = append(os.Environ(), "UPSTREAM_MIRROR="+*mirror, "GOWORK=off")
			}
			cmd.Dir = scr
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, stderr
			fmt.Fprintf(stderr, "benchupstream: run %d/%d %s\n", i+1, *n, side)
			if err := cmd.Run(); err != nil {
				fmt.Fprintf(stderr, "benchupstream: %s run %d: %v\n", side, i+1, err)
				return 1
			}
			rows, err := parseLines(out.Bytes())
			if err != nil {
				fmt.Fprintf(stderr, "benchupstream: %s run %d: %v\n", side, i+1, err)
				return 1
			}
			if side == "ours" {
				oursRuns = append(oursRuns, rows)
			} else {
				upRuns = append(upRuns, rows)
			}
		}
	}
	report(stdout, oursRuns, upRuns, keyOrder(oursRuns, upRuns, *only))
	return 0
}

// keyOrder lists the workloads to report: those of -only, else every key either side reported, ours
// first in our order.
func keyOrder(ours, up []map[string]sample, only string) []string {
	if strings.TrimSpace(only) != "" {
		var out []string
		for _, k := range strings.Split(only, ",") {
			if k = strings.TrimSpace(k); k != "" {
				out = append(out, k)
			}
		}
		return out
	}
	known := []string{"50k", "ephemeral", "handlers", "onoff", "worst", "cleanup", "fanout-serial", "fanout-parallel"}
	seen := map[string]bool{}
	for _, k := range known {
		seen[k] = true
	}
	out := slices.Clone(known)
	for _, runs := range [][]map[string]sample{ours, up} {
		for _, r := range runs {
			for k := range r {
				if !seen[k] {
					seen[k] = true
					out = append(out, k)
				}
			}
		}
	}
	return out
}

func fileExists(p string) bool {
	if p == "" {
		return false
	}
	_, err := os.Stat(p)
	return err == nil
}

// projectRoot finds the module root of this project from the working directory.
func projectRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/typedbus/abxbus-go\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the abxbus-go project")
		}
		dir = parent
	}
}
