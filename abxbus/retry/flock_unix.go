//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package retry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// filePool is a set of slot files locked with flock(2).
type filePool struct {
	paths []string
}

func newFilePool(dir, name string, limit int) (*filePool, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("multiprocess semaphore %q: %w", name, err)
	}
	p := &filePool{}
	for i := range limit {
		path := filepath.Join(dir, name+"."+strconv.Itoa(i)+".slot")
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			return nil, fmt.Errorf("multiprocess semaphore %q: %w", name, err)
		}
		f.Close()
		p.paths = append(p.paths, path)
	}
	return p, nil
}

// try takes a free slot, or returns nil, nil when every slot is locked.
func (p *filePool) try() (func(), error) {
	for _, path := range p.paths {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o666)
		if err != nil {
			return nil, err
		}
		if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				continue
			}
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		// Informational: who holds the slot, padded to a fixed width so that it overwrites the previous
		// holder's id without a truncate (on ext4 a truncate-then-write costs a flush at close).
		f.WriteAt(fmt.Appendf(nil, "%-20d\n", os.Getpid()), 0)
		return func() {
			flock(f, syscall.LOCK_UN)
			f.Close()
		}, nil
	}
	return nil, nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

func (p *filePool) acquire(ctx context.Context) (func(), error) {
	wait := time.Millisecond
	for {
		release, err := p.try()
		if err != nil || release != nil {
			return release, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}
