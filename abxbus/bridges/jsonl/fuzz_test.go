package jsonl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// Issue 11 items 8 and 9: whatever bytes writers leave in the file, split at any point between reads,
// the follower never stops: a good line on its own line afterwards is always delivered; every line
// offered is found at the offset reported for it, every accepted one is JSON; every refused range lies inside the input; the
// read position ends at the end of the input.
func FuzzFollowerInput(f *testing.F) {
	if data, err := os.ReadFile("../../../../shared/interop/ts-abxbus-2.5.56/jsonl_sample.jsonl"); err == nil {
		lines := strings.Split(string(data), "\n")
		f.Add(data, uint16(len(data)/3))
		if len(lines) > 1 {
			l := lines[0]
			f.Add([]byte(l[:len(l)/2]+lines[1]+"\n"), uint16(len(l)/2))
		}
	}
	good := pingLine(f, 424242)
	f.Add([]byte(good[:100]+good), uint16(50))
	f.Add([]byte(`{"a":[`+good+"x"+good), uint16(7))
	f.Add([]byte(strings.Repeat("{", 3000)+"\n"+strings.Repeat(`{"a":`, 600)), uint16(2000))
	f.Add([]byte("\r\n  \n{not json}\n"+`{"event_type":"Ping","event_surprise":1}`), uint16(3))
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		input := append(append(append([]byte(nil), data...), '\n'), good...)
		fl := &follower{path: "fuzz", maxLine: 2048}
		type delivered struct {
			line   string
			offset int64
			ok     bool
		}
		var got []delivered
		fl.deliver = func(ctx context.Context, line []byte, offset int64) error {
			_, err := decodeLine(line, nil)
			got = append(got, delivered{string(line), offset, err == nil})
			return err
		}
		fl.report = func(err error) {
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("not a LineError: %v", err)
			}
			if le.Offset < 0 || le.Len < 0 || le.Offset+le.Len > int64(len(input)) {
				t.Fatalf("refused range [%d,+%d) outside the %d input bytes: %v", le.Offset, le.Len, len(input), err)
			}
		}
		s := &source{}
		c := min(int(cut), len(input))
		ctx := context.Background()
		fl.consume(ctx, s, input[:c])
		fl.consume(ctx, s, input[c:])
		if s.offset != int64(len(input)) {
			t.Fatalf("read position %d, want %d", s.offset, len(input))
		}
		for _, d := range got {
			if d.ok && !json.Valid([]byte(d.line)) {
				t.Fatalf("accepted a line that is not JSON: %q", d.line)
			}
			if d.offset < 0 || !bytes.HasPrefix(input[d.offset:], []byte(d.line)) {
				t.Fatalf("line %q is not at its offset %d", d.line, d.offset)
			}
		}
		if len(got) == 0 {
			t.Fatal("the good line after the input was not delivered")
		}
		last := got[len(got)-1]
		if !last.ok || last.line != strings.TrimSpace(good) || last.offset != int64(len(data)+1) {
			t.Fatalf("the good line after the input was not delivered last: %+v", last)
		}
	})
}

// Issue 11 item 11: the cursor file decoder refuses damaged content with an error, never panics, and
// what it accepts is written back and read again unchanged.
func FuzzCursorLoad(f *testing.F) {
	f.Add([]byte(`{"file":"bus.jsonl","dev":2049,"ino":131,"offset":974,"fingerprint_len":974,"fingerprint":"` +
		strings.Repeat("ab", 32) + `"}` + "\n"))
	f.Add([]byte(`{"offset":-1}`))
	f.Add([]byte("   \n"))
	f.Add([]byte(`{"file":"x","dev":0,"ino":0,"offset":0,"fingerprint_len":0,"fingerprint":"` + strings.Repeat("0", 64) + `"} {}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		c := &cursorFile{path: dir + "/c"}
		if err := os.WriteFile(c.path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := c.load()
		if err != nil || p == nil {
			return
		}
		if p.offset < 0 || p.windowLen() < 0 || p.windowLen() > tailLen || int64(p.windowLen()) > p.offset {
			t.Fatalf("accepted an impossible position %+v", *p)
		}
		if err := c.save("bus.jsonl", *p); err != nil {
			t.Fatal(err)
		}
		c.close()
		q, err := (&cursorFile{path: c.path}).load()
		if err != nil || q == nil || q.id != p.id || q.offset != p.offset || q.wlen != p.wlen || !bytes.Equal(q.hash, p.hash) {
			t.Fatalf("position %+v read back as %+v, %v", *p, q, err)
		}
	})
}
