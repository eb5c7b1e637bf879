package unixsock

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// FuzzReadFrame checks the frame splitter against a plain split on newlines: the same non-blank
// frames (trimmed), in order; overlong ones reported as too long, never returned; no panic.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\r\n\n  \n{\"c\":3}"), 8)
	f.Add([]byte("#abxbus-ack/1\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nyy\n"), 4)
	f.Add(bytes.Repeat([]byte("z"), 70000), 65536)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max <= 0 || max > 1<<20 {
			max = 16
		}
		r := bufio.NewReaderSize(bytes.NewReader(data), 16) // small buffer: exercises ErrBufferFull
		var got [][]byte
		var long []int
		for {
			line, n, err := readFrame(r, max, nil)
			switch {
			case line == nil && n > 0:
				long = append(long, n)
			case n > 0:
				if len(line) > max {
					t.Fatalf("frame of %d bytes above max %d", len(line), max)
				}
				got = append(got, append([]byte(nil), line...))
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		var want [][]byte
		wantLong := 0
		for _, l := range bytes.Split(data, []byte("\n")) {
			tl := bytes.TrimSpace(l)
			switch {
			case len(tl) > max || len(l) > max+1:
				wantLong++
			case len(tl) > 0:
				want = append(want, tl)
			}
		}
		if len(long) != wantLong || len(got) != len(want) {
			t.Fatalf("got %d frames and %d overlong, want %d and %d", len(got), len(long), len(want), wantLong)
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("frame %d: %q, want %q", i, got[i], want[i])
			}
		}
	})
}
