package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

func init() {
	register("bench", "run the standard performance workloads and print ms, bytes, allocs per unit", runBench)
}

// benchConfig holds the knobs every workload reads.
type benchConfig struct {
	// scale multiplies the workload sizes (1 = the standard sizes; tests use a small fraction). Each
	// workload keeps a minimum size so that every check still means something.
	scale float64
	// timeout bounds every wait inside a workload, so a stuck engine gives an error instead of a hang.
	timeout time.Duration
}

// scaled returns n*scale, at least min.
func (c benchConfig) scaled(n, min int) int {
	v := int(float64(n) * c.scale)
	if v < min {
		v = min
	}
	return v
}

// workload is one of the standard performance workloads (issue 7; the same parameters as the upstream Go
// performance test).
type workload struct {
	key     string
	unit    string // "event" or "handler"
	summary string
	// upstream reference figures (ms per unit, allocations per unit; allocs 0 = not published)
	refMs     float64
	refAllocs float64
	// floor: the machine floor the workload maps onto (bench_floors.go)
	floor floorSpec
	run   func(ctx context.Context, cfg benchConfig) outcome
}

// outcome is what one run of a workload measured and checked.
type outcome struct {
	units   int
	main    sample            // the timed part
	extra   map[string]any    // workload-specific numbers (registration cost, timeouts seen, ...)
	failure error             // nil when every check passed
	phases  map[string]sample // separately timed phases (handler registration)
}

func (o *outcome) fail(format string, args ...any) {
	err := fmt.Errorf(format, args...)
	if o.failure == nil {
		o.failure = err
	} else {
		o.failure = errors.Join(o.failure, err)
	}
}

// benchRow is one line of `abxbus bench --json`.
type benchRow struct {
	Scenario          string  `json:"scenario"`
	OK                bool    `json:"ok"`
	Units             int     `json:"units"`
	Unit              string  `json:"unit"`
	MsPerUnit         float64 `json:"ms_per_unit"`
	BytesPerUnit      float64 `json:"bytes_per_unit"`
	AllocsPerUnit     float64 `json:"allocs_per_unit"`
	PeakHeapKBPerUnit float64 `json:"peak_heap_kb_per_unit"`
	TotalMs           float64 `json:"total_ms"`
	Runs              int     `json:"runs"`
	Error             string  `json:"error,omitempty"`
	// handlers only: the registration phase, per handler
	RegisterMsPerHandler     *float64 `json:"register_ms_per_handler,omitempty"`
	RegisterBytesPerHandler  *float64 `json:"register_bytes_per_handler,omitempty"`
	RegisterAllocsPerHandler *float64 `json:"register_allocs_per_handler,omitempty"`
	// upstream reference figures for comparison
	RefMsPerUnit     float64 `json:"ref_ms_per_unit,omitempty"`
	RefAllocsPerUnit float64 `json:"ref_allocs_per_unit,omitempty"`
	// the machine floor this workload maps onto, measured in the same run just before the workload
	// (median over --runs): its name, one operation's time, the floor per unit and ms_per_unit over it
	Floor          string  `json:"floor,omitempty"`
	FloorNsPerOp   float64 `json:"floor_ns_per_op,omitempty"`
	FloorMsPerUnit float64 `json:"floor_ms_per_unit,omitempty"`
	TimesFloor     float64 `json:"x_floor,omitempty"`

	Extra map[string]any `json:"extra,omitempty"`
}

