package main

import (
	"bytes"
	"context"
	"encoding/json"
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

// Every variant handles the 50k shape (reduced) correctly and is compared with abxbus; nothing of
// watermill's or abxbus's machinery outlives the run (leakcheck).
func TestAllVariantsAtReducedSize(t *testing.T) {
	code, out, errOut := runCmd("-shapes", "50k", "-n", "1100", "-batch", "512", "-runs", "2", "-json")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r row
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		got = append(got, r.Variant)
		if r.Shape != "50k" {
			t.Errorf("shape %q, want 50k: %+v", r.Shape, r)
		}
		if !r.OK || r.Events != 1100 || r.MsPerEvent <= 0 || r.AllocsPerEvnt <= 0 || r.TimeRatio <= 0 || r.AllocsRatio <= 0 {
			t.Errorf("implausible row: %+v", r)
		}
		if r.Variant == "abxbus" && (r.TimeRatio != 1 || r.AllocsRatio != 1) {
			t.Errorf("abxbus is the base of the ratios: %+v", r)
		}
	}
	if strings.Join(got, ",") != "abxbus,watermill-gochannel,watermill-requestreply" {
		t.Fatalf("variants %v", got)
	}
}

// Issue 13 item 1: the other shapes of abxbus bench that map onto GoChannel run on both sides, each
// checked, each compared with abxbus.
func TestOtherShapesAtReducedSize(t *testing.T) {
	code, out, errOut := runCmd("-shapes", "ephemeral,onoff,fanout-serial,fanout-parallel", "-scale", "0.01", "-runs", "1", "-json")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r row
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("bad line %q: %v", line, err)
		}
		got = append(got, r.Shape+"/"+r.Variant)
		if !r.OK || r.Events < 1 || r.MsPerEvent <= 0 || r.AllocsPerEvnt <= 0 || r.TimeRatio <= 0 {
			t.Errorf("implausible row: %+v", r)
		}
	}
	want := "ephemeral/abxbus,ephemeral/watermill-gochannel,onoff/abxbus,onoff/watermill-gochannel," +
		"fanout-serial/abxbus,fanout-serial/watermill-gochannel,fanout-parallel/abxbus,fanout-parallel/watermill-gochannel"
	if strings.Join(got, ",") != want {
		t.Fatalf("rows %v, want %s", got, want)
	}
}

func TestTableNamesRatios(t *testing.T) {
	code, out, errOut := runCmd("-shapes", "50k", "-n", "300", "-batch", "64", "-runs", "1", "-only", "abxbus,watermill-gochannel")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "50k: ratio watermill-gochannel / abxbus: ") || strings.Contains(out, "requestreply") {
		t.Fatalf("unexpected table:\n%s", out)
	}
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{
		{"-n", "0"}, {"-batch", "0"}, {"-runs", "0"}, {"-timeout", "0s"}, {"-only", "kafka"}, {"extra"}, {"-bogus"},
		{"-shapes", "worst"}, {"-shapes", " , "}, {"-scale", "0"}, {"-scale", "2"},
	} {
		if code, out, errOut := runCmd(args...); code != 2 || out != "" || errOut == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 with a message", args, code, out, errOut)
		}
	}
}
