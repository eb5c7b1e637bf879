package main

import (
	"strings"
	"testing"

	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// TestRun runs the program and checks what it reports.
func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatalf("%v\noutput so far:\n%s", err, out.String())
	}
	for _, want := range []string{
		"CallSignUp -> acct-ada\n",
		"CallSignUp(bad email) -> error: email not-an-email rejected: no @\n",
		"AwaitSignUp -> completed: type accounts.signup, version 1.0.0, timeout 5s, handler timeout 2s\n",
		"CallPriceQuote -> map[pro:9.5]\n",
		"FindCheckEmail(child of accounts.signup) -> CheckEmail for bob@example.com\n",
		"FilterWelcome -> 2 events, handled for [acct-ada acct-bob]\n",
		"DecodeCheckEmailResult(valid) -> ok=true at 2026-01-02T03:04:05Z\n",
		"DecodeCheckEmailResult(mismatch) -> EventHandlerResultSchemaError\n",
		"RegisterEvents -> [accounts.signup CheckEmail PriceQuote Welcome]\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q; got:\n%s", want, out.String())
		}
	}
}