func rowOf(w *workload, o outcome, runs int, floor time.Duration) benchRow {
	u := float64(max(o.units, 1))
	r := benchRow{
		Scenario:          w.key,
		OK:                o.failure == nil,
		Units:             o.units,
		Unit:              w.unit,
		MsPerUnit:         round(float64(o.main.elapsed.Nanoseconds())/1e6/u, 5),
		BytesPerUnit:      round(float64(o.main.bytes)/u, 1),
		AllocsPerUnit:     round(float64(o.main.allocs)/u, 2),
		PeakHeapKBPerUnit: round(float64(o.main.peakHeap)/1024/u, 4),
		TotalMs:           round(float64(o.main.elapsed.Nanoseconds())/1e6, 3),
		Runs:              runs,
		RefMsPerUnit:      w.refMs,
		RefAllocsPerUnit:  w.refAllocs,
		Extra:             o.extra,
	}
	if floor > 0 && w.floor.perUnit != nil {
		r.Floor = string(w.floor.kind)
		r.FloorNsPerOp = round(float64(floor.Nanoseconds()), 1)
		r.FloorMsPerUnit = round(float64(floor.Nanoseconds())*w.floor.perUnit(o.units)/1e6, 6)
		if r.FloorMsPerUnit > 0 {
			r.TimesFloor = round(r.MsPerUnit/r.FloorMsPerUnit, 2)
		}
	}
	if o.failure != nil {
		r.Error = o.failure.Error()
	}
	if reg, ok := o.phases["register"]; ok {
		ms := round(float64(reg.elapsed.Nanoseconds())/1e6/u, 5)
		by := round(float64(reg.bytes)/u, 1)
		al := round(float64(reg.allocs)/u, 2)
		r.RegisterMsPerHandler, r.RegisterBytesPerHandler, r.RegisterAllocsPerHandler = &ms, &by, &al
	}
	return r
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	if v >= 0 {
		return float64(int64(v*p+0.5)) / p
	}
	return -float64(int64(-v*p+0.5)) / p
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("only", "", "comma-separated workload keys to run (default: all): "+strings.Join(workloadKeys(), ","))
	asJSON := fs.Bool("json", false, "print one JSON object per workload and line instead of a table")
	scale := fs.Float64("scale", 1, "multiply workload sizes by this factor (0 < scale; tests use 0.01)")
	runs := fs.Int("runs", 1, "run each workload this many times and report the run with the median ms/unit")
	timeout := fs.Duration("timeout", 5*time.Minute, "bound on every wait inside a workload")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the selected workloads to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile (after the workloads) to this file")
	floors := fs.Bool("floors", true, "measure the machine's floors (channel request/reply, goroutine spawn, 1 ms timer, 1.5 ms sleep) at the start and before each workload run, and print each workload beside its floor")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: abxbus bench [--only key,key] [--json] [--scale f] [--runs n] [--cpuprofile file] [--memprofile file]")
		fmt.Fprintln(stderr, "\nworkloads:")
		for _, w := range workloads {
			fmt.Fprintf(stderr, "  %-16s %s (per %s)\n", w.key, w.summary, w.unit)
		}
		fmt.Fprintln(stderr, "\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (workloads are chosen with --only)", fs.Arg(0))
	}
	if !(*scale > 0) || *scale > 1000 {
		return fmt.Errorf("--scale must be > 0 and <= 1000, got %v", *scale)
	}
	if *runs < 1 || *runs > 1000 {
		return fmt.Errorf("--runs must be between 1 and 1000, got %d", *runs)
	}
	if *timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, got %v", *timeout)
	}
	selected, err := selectWorkloads(*only)
	if err != nil {
		return err
	}
	cfg := benchConfig{scale: *scale, timeout: *timeout}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		prev := runtime.MemProfileRate
		runtime.MemProfileRate = 4096
		defer func() { runtime.MemProfileRate = prev }()
	}

	flog := floorLog{}
	if *floors {
		for _, k := range floorKinds {
			flog.measure(k, cfg)
		}
	}
	var rows []benchRow
	var failed []string
	for _, w := range selected {
		if err := ctx.Err(); err != nil {
			return err
		}
		outs := make([]outcome, 0, *runs)
		var fl []time.Duration
		for range *runs {
			if *floors && w.floor.perUnit != nil {
				fl = append(fl, flog.measure(w.floor.kind, cfg))
			}
			outs = append(outs, w.run(ctx, cfg))
		}
		o := pickMedian(outs)
		for _, x := range outs {
			if x.failure != nil && o.failure == nil {
				o.failure = x.failure // one failing run fails the workload
			}
		}
		row := rowOf(w, o, *runs, medianDuration(fl))
		if !row.OK {
			failed = append(failed, w.key)
		}
		if *asJSON {
			line, err := json.Marshal(row)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s\n", line)
		} else {
			rows = append(rows, row)
		}
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return fmt.Errorf("--memprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return fmt.Errorf("--memprofile: %w", err)
		}
	}
	if !*asJSON {
		printTable(stdout, rows, cfg)
		if *floors {
			fmt.Fprintln(stdout, flog.summary())
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("workload(s) not ok: %s", strings.Join(failed, ", "))
	}
	return nil
}

