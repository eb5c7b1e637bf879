package abxbustest

import (
	"bytes"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/typedbus/abxbus-go/abxbus"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

// The goroutine checks read the runtime's stack dump (runtime.Stack with all goroutines). A goroutine
// belongs to the bus machinery when one of its frames, or the function that started it, is in package
// abxbus itself (not in its sub-packages or test packages).

var (
	busPkg = reflect.TypeFor[abxbus.Bus]().PkgPath()              // github.com/typedbus/abxbus-go/abxbus
	kitPkg = reflect.TypeFor[Recorder]().PkgPath()                // .../abxbus/abxbustest
	tapFn  = kitPkg + ".(*Recorder).tap("                         // a recorder's own goroutine
	frames = []string{busPkg + ".", "created by " + busPkg + "."} // line prefixes of abxbus frames
)

// goroutineGrace bounds how long the cleanup check waits for the bus's goroutines to end after Destroy
// (goroutines exit asynchronously). The kit's own tests shorten it.
var goroutineGrace = 5 * time.Second

// goroutine is one entry of the runtime's stack dump.
type goroutine struct {
	id     uint64
	parent uint64 // the goroutine that started it, 0 when unknown
	state  string // "running", "select", "chan receive, 2 minutes", ...
	stack  string // the whole entry, header included
}

// firstFrame is the function line of the innermost frame outside package runtime (whose frames show
// only with GOTRACEBACK=system or higher).
func (g goroutine) firstFrame() string {
	lines := strings.Split(g.stack, "\n")
	for _, line := range lines[1:] {
		if line != "" && !strings.HasPrefix(line, "\t") && !strings.HasPrefix(line, "runtime.") {
			return line
		}
	}
	return ""
}

// inBus reports whether g runs code of package abxbus (or was started by it), leaving out test runner
// goroutines (a test blocked in a wait is not a leak of the bus) and recorders (stopped separately).
func (g goroutine) inBus() bool {
	if strings.Contains(g.stack, "testing.tRunner(") || strings.Contains(g.stack, tapFn) {
		return false
	}
	for _, line := range strings.Split(g.stack, "\n") {
		for _, p := range frames {
			if strings.HasPrefix(line, p) {
				return true
			}
		}
	}
	return false
}

// goroutines returns every goroutine of the process.
func goroutines() []goroutine {
	var out []goroutine
	for _, entry := range bytes.Split(leakcheck.AllStacks(), []byte("\n\n")) {
		if g, ok := parseGoroutine(string(entry)); ok {
			out = append(out, g)
		}
	}
	return out
}

// parseGoroutine reads one entry: "goroutine 8 [select]:\n<frames>\ncreated by f in goroutine 6\n...".
func parseGoroutine(entry string) (goroutine, bool) {
	header, _, _ := strings.Cut(entry, "\n")
	rest, ok := strings.CutPrefix(header, "goroutine ")
	if !ok {
		return goroutine{}, false
	}
	// "8 [select]:", or with more detail at higher GOTRACEBACK levels "8 gp=0x... m=nil [select]:"
	digits := strings.IndexFunc(rest, func(c rune) bool { return c < '0' || c > '9' })
	if digits <= 0 {
		return goroutine{}, false
	}
	id, err := strconv.ParseUint(rest[:digits], 10, 64)
	if err != nil {
		return goroutine{}, false
	}
	_, state, ok := strings.Cut(rest[digits:], "[")
	if !ok {
		return goroutine{}, false
	}
	state, _, _ = strings.Cut(state, "]")
	g := goroutine{id: id, state: state, stack: entry}
	if i := strings.LastIndex(entry, "\ncreated by "); i >= 0 {
		line, _, _ := strings.Cut(entry[i+1:], "\n")
		if _, p, ok := strings.Cut(line, " in goroutine "); ok {
			g.parent, _ = strconv.ParseUint(strings.TrimSpace(p), 10, 64)
		}
	}
	return g, true
}

// currentGoroutineID returns the id of the calling goroutine.
func currentGoroutineID() (uint64, error) {
	buf := make([]byte, 128)
	buf = buf[:runtime.Stack(buf, false)]
	g, ok := parseGoroutine(string(buf))
	if !ok {
		return 0, fmt.Errorf("cannot read the goroutine id from %q", buf)
	}
	return g.id, nil
}

// goroutineIDs returns the ids of the goroutines that exist now.
func goroutineIDs() map[uint64]bool {
	ids := map[uint64]bool{}
	for _, g := range goroutines() {
		ids[g.id] = true
	}
	return ids
}

// leakedGoroutines waits up to grace for the bus goroutines that did not exist in before to end. It
// follows the goroutines alive at its first look and those they start afterwards (by the "created by
// ... in goroutine N" line), not goroutines that other tests start meanwhile. It returns the stacks of
// those still alive at the end.
func leakedGoroutines(before map[uint64]bool, grace time.Duration) []string {
	deadline := time.Now().Add(grace)
	family := map[uint64]bool{} // every goroutine followed so far, ended ones included
	for round := 0; ; round++ {
		var alive []goroutine
		for _, g := range goroutines() {
			bus := g.inBus()
			if round == 0 && !before[g.id] && bus || family[g.parent] {
				family[g.id] = true
			}
			if family[g.id] && bus {
				alive = append(alive, g)
			}
		}
		if len(alive) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			out := make([]string, len(alive))
			for i, g := range alive {
				out[i] = g.stack
			}
			return out
		}
		time.Sleep(backoff(round))
	}
}

// backoff is the pause between two looks at something that changes asynchronously: short at first.
func backoff(round int) time.Duration {
	if round < 10 {
		return 50 * time.Microsecond
	}
	return min(time.Duration(round)*100*time.Microsecond, 10*time.Millisecond)
}
