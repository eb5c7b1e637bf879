package abxbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
)

// runForeign decodes a wire event of type evType carrying schema as its event_result_type, runs one
// untyped handler returning value on a real bus and returns that handler's result error.
func runForeign(t *testing.T, evType, schema string, value any) error {
	t.Helper()
	ctx := tctx(t)
	e, err := abxbus.FromJSON([]byte(`{"event_type":"` + evType + `","event_result_type":` + schema + `}`))
	if err != nil {
		t.Fatal(err)
	}
	bus := newBus(t, "ForeignSchema", nil)
	must[*abxbus.Handler](t)(bus.OnType(evType, func(ctx context.Context, e *abxbus.BaseEvent) (any, error) { return value, nil }, abxbus.WithName("h")))
	if _, err := bus.Emit(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := e.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	return resultsByHandler(e)["h"].Err()
}

// Issue 11 item 2, F218/F220: a foreign schema's file:// reference is never followed. The referenced file
// holds a schema that would accept the handler's value (and a secret); the result must be an error
// naming the event type and the reference, and the file's content must not show or matter.
func TestForeignSchemaFileRefRefusedIssue11Item2(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.json")
	if err := os.WriteFile(secret, []byte(`{"const":"s3cr3t-token-8d1f"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	ref := "file://" + filepath.ToSlash(secret)
	err := runForeign(t, "FileRefEvent", `{"$ref":"`+ref+`"}`, "s3cr3t-token-8d1f")
	if err == nil {
		t.Fatal("the handler's value was accepted through a schema read from a local file")
	}
	msg := err.Error()
	if !strings.Contains(msg, `"FileRefEvent"`) || !strings.Contains(msg, ref) {
		t.Fatalf("message does not name the event type and the reference: %v", err)
	}
	if strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "const") {
		t.Fatalf("message shows the file's content: %v", err)
	}
	if !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("not an unusable-schema error: %v", err)
	}
	// A value the secret would reject gets the same answer: the file's content never matters.
	if err2 := runForeign(t, "FileRefEvent", `{"$ref":"`+ref+`"}`, "other"); err2 == nil || err2.Error() != msg {
		t.Fatalf("a different value got %v, want %v", err2, msg)
	}
	// The same through $schema (a meta-schema read from a file) and $dynamicRef.
	for _, s := range []string{`{"$schema":"` + ref + `"}`, `{"$dynamicRef":"` + ref + `"}`} {
		if err := abxbus.ValidateResult(json.RawMessage(s), "s3cr3t-token-8d1f"); err == nil || !strings.Contains(err.Error(), ref) {
			t.Errorf("%s: %v", s, err)
		}
	}
}

// Issue 11 item 2: a relative reference is not resolved against the working directory.
func TestForeignSchemaRelativeRefRefusedIssue11Item2(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rel.json"), []byte(`{"type":"string"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, ref := range []string{"rel.json", "./rel.json", "../" + filepath.Base(dir) + "/rel.json"} {
		err := runForeign(t, "RelRefEvent", `{"$ref":"`+ref+`"}`, "a string")
		if err == nil || !strings.Contains(err.Error(), `"RelRefEvent"`) || !strings.Contains(err.Error(), `"`+ref+`"`) {
			t.Errorf("%s: got %v, want an error naming the event and the reference", ref, err)
		}
		if err != nil && strings.Contains(err.Error(), dir) {
			t.Errorf("%s: message names the working directory: %v", ref, err)
		}
	}
}

// Issue 11 item 2: a reference to a FIFO returns promptly with an error instead of blocking the bus.
func TestForeignSchemaFIFORefReturnsPromptlyIssue11Item2(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- abxbus.ValidateResult(json.RawMessage(`{"$ref":"file://`+filepath.ToSlash(fifo)+`"}`), 1)
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), fifo) {
			t.Fatalf("got %v, want an error naming the reference", err)
		}
	case <-time.After(5 * time.Second):
		// Unblock the reader so the goroutine ends, then fail.
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		<-done
		t.Fatal("validation blocked on a FIFO named by the schema")
	}
}

// Issue 11 item 2: an http:// reference is refused without any network access.
func TestForeignSchemaHTTPRefNoNetworkIssue11Item2(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"type":"integer"}`))
	}))
	defer srv.Close()
	ref := srv.URL + "/schema.json"
	for _, s := range []string{`{"$ref":"` + ref + `"}`, `{"$schema":"` + ref + `"}`, `{"$id":"` + srv.URL + `/base/","$ref":"x.json"}`} {
		err := runForeign(t, "HTTPRefEvent", s, 1)
		if err == nil || !strings.Contains(err.Error(), `"HTTPRefEvent"`) || !strings.Contains(err.Error(), srv.URL) {
			t.Errorf("%s: got %v", s, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the schema server was asked %d times", n)
	}
}

// Issue 11 item 2, F220: references within the document still work: "#", "#/$defs/...", $anchor and
// $id-anchored subschemas, $dynamicRef to an in-document anchor.
func TestForeignSchemaInDocumentRefsIssue11Item2(t *testing.T) {
	cases := []struct {
		schema      string
		good, bad   string
		description string
	}{
		{`{"type":"object","properties":{"next":{"anyOf":[{"$ref":"#"},{"type":"null"}]},"v":{"type":"integer"}},"required":["v"],"additionalProperties":false}`,
			`{"v":1,"next":{"v":2,"next":null}}`, `{"v":1,"next":{"v":"x"}}`, "root ref"},
		{`{"$ref":"#/$defs/n","$defs":{"n":{"type":"array","items":{"$ref":"#/$defs/n"}}}}`, `[[],[[]]]`, `[[1]]`, "$defs"},
		{`{"$ref":"#pos","$defs":{"p":{"$anchor":"pos","type":"integer","minimum":0}}}`, `3`, `-3`, "$anchor"},
		{`{"$id":"https://example.invalid/root.json","$ref":"item.json","$defs":{"i":{"$id":"item.json","type":"string"}}}`, `"x"`, `1`, "$id within the document"},
		{`{"$id":"urn:x:root","$ref":"urn:x:leaf","$defs":{"l":{"$id":"urn:x:leaf","type":"boolean"}}}`, `true`, `0`, "urn $id"},
		{`{"$dynamicAnchor":"t","type":"array","items":{"$dynamicRef":"#t"}}`, `[[[]]]`, `[1]`, "$dynamicRef"},
		{`{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"s":{"type":"string"}},"$ref":"#/definitions/s"}`, `"x"`, `2`, "draft-07 meta-schema"},
	}
	for _, c := range cases {
		if err := abxbus.ValidateResult(json.RawMessage(c.schema), json.RawMessage(c.good)); err != nil {
			t.Errorf("%s: %s rejected: %v", c.description, c.good, err)
		}
		err := abxbus.ValidateResult(json.RawMessage(c.schema), json.RawMessage(c.bad))
		var se *abxbus.EventHandlerResultSchemaError
		if !errors.As(err, &se) {
			t.Errorf("%s: %s: got %v, want a schema mismatch", c.description, c.bad, err)
		}
	}
	// A reference to a missing part of the document is a clear error naming it.
	err := runForeign(t, "MissingDefEvent", `{"$ref":"#/$defs/nope"}`, 1)
	if err == nil || !strings.Contains(err.Error(), `"MissingDefEvent"`) || !strings.Contains(err.Error(), "#/$defs/nope") {
		t.Fatalf("missing $defs entry: %v", err)
	}
}

// Issue 11 item 2: validation messages name the schema by a neutral location (the event type), never a
// made-up file in the working directory.
func TestForeignSchemaNeutralLocationIssue11Item2(t *testing.T) {
	cwd, _ := os.Getwd()
	err := runForeign(t, "NeutralEvent", `{"type":"string"}`, 12)
	var se *abxbus.EventHandlerResultSchemaError
	if !errors.As(err, &se) {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), "file:") || strings.Contains(err.Error(), cwd) || !strings.Contains(err.Error(), "NeutralEvent") {
		t.Fatalf("message: %v", err)
	}
	err = abxbus.ValidateResult(json.RawMessage(`{"type":"string"}`), 12)
	if err == nil || strings.Contains(err.Error(), "file:") || strings.Contains(err.Error(), cwd) {
		t.Fatalf("message: %v", err)
	}
}

// Issue 11 item 2: size and nesting limits (1 MiB of JSON, 256 levels) are enforced before compiling.
func TestForeignSchemaLimitsIssue11Item2(t *testing.T) {
	nested := func(n int) string {
		return strings.Repeat(`{"items":`, n-1) + `{"type":"array"}` + strings.Repeat(`}`, n-1)
	}
	if err := abxbus.ValidateResult(json.RawMessage(nested(256)), json.RawMessage(`[]`)); err != nil {
		t.Fatalf("256 levels: %v", err)
	}
	err := runForeign(t, "DeepEvent", nested(257), []any{})
	if err == nil || !strings.Contains(err.Error(), "257 levels") || !strings.Contains(err.Error(), `"DeepEvent"`) {
		t.Fatalf("257 levels: %v", err)
	}
	pad := `{"description":"` + strings.Repeat("x", 1<<20) + `","type":"integer"}`
	err = abxbus.ValidateResult(json.RawMessage(pad), 1)
	if err == nil || !strings.Contains(err.Error(), "1048576") || !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("over 1 MiB: %v", err)
	}
	// At most 2000 JSON objects (the validator's compile time grows with their square): a schema at
	// the limit, every object a subschema referring to the next, compiles promptly.
	defs := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"$ref":"#/$defs/d0","$defs":{`)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, `"d%d":{"items":{"$ref":"#/$defs/d%d"}},`, i, (i+1)%n)
		}
		b.WriteString(`"z":true}}`)
		return b.String()
	}
	start := time.Now()
	if err := promptly(t, 20*time.Second, func() error { return abxbus.ValidateResult(json.RawMessage(defs(999)), json.RawMessage(`[[[]]]`)) }); err != nil {
		t.Fatalf("2000 objects: %v", err)
	}
	t.Logf("a schema of 2000 objects compiled and checked in %v", time.Since(start))
	err = abxbus.ValidateResult(json.RawMessage(defs(1000)), 1)
	if err == nil || !strings.Contains(err.Error(), "2002 JSON objects") || !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("2002 objects: %v", err)
	}
	fit := `{"description":"` + strings.Repeat("x", 1<<20-40) + `","type":"integer"}`
	if err := abxbus.ValidateResult(json.RawMessage(fit), 1); err != nil {
		t.Fatalf("just under 1 MiB (%d bytes): %v", len(fit), err)
	}
}

