package retry

import (
	"os"
	"path/filepath"
	"strings"
)

// Multiprocess returns a semaphore whose limit slots are shared by every process on this machine that
// opens the same name in the same directory: slot i is the file <dir>/<name>.<i>.slot, and a process
// holds it while it holds an exclusive flock(2) lock on that file. The kernel drops the lock when the
// holder's file is closed, so a process that crashes or is killed frees its slot at once; no stale-lock
// timeout is involved. The slot files are created (mode 0666 before the umask) and left in place; a
// holder writes its process id into its slot file, for inspection.
//
// Every process must use the same limit: each takes a free slot among slots 0 to limit-1 it knows of.
//
// dir "" means the abxbus-semaphores directory under os.TempDir(); the directory is created if missing.
// name must be a plain file name (no path separator). Errors: an invalid name or limit (wrapping
// abxbus.ErrInvalidOption), a directory or slot file that cannot be created or opened, and, on
// platforms without flock (Windows, Plan 9, wasm), an error wrapping errors.ErrUnsupported.
//
// Cost: a free slot costs an open, a lock and a write; while every slot is taken a waiting call polls
// the slot files, first after 1 ms and then at growing intervals up to 50 ms, so a freed slot is taken
// within that interval, and waiters are not served in arrival order. Calls of one process compete for
// the slots like calls of different processes.
// Re-entry (see [Semaphore]) is recognized for every Multiprocess value of the same directory and name.
func Multiprocess(dir, name string, limit int) (*Semaphore, error) {
	if err := checkSemaphore(name, limit); err != nil {
		return nil, err
	}
	if strings.ContainsAny(name, `/\`+"\x00") || name == "." || name == ".." {
		return nil, invalid("multiprocess semaphore %q: the name must be a plain file name", name)
	}
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "abxbus-semaphores")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, invalid("multiprocess semaphore %q: directory %q: %v", name, dir, err)
	}
	p, err := newFilePool(abs, name, limit)
	if err != nil {
		return nil, err
	}
	return &Semaphore{name: name, limit: limit, id: filepath.Join(abs, name), pool: p}, nil
}
