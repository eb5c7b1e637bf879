package bridgetest_test

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/bridges"
	"github.com/typedbus/abxbus-go/abxbus/bridges/bridgetest"
	"github.com/typedbus/abxbus-go/internal/leakcheck"
)

const faultEnv = "BRIDGETEST_FAULT"

func TestMain(m *testing.M) {
	if os.Getenv(faultEnv) != "" {
		os.Exit(m.Run()) // a faulty bridge leaks on purpose: no leak check in that process
	}
	leakcheck.Main(m)
}

func memHarness(fault string) bridgetest.Harness {
	return bridgetest.Harness{
		Name:     "Mem",
		Features: bridges.Features{Ordered: true, FanOut: true, MaxMessageBytes: 64 << 10},
		NewPair: func(t testing.TB) bridgetest.Pair {
			h := &hub{}
			em, err := newMem(h, 64<<10, fault, bridgetest.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			li, err := newMem(h, 64<<10, fault, bridgetest.Logger(t))
			if err != nil {
				t.Fatal(err)
			}
			return bridgetest.Pair{Emitter: em, Listener: li, Endpoint: fmt.Sprintf("%p", h)}
		},
		InjectRaw: func(t testing.TB, p bridgetest.Pair, raw []byte) { p.Emitter.(*memBridge).hub.publish(raw) },
		N:         60,
		Timeout:   5 * time.Second,
		Settle:    100 * time.Millisecond,
	}
}

// The reference in-memory bridge passes the whole suite.
func TestMemBridgeConforms(t *testing.T) {
	bridgetest.Run(t, memHarness(""))
}

// The suite's run of a faulty bridge, in the child process of TestSuiteCatchesFaults.
func TestFaultyBridge(t *testing.T) {
	fault := os.Getenv(faultEnv)
	if fault == "" {
		t.Skip("run by TestSuiteCatchesFaults in a child process")
	}
	bridgetest.Run(t, memHarness(fault))
}

// Each fault of the in-memory bridge makes the checks that must catch it fail (and the others pass):
// the suite is not vacuous.
func TestSuiteCatchesFaults(t *testing.T) {
	for _, c := range []struct {
		fault string
		fails []string // checks that must fail
	}{
		{"dup", []string{"Delivery", "NoDuplicates", "ConcurrentEmit", "StartConcurrent"}},
		{"reorder", []string{"Delivery", "ConcurrentEmit"}},
		{"doublestart", []string{"NoDuplicates", "StartConcurrent"}},
		{"closed", []string{"CloseWhileBusy"}},
		{"leak", []string{"CloseWhileBusy"}},
		{"badframe", []string{"BadFrames"}},
		{"nolimit", []string{"Oversize"}},
		{"nopath", []string{"NoEcho"}},
		{"noreset", []string{"Delivery", "ConcurrentEmit"}},
	} {
		t.Run(c.fault, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestFaultyBridge$/^Mem$/^("+strings.Join(c.fails, "|")+"|Features|Delivery)$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), faultEnv+"="+c.fault)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a bridge with fault %q:\n%s", c.fault, out)
			}
			for _, check := range c.fails {
				if !regexp.MustCompile(`--- FAIL: TestFaultyBridge/Mem/` + check + ` `).Match(out) {
					t.Errorf("check %s did not fail for fault %q:\n%s", check, c.fault, tail(out))
				}
			}
			if !regexp.MustCompile(`--- PASS: TestFaultyBridge/Mem/Features `).Match(out) {
				t.Errorf("fault %q: Features should pass:\n%s", c.fault, tail(out))
			}
		})
	}
}

func tail(out []byte) string {
	lines := strings.Split(string(out), "\n")
	var keep []string
	for _, l := range lines {
		if strings.Contains(l, "--- ") || strings.Contains(l, "bridgetest") && !strings.Contains(l, "level=") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
