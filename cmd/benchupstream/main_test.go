package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func runCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// Both JSON shapes are read: ours (scenario, bytes_per_unit) and the upstream harness's (key,
// alloc_bytes_per_unit); rows not ok and other lines are skipped.
func TestParseLinesBothShapes(t *testing.T) {
	out := []byte(`build noise
{"scenario":"50k","ok":true,"units":5,"unit":"event","ms_per_unit":0.002,"bytes_per_unit":1400,"allocs_per_unit":4}
{"scenario":"worst","ok":false,"ms_per_unit":0.07,"allocs_per_unit":13}
{"scenario":"50k events","key":"ephemeral","ms_per_unit":0.05,"alloc_bytes_per_unit":4600,"allocs_per_unit":72,"ok":true}
`)
	rows, err := parseLines(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows["50k"] != (sample{0.002, 4, 1400}) || rows["ephemeral"] != (sample{0.05, 72, 4600}) {
		t.Fatalf("rows %+v", rows)
	}
	if _, err := parseLines([]byte("{not json\n")); err == nil {
		t.Fatal("a broken JSON line was accepted")
	}
}

// The table gives the min and median of each side and their ratios, upstream over ours.
func TestReportRatios(t *testing.T) {
	ours := []map[string]sample{{"50k": {0.002, 4, 1000}}, {"50k": {0.001, 4, 1000}}, {"50k": {0.004, 4, 1000}}}
	up := []map[string]sample{{"50k": {0.05, 70, 4600}}, {"50k": {0.04, 70, 4600}}, {"50k": {0.06, 70, 4600}}}
	var buf bytes.Buffer
	report(&buf, ours, up, []string{"50k", "worst"})
	out := buf.String()
	for _, want := range []string{"40.0x", "25.0x", "4.0/70.0", "3/3", "0/0"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// Without a mirror (and no tree extracted before) nothing runs: the command says how to get one.
func TestNoMirrorPrintsHowToGetIt(t *testing.T) {
	t.Setenv("UPSTREAM_MIRROR", "")
	t.Setenv("UPSTREAM_HARNESS", "")
	code, out, errOut := runCmd("-scratch", t.TempDir())
	if code != 2 || out != "" || !strings.Contains(errOut, "git clone --mirror https://github.com/ArchiveBox/abxbus.git") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// The scratch folder must be outside the project.
func TestScratchInsideProjectRefused(t *testing.T) {
	code, _, errOut := runCmd("-scratch", ".", "-mirror", t.TempDir())
	if code != 2 || !strings.Contains(errOut, "inside the project") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{{"-n", "0"}, {"extra"}, {"-bogus"}} {
		if code, _, errOut := runCmd(args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
}
