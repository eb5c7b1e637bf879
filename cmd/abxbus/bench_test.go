package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// runCmd runs the command in process and returns its exit code and output.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runMain(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// parseRows decodes `bench --json` output strictly: one object per line, each with exactly the
// documented required keys of the documented JSON types (extra keys are allowed).
func parseRows(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rows []map[string]any
	for i, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		var row map[string]any
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&row); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", i+1, err, line)
		}
		if dec.More() {
			t.Fatalf("line %d holds more than one JSON value: %s", i+1, line)
		}
		for key, kind := range map[string]string{
			"scenario": "string", "ok": "bool", "units": "number", "unit": "string", "ms_per_unit": "number",
			"bytes_per_unit": "number", "allocs_per_unit": "number", "peak_heap_kb_per_unit": "number",
		} {
			v, ok := row[key]
			if !ok {
				t.Fatalf("line %d lacks %q: %s", i+1, key, line)
			}
			got := "other"
			switch v.(type) {
			case string:
				got = "string"
			case bool:
				got = "bool"
			case json.Number:
				got = "number"
			}
			if got != kind {
				t.Fatalf("line %d: %q is a %s, want a %s: %s", i+1, key, got, kind, line)
			}
			if n, ok := v.(json.Number); ok {
				if f, err := n.Float64(); err != nil || f < 0 {
					t.Fatalf("line %d: %q = %v is not a non-negative number", i+1, key, n)
				}
			}
		}
		if u := row["unit"]; u != "event" && u != "handler" {
			t.Fatalf("line %d: unit %q is neither event nor handler", i+1, u)
		}
		rows = append(rows, row)
	}
	return rows
}

func num(t *testing.T, row map[string]any, key string) float64 {
	t.Helper()
	n, ok := row[key].(json.Number)
	if !ok {
		t.Fatalf("%v: %q missing or not a number", row["scenario"], key)
	}
	f, _ := n.Float64()
	return f
}

// Every standard workload runs at a reduced size, passes its own checks (events handled, results as
// expected, bounded history F185, timed-out children recorded as errors F137-F141, empty state after
// destroy F269-F272) and reports one well-formed JSON line.
func TestBenchAllWorkloadsJSON(t *testing.T) {
	code, out, errOut := runCmd(t, "bench", "--json", "--scale", "0.01")
	rows := parseRows(t, out)
	var got []string
	for _, r := range rows {
		got = append(got, r["scenario"].(string))
	}
	if want := workloadKeys(); !slices.Equal(got, want) {
		t.Fatalf("scenarios %v, want %v (stderr %s)", got, want, errOut)
	}
	failed := false
	for _, r := range rows {
		t.Run(r["scenario"].(string), func(t *testing.T) {
			if r["ok"] != true {
				failed = true
				t.Fatalf("not ok: %v", r["error"])
			}
			if num(t, r, "units") < 1 || num(t, r, "ms_per_unit") <= 0 || num(t, r, "allocs_per_unit") <= 0 {
				t.Errorf("implausible figures: %v", r)
			}
			want := "event"
			if r["scenario"] == "handlers" {
				want = "handler"
				if num(t, r, "register_ms_per_handler") <= 0 || num(t, r, "register_allocs_per_handler") <= 0 {
					t.Errorf("registration not measured: %v", r)
				}
			}
			if r["unit"] != want {
				t.Errorf("unit %v, want %s", r["unit"], want)
			}
			// issue 13 item 1: every workload is printed beside the floor it maps onto, measured in
			// this run
			if f, _ := r["floor"].(string); !slices.Contains(floorKinds, floorKind(f)) ||
				num(t, r, "floor_ns_per_op") <= 0 || num(t, r, "floor_ms_per_unit") <= 0 || num(t, r, "x_floor") <= 0 {
				t.Errorf("no floor beside the workload: %v", r)
			}
			if r["scenario"] == "worst" {
				extra, _ := r["extra"].(map[string]any)
				if n, _ := extra["slow_children_timed_out"].(json.Number); n.String() == "" || n.String() == "0" {
					t.Errorf("no slow child timed out: %v", extra)
				}
			}
		})
	}
	if failed != (code != 0) {
		t.Fatalf("exit code %d does not match the rows' ok flags; stderr: %s", code, errOut)
	}
}

