//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package retry

import (
	"context"
	"errors"
	"fmt"
	"runtime"
)

type filePool struct{}

func newFilePool(dir, name string, limit int) (*filePool, error) {
	return nil, fmt.Errorf("multiprocess semaphore %q: needs flock(2) file locks, which %s lacks: %w", name, runtime.GOOS, errors.ErrUnsupported)
}

func (p *filePool) acquire(context.Context) (func(), error) { return nil, errors.ErrUnsupported }
