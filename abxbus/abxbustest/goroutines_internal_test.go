package abxbustest

import "testing"

func TestParseGoroutine(t *testing.T) {
	for _, tc := range []struct {
		entry        string
		id, parent   uint64
		state, first string
	}{
		{"goroutine 8 [select]:\ngithub.com/x/abxbus.(*Bus).lookup(0x1)\n\t/f.go:1 +0x1\ncreated by main.f in goroutine 6\n\t/m.go:2 +0x2",
			8, 6, "select", "github.com/x/abxbus.(*Bus).lookup(0x1)"},
		{"goroutine 12 gp=0xc000002380 m=nil [chan receive, 2 minutes]:\nruntime.gopark(0x1)\n\t/p.go:1\nmain.g()\n\t/m.go:3",
			12, 0, "chan receive, 2 minutes", "main.g()"},
	} {
		g, ok := parseGoroutine(tc.entry)
		if !ok || g.id != tc.id || g.parent != tc.parent || g.state != tc.state || g.firstFrame() != tc.first {
			t.Errorf("parseGoroutine(%q) = %+v, %v; first frame %q", tc.entry, g, ok, g.firstFrame())
		}
	}
	if _, ok := parseGoroutine("not a goroutine"); ok {
		t.Error("parsed a non-entry")
	}
}
