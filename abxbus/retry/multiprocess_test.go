package retry_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/typedbus/abxbus-go/abxbus/retry"
)

// Child processes: the test binary re-executed with childEnv set to a mode; the parameters come in
// environment variables.
const (
	envDir   = "ABXBUS_RETRY_TEST_DIR"
	envLimit = "ABXBUS_RETRY_TEST_LIMIT"
	envLog   = "ABXBUS_RETRY_TEST_LOG"
	envID    = "ABXBUS_RETRY_TEST_ID"
	envIters = "ABXBUS_RETRY_TEST_ITERS"
)

func childMain(mode string) int {
	limit, _ := strconv.Atoi(os.Getenv(envLimit))
	sem, err := retry.Multiprocess(os.Getenv(envDir), "slots", limit)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := retry.Options{Semaphore: sem, SemaphoreStrict: true}
	switch mode {
	case "contend":
		// Record each hold as an "acquire" line written after taking the slot and a "release" line
		// written before giving it back, so each recorded interval lies inside the real one.
		log, err := os.OpenFile(os.Getenv(envLog), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer log.Close()
		id := os.Getenv(envID)
		iters, _ := strconv.Atoi(os.Getenv(envIters))
		for i := range iters {
			_, err := retry.Do(ctx, o, func(context.Context) (int, error) {
				if _, err := fmt.Fprintf(log, "acquire %s %d\n", id, i); err != nil {
					return 0, err
				}
				time.Sleep(time.Millisecond)
				_, err := fmt.Fprintf(log, "release %s %d\n", id, i)
				return 0, err
			})
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return 0
	case "hold":
		// Take a slot, say so, and keep it until killed.
		_, err := retry.Do(ctx, o, func(ctx context.Context) (int, error) {
			fmt.Println("held")
			<-ctx.Done()
			return 0, ctx.Err()
		})
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "unknown child mode", mode)
	return 2
}

func child(t *testing.T, mode string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + mode}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

func requireFlock(t *testing.T) {
	t.Helper()
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd", "netbsd", "openbsd", "dragonfly":
	default:
		t.Skipf("no flock on %s (Multiprocess returns an error there, see TestMultiprocessUnsupported)", runtime.GOOS)
	}
}

// F262: 4 processes contending for N slots never hold more than N at once.
func TestMultiprocessAtMostNHoldersF262(t *testing.T) {
	requireFlock(t)
	const procs, limit, iters = 4, 2, 25
	dir := t.TempDir()
	logPath := filepath.Join(dir, "holds.log")
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var cmds []*exec.Cmd
	for i := range procs {
		cmd := child(t, "contend", envDir+"="+dir, envLimit+"="+strconv.Itoa(limit), envLog+"="+logPath,
			envID+"="+strconv.Itoa(i), envIters+"="+strconv.Itoa(iters))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2*procs*iters {
		t.Fatalf("%d log lines, want %d", len(lines), 2*procs*iters)
	}
	holding := map[string]bool{}
	peak := 0
	for n, line := range lines {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("line %d: %q", n+1, line)
		}
		who := f[1] + "/" + f[2]
		switch f[0] {
		case "acquire":
			holding[who] = true
		case "release":
			if !holding[who] {
				t.Fatalf("line %d: release without acquire: %q", n+1, line)
			}
			delete(holding, who)
		}
		if len(holding) > limit {
			t.Fatalf("line %d: %d holders at once, limit %d: %v", n+1, len(holding), limit, holding)
		}
		peak = max(peak, len(holding))
	}
	if len(holding) != 0 {
		t.Fatalf("holds never released: %v", holding)
	}
	t.Logf("peak holders: %d of %d", peak, limit)
}

// F262: a holder killed with SIGKILL frees its slot (the kernel drops its lock).
func TestMultiprocessKilledHolderFreesSlotF262(t *testing.T) {
	requireFlock(t)
	dir := t.TempDir()
	cmd := child(t, "hold", envDir+"="+dir, envLimit+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitOnce sync.Once
	wait := func() { waitOnce.Do(func() { cmd.Wait() }) }
	defer func() { cmd.Process.Kill(); wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "held\n" {
		t.Fatalf("child said %q, %v", line, err)
	}
	if pid, _ := os.ReadFile(filepath.Join(dir, "slots.0.slot")); strings.TrimSpace(string(pid)) != strconv.Itoa(cmd.Process.Pid) {
		t.Fatalf("slot file holds %q, want the child's pid %d", pid, cmd.Process.Pid)
	}

	sem, err := retry.Multiprocess(dir, "slots", 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = retry.Do(context.Background(), retry.Options{Semaphore: sem, SemaphoreStrict: true, SemaphoreTimeout: 30 * time.Millisecond},
		func(context.Context) (int, error) { return 0, nil })
	var st *retry.SemaphoreTimeoutError
	if !errors.As(err, &st) || st.Semaphore != "slots" {
		t.Fatalf("while the child holds the only slot: %v, want a semaphore timeout", err)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wait()
	v, err := retry.Do(context.Background(), retry.Options{Semaphore: sem, SemaphoreStrict: true, SemaphoreTimeout: time.Minute},
		func(context.Context) (int, error) { return 1, nil })
	if err != nil || v != 1 {
		t.Fatalf("after the holder was killed: %d, %v", v, err)
	}
}

// In one process, calls compete for the file slots like processes do, and re-entry works.
func TestMultiprocessInProcessF262(t *testing.T) {
	requireFlock(t)
	dir := t.TempDir()
	sem, err := retry.Multiprocess(dir, "local", 1)
	if err != nil {
		t.Fatal(err)
	}
	same, _ := retry.Multiprocess(dir, "local", 1) // another value for the same slots
	release := holdSlots(t, sem, 1)
	if err := tryOnce(context.Background(), same); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second in-process holder: %v, want a timeout", err)
	}
	release()
	o := retry.Options{Semaphore: sem, SemaphoreStrict: true, SemaphoreTimeout: 10 * time.Second}
	v, err := retry.Do(context.Background(), o, func(ctx context.Context) (int, error) {
		return retry.Do(ctx, retry.Options{Semaphore: same, SemaphoreStrict: true, SemaphoreTimeout: 10 * time.Second},
			func(context.Context) (int, error) { return 5, nil })
	})
	if err != nil || v != 5 {
		t.Fatalf("re-entry: %d, %v", v, err)
	}
}

func TestMultiprocessInvalid(t *testing.T) {
	requireFlock(t)
	for _, name := range []string{"", "a/b", "..", "."} {
		if _, err := retry.Multiprocess(t.TempDir(), name, 1); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if _, err := retry.Multiprocess(t.TempDir(), "x", 0); err == nil || !strings.Contains(err.Error(), "limit is 0") {
		t.Errorf("limit 0: %v", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := retry.Multiprocess(file, "x", 1); err == nil || !strings.Contains(err.Error(), `multiprocess semaphore "x"`) {
		t.Errorf("a file as the directory: %v", err)
	}
}