func TestBenchOnlyPrintsTable(t *testing.T) {
	code, out, errOut := runCmd(t, "bench", "--only", "cleanup, 50k", "--scale", "0.01", "--runs", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	lines := strings.Split(out, "\n")
	if !strings.Contains(lines[0], "ms/unit") || !strings.Contains(lines[0], "allocs/unit") || !strings.Contains(lines[0], "peak heap KB/unit") {
		t.Fatalf("no table header: %q", lines[0])
	}
	// rows come in the order given to --only
	if !strings.HasPrefix(strings.TrimSpace(lines[1]), "cleanup ") || !strings.HasPrefix(strings.TrimSpace(lines[2]), "50k ") {
		t.Fatalf("unexpected rows:\n%s", out)
	}
	if strings.Contains(out, "worst") || strings.Contains(out, "FAIL") {
		t.Fatalf("unexpected content:\n%s", out)
	}
}

// Issue 13 item 1: the table names every floor measured in the run; --floors=false measures none.
func TestBenchFloorsLine(t *testing.T) {
	code, out, errOut := runCmd(t, "bench", "--only", "fanout-serial", "--scale", "0.01")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	for _, k := range floorKinds {
		if !strings.Contains(out, "floors this run: ") || !strings.Contains(out, " "+string(k)+" ") {
			t.Errorf("floor %s missing from the table:\n%s", k, out)
		}
	}
	if !strings.Contains(out, "sleep-1.5ms") || !strings.Contains(out, "x floor") {
		t.Errorf("fanout-serial not printed beside its sleep floor:\n%s", out)
	}
	code, out, errOut = runCmd(t, "bench", "--only", "cleanup", "--scale", "0.01", "--floors=false", "--json")
	rows := parseRows(t, out)
	if code != 0 || len(rows) != 1 || rows[0]["floor"] != nil || rows[0]["x_floor"] != nil {
		t.Fatalf("--floors=false: exit %d, rows %v, stderr %s", code, rows, errOut)
	}
}

func TestBenchBadArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--only", "50k,nope"}, `unknown workload "nope"`},
		{[]string{"bench", "--only", " , "}, "no workload named"},
		{[]string{"bench", "--scale", "0"}, "--scale must be > 0"},
		{[]string{"bench", "--scale", "NaN"}, "--scale must be > 0"},
		{[]string{"bench", "--runs", "0"}, "--runs must be between"},
		{[]string{"bench", "--timeout", "-1s"}, "--timeout must be positive"},
		{[]string{"bench", "50k"}, `unexpected argument "50k"`},
		{[]string{"bench", "--frobnicate"}, "flag provided but not defined"},
	} {
		code, out, errOut := runCmd(t, tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want a failure naming %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// A workload whose checks fail makes the command exit non-zero, with ok=false and the reason in the
// JSON line and in the table.
func TestBenchFailingWorkloadExitsNonZero(t *testing.T) {
	workloads = append(workloads, workload{key: "broken", unit: "event", summary: "always fails",
		run: func(ctx context.Context, cfg benchConfig) outcome {
			o := outcome{units: 10}
			m := startMeter()
			o.main = m.stop()
			o.fail("handler ran %d times, want %d", 9, 10)
			return o
		}})
	defer func() { workloads = workloads[:len(workloads)-1] }()

	code, out, errOut := runCmd(t, "bench", "--json", "--only", "broken")
	rows := parseRows(t, out)
	if code == 0 || len(rows) != 1 || rows[0]["ok"] != false || !strings.Contains(fmt.Sprint(rows[0]["error"]), "handler ran 9 times") {
		t.Fatalf("exit %d, rows %v, stderr %q", code, rows, errOut)
	}
	if !strings.Contains(errOut, "not ok: broken") {
		t.Fatalf("stderr %q does not name the failed workload", errOut)
	}
	code, out, _ = runCmd(t, "bench", "--only", "broken")
	if code == 0 || !strings.Contains(out, "FAIL") || !strings.Contains(out, "FAILED: handler ran 9 times") {
		t.Fatalf("exit %d, table:\n%s", code, out)
	}
}

func TestBenchProfiles(t *testing.T) {
	dir := t.TempDir()
	cpu, mem := dir+"/cpu.prof", dir+"/mem.prof"
	code, _, errOut := runCmd(t, "bench", "--only", "50k", "--scale", "0.01", "--cpuprofile", cpu, "--memprofile", mem)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, p := range []string{cpu, mem} {
		b, err := os.ReadFile(p)
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b { // pprof files are gzipped protobuf
			t.Fatalf("profile %s: %d bytes, %v", p, len(b), err)
		}
	}
}
