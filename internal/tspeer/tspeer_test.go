package tspeer_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/internal/tspeer"
)

func TestDirHoldsThePeerPackage(t *testing.T) {
	d := tspeer.Dir(t)
	if !filepath.IsAbs(d) {
		t.Fatalf("Dir = %q, not absolute", d)
	}
	if _, err := os.Stat(filepath.Join(d, "package.json")); err != nil {
		t.Fatal(err)
	}
}

func TestNode22RunsTheSQLiteModule(t *testing.T) {
	node := tspeer.Node22(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--no-warnings", "-e", "const {DatabaseSync} = require('node:sqlite'); console.log(process.versions.node, typeof DatabaseSync)")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", node, err, out)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasPrefix(got, "22.") || !strings.HasSuffix(got, " function") {
		t.Fatalf("node 22 with node:sqlite: got %q", got)
	}
}

func TestCommandRunsInThePeerDirectory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script := filepath.Join(t.TempDir(), "probe.mjs")
	if err := os.WriteFile(script, []byte("import {EventBus} from 'abxbus'; console.log(process.cwd(), typeof EventBus)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A script outside testdata/interop resolves 'abxbus' from its own folder, so copy it in.
	dst := filepath.Join(tspeer.Dir(t), ".tspeer-probe.mjs")
	b, _ := os.ReadFile(script)
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dst)
	out, err := tspeer.Command(ctx, t, ".tspeer-probe.mjs").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), tspeer.Dir(t)+" function"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
