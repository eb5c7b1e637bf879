package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// run runs the abxbus command line in process.
func run(t *testing.T, ctx context.Context, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runMain(ctx, args, &out, &errb)
	return out.String(), errb.String(), code
}

// containsAll reports whether every key of want is in got with an equal value (recursively for objects).
func containsAll(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !containsAll(v, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !containsAll(w[i], g[i]) {
				return false
			}
		}
		return true
	}
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	return bytes.Equal(wj, gj)
}