// Issue 11 item 2: every event_result_type the TypeScript package wrote into the fixtures compiles.
func TestForeignSchemaTypeScriptFixturesCompileIssue11Item2(t *testing.T) {
	var schemas []json.RawMessage
	var find func(v any)
	find = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if _, ok := x.(map[string]any); ok && k == "event_result_type" {
					b, _ := json.Marshal(x)
					schemas = append(schemas, b)
				}
				find(x)
			}
		case []any:
			for _, x := range v {
				find(x)
			}
		case string:
			if s := strings.TrimSpace(v); strings.HasPrefix(s, "{") {
				var inner any
				if json.Unmarshal([]byte(s), &inner) == nil {
					find(inner)
				}
			}
		}
	}
	err := filepath.WalkDir(wireFixtures, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(strings.NewReader(string(data)))
		for {
			var v any
			if dec.Decode(&v) != nil {
				break
			}
			find(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(schemas) < 20 {
		t.Fatalf("only %d schemas found in the fixtures", len(schemas))
	}
	for _, s := range schemas {
		err := abxbus.ValidateResult(s, nil)
		var se *abxbus.EventHandlerResultSchemaError
		if err != nil && !errors.As(err, &se) {
			t.Errorf("%s: %v", s, err)
		}
	}
	t.Logf("%d fixture schemas compile", len(schemas))
}

// FuzzForeignSchema compiles arbitrary event_result_type text and validates a few values against it:
// never a panic, never a file or network read (the loader refuses everything), always a prompt answer
// that is nil, a schema mismatch or an unusable-schema error.
func FuzzForeignSchema(f *testing.F) {
	for _, s := range []string{
		`{"type":"string"}`, `{"$ref":"#"}`, `{"$ref":"#/$defs/a","$defs":{"a":{"type":"array","items":{"$ref":"#/$defs/a"}}}}`,
		`{"$ref":"file:///etc/passwd"}`, `{"$ref":"rel.json"}`, `{"$schema":"http://example.invalid/s"}`,
		`{"$id":"https://x.invalid/a","$ref":"b"}`, `{"$dynamicAnchor":"t","items":{"$dynamicRef":"#t"}}`,
		`{"anyOf":[{"$ref":"#"},{"$ref":"#"}]}`, `{"pattern":"(a+)+$"}`, `{"oneOf":[{"type":"integer","minimum":3},{"not":{}}]}`,
		`{"$schema":"http://json-schema.org/draft-04/schema#","id":"x","properties":{"a":{"$ref":"#/definitions/b"}},"definitions":{"b":{}}}`,
	} {
		f.Add(s)
	}
	if data, err := os.ReadFile(filepath.Join(wireFixtures, "roundtrip_events.json")); err == nil {
		var evs []struct {
			Schema json.RawMessage `json:"event_result_type"`
		}
		json.Unmarshal(data, &evs)
		for _, e := range evs {
			f.Add(string(e.Schema))
		}
	}
	values := []json.RawMessage{json.RawMessage(`null`), json.RawMessage(`1`), json.RawMessage(`"x"`),
		json.RawMessage(`[1,[2,[3]],{"a":[]}]`), json.RawMessage(`{"a":{"b":{"c":[null,true]}},"name":"n"}`)}
	f.Fuzz(func(t *testing.T, schema string) {
		for _, v := range values {
			start := time.Now()
			err := abxbus.ValidateResult(json.RawMessage(schema), v)
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("validating %s took %v", v, d)
			}
			var se *abxbus.EventHandlerResultSchemaError
			if err != nil && !errors.As(err, &se) && !errors.Is(err, abxbus.ErrInvalidOption) {
				t.Fatalf("unexpected error kind %T: %v", err, err)
			}
			if err != nil && strings.Contains(err.Error(), "event_result_type.json") {
				t.Fatalf("message names a made-up file: %v", err)
			}
		}
	})
}

// promptly runs f and fails the test if it takes longer than limit.
func promptly(t *testing.T, limit time.Duration, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("still validating after %v", time.Since(start))
		return nil
	}
}