// pickMedian returns the run with the median time per unit.
func pickMedian(outs []outcome) outcome {
	sorted := slices.Clone(outs)
	sort.SliceStable(sorted, func(i, j int) bool {
		return sorted[i].main.elapsed*time.Duration(max(sorted[j].units, 1)) <
			sorted[j].main.elapsed*time.Duration(max(sorted[i].units, 1))
	})
	return sorted[len(sorted)/2]
}

func workloadKeys() []string {
	keys := make([]string, len(workloads))
	for i, w := range workloads {
		keys[i] = w.key
	}
	return keys
}

func selectWorkloads(only string) ([]*workload, error) {
	if strings.TrimSpace(only) == "" {
		out := make([]*workload, len(workloads))
		for i := range workloads {
			out[i] = &workloads[i]
		}
		return out, nil
	}
	var out []*workload
	for _, k := range strings.Split(only, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		i := slices.IndexFunc(workloads, func(w workload) bool { return w.key == k })
		if i < 0 {
			return nil, fmt.Errorf("--only: unknown workload %q (known: %s)", k, strings.Join(workloadKeys(), ", "))
		}
		if !slices.Contains(out, &workloads[i]) {
			out = append(out, &workloads[i])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--only: no workload named in %q", only)
	}
	return out, nil
}

func printTable(w io.Writer, rows []benchRow, cfg benchConfig) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tunits\tms/unit\tbytes/unit\tallocs/unit\tpeak heap KB/unit\tok\tfloor ms/unit\tx floor\tupstream ms (allocs)\t")
	for _, r := range rows {
		ok := "ok"
		if !r.OK {
			ok = "FAIL"
		}
		ref := "-"
		switch {
		case r.RefMsPerUnit > 0 && r.RefAllocsPerUnit > 0:
			ref = fmt.Sprintf("%.3f (%.0f)", r.RefMsPerUnit, r.RefAllocsPerUnit)
		case r.RefMsPerUnit > 0:
			ref = fmt.Sprintf("%.3f", r.RefMsPerUnit)
		}
		floor, times := "-", "-"
		if r.FloorMsPerUnit > 0 {
			floor, times = fmt.Sprintf("%.5f %s", r.FloorMsPerUnit, r.Floor), fmt.Sprintf("%.2f", r.TimesFloor)
		}
		fmt.Fprintf(tw, "%s\t%d %s\t%.4f\t%.0f\t%.1f\t%.3f\t%s\t%s\t%s\t%s\t\n",
			r.Scenario, r.Units, r.Unit+"s", r.MsPerUnit, r.BytesPerUnit, r.AllocsPerUnit, r.PeakHeapKBPerUnit, ok, floor, times, ref)
	}
	tw.Flush()
	for _, r := range rows {
		if r.RegisterMsPerHandler != nil {
			fmt.Fprintf(w, "%s: registration %.4f ms/handler, %.0f bytes/handler, %.1f allocs/handler\n",
				r.Scenario, *r.RegisterMsPerHandler, *r.RegisterBytesPerHandler, *r.RegisterAllocsPerHandler)
		}
		if len(r.Extra) > 0 {
			keys := make([]string, 0, len(r.Extra))
			for k := range r.Extra {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = fmt.Sprintf("%s=%v", k, r.Extra[k])
			}
			fmt.Fprintf(w, "%s: %s\n", r.Scenario, strings.Join(parts, " "))
		}
		if r.Error != "" {
			fmt.Fprintf(w, "%s: FAILED: %s\n", r.Scenario, r.Error)
		}
	}
	if cfg.scale != 1 {
		fmt.Fprintf(w, "(sizes scaled by %v; the upstream figures are for the full sizes)\n", cfg.scale)
	}
	fmt.Fprintf(w, "(%s, %s/%s, GOMAXPROCS=%d; compare ratios from one run, absolute times move 2-4x between runs)\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0))
}
