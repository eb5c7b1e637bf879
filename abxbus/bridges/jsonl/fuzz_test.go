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