// Issue 11 item 2: a small schema that makes validation exponential is refused instead of wedging the
// bus: anyOf chains that apply the same subschema twice per level (2^n evaluations on one value), and
// such a fan-out inside a recursive array schema (2^depth on a nested value).
func TestForeignSchemaValidationTimeBoundedIssue11Item2(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"$ref":"#/$defs/a0","$defs":{`)
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, `"a%d":{"anyOf":[{"$ref":"#/$defs/a%d"},{"$ref":"#/$defs/a%d"}]},`, i, i+1, i+1)
	}
	b.WriteString(`"a40":{"type":"string"}}}`)
	chain := b.String()
	err := promptly(t, 10*time.Second, func() error { return runForeign(t, "BombEvent", chain, 1) })
	if err == nil || !strings.Contains(err.Error(), "too costly") || !strings.Contains(err.Error(), `"BombEvent"`) {
		t.Fatalf("anyOf chain: %v", err)
	}
	// Under the bound, a value that fails every one of the 2^13 ways gets a message of bounded size.
	var small strings.Builder
	small.WriteString(`{"$ref":"#/$defs/a0","$defs":{`)
	for i := 0; i < 12; i++ {
		fmt.Fprintf(&small, `"a%d":{"anyOf":[{"$ref":"#/$defs/a%d"},{"$ref":"#/$defs/a%d"}]},`, i, i+1, i+1)
	}
	small.WriteString(`"a12":{"type":"string"}}}`)
	var se0 *abxbus.EventHandlerResultSchemaError
	err = promptly(t, 10*time.Second, func() error { return abxbus.ValidateResult(json.RawMessage(small.String()), 1) })
	if !errors.As(err, &se0) || len(err.Error()) > 8<<10 || !strings.Contains(err.Error(), "more reasons left out") {
		t.Fatalf("12-level chain: %d bytes: %.300v", len(fmt.Sprint(err)), err)
	}
	deep := `{"$ref":"#/$defs/a","$defs":{"a":{"anyOf":[{"type":"array","items":{"$ref":"#/$defs/a"}},{"type":"array","items":{"$ref":"#/$defs/a"}},{"type":"integer"}]}}}`
	nested := func(n int) json.RawMessage {
		return json.RawMessage(strings.Repeat("[", n) + "true" + strings.Repeat("]", n))
	}
	// Shallow values are checked as usual (true matches no branch; [[[]]] does).
	if err := abxbus.ValidateResult(json.RawMessage(deep), json.RawMessage(`[[[]]]`)); err != nil {
		t.Fatalf("shallow value: %v", err)
	}
	var se *abxbus.EventHandlerResultSchemaError
	if err := abxbus.ValidateResult(json.RawMessage(deep), nested(3)); !errors.As(err, &se) {
		t.Fatalf("shallow bad value: %v", err)
	}
	err = promptly(t, 10*time.Second, func() error { return abxbus.ValidateResult(json.RawMessage(deep), nested(40)) })
	if err == nil || !strings.Contains(err.Error(), "too costly") || !errors.Is(err, abxbus.ErrInvalidOption) {
		t.Fatalf("40-deep value: %v", err)
	}
	// Ordinary recursive schemas are linear in the value: a 2000-deep chain validates.
	list := `{"type":"object","properties":{"next":{"anyOf":[{"$ref":"#"},{"type":"null"}]},"v":{"type":"integer"}},"required":["v"],"additionalProperties":false}`
	long := strings.Repeat(`{"v":1,"next":`, 2000) + `null` + strings.Repeat(`}`, 2000)
	if err := promptly(t, 10*time.Second, func() error { return abxbus.ValidateResult(json.RawMessage(list), json.RawMessage(long)) }); err != nil {
		t.Fatalf("2000-deep list: %v", err)
	}
}
