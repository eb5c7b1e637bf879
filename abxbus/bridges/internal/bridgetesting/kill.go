package bridgetesting

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The shape of KillMidStream: events emitted, the listener's count at which it is killed, the errors
// after which a new listener starts.
const (
	KillN              = 300
	KillAt             = 100
	RestartAfterErrors = 20
)

// KillMidStream emits Ping(0..KillN-1) with em, each awaited, to the child listener process child
// (StartChild, writing the seqs it handled to out) and kills it with SIGKILL once it handled KillAt
// events; after RestartAfterErrors failed Emits, restart starts a new listener on the same address.
// Every Emit error must name addr (what says what addr is, for the failure message). It checks that
// no event whose Emit returned nil is lost and that the restarted listener took over (at most 5 more
// failures), and with counted also that every Emit either succeeded or failed and at least
// RestartAfterErrors failed; it logs the outcome after label.
func KillMidStream(t *testing.T, child *exec.Cmd, out, addr, what string, em Emitter, restart func() *exec.Cmd, label string, counted bool) {
	t.Helper()
	ok := map[int]bool{}
	var errs []error
	killed := make(chan struct{})
	first := child
	go func() { // kill the listener while an event is in flight, once it handled KillAt events
		defer close(killed)
		for len(ReadSeqs(t, out)) < KillAt {
			time.Sleep(time.Millisecond)
		}
		first.Process.Kill()
	}()
	restarted := false
	for i := range KillN {
		if len(errs) > 0 && first != nil {
			<-killed
			first.Wait()
			first = nil
		}
		err := em.Emit(context.Background(), Ping(i))
		if err == nil {
			ok[i] = true
			continue
		}
		errs = append(errs, err)
		if !strings.Contains(err.Error(), addr) {
			t.Fatalf("the error does not name the %s: %v", what, err)
		}
		if len(errs) == RestartAfterErrors && !restarted && first == nil {
			restarted = true
			child = restart()
		}
	}
	<-killed
	child.Process.Kill()
	child.Wait()
	got := ReadSeqs(t, out)
	lost, dup, errDelivered := 0, 0, 0
	for i := range KillN {
		if ok[i] && got[i] == 0 {
			lost++
		}
		if got[i] > 1 {
			dup++
		}
		if !ok[i] && got[i] > 0 {
			errDelivered++
		}
	}
	t.Logf("%s killed at %d of %d: %d Emit ok, %d Emit errors (%d of them delivered anyway), %d delivered, %d duplicated, %d lost silently; first error: %v",
		label, KillAt, KillN, len(ok), len(errs), errDelivered, len(got), dup, lost, errs[0])
	if lost != 0 {
		t.Fatalf("%d events lost silently", lost)
	}
	if counted && (len(ok)+len(errs) != KillN || len(errs) < RestartAfterErrors) {
		t.Fatalf("ok %d + errors %d != %d", len(ok), len(errs), KillN)
	}
	if !restarted || len(ok) < KillN-RestartAfterErrors-5 {
		t.Fatalf("the restarted listener did not take over: %d ok", len(ok))
	}
}
