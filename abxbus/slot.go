package abxbus

import "sync"

// slot is an event-level lock with hand-off: the bus-serial lock of one bus, or the global-serial lock
// of a lock domain. Release hands the slot directly to the first waiter, so a woken waiter never races a
// newcomer. Queue-jumpers wait at the front (priority); the bus dispatcher waits at the back.
//
// The slot records the run that owns it: the deadlock detector follows slot -> owner edges (see
// deadlock.go).
type slot struct {
	mu      sync.Mutex
	held    bool
	owner   *run
	waiters []*slotWaiter
}

type slotWaiter struct {
	ch chan struct{}
	r  *run // the waiting run
}

// tryAcquire takes the slot for r if it is free.
func (s *slot) tryAcquire(r *run) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held {
		return false
	}
	s.held, s.owner = true, r
	return true
}

// acquire blocks until the slot is held for run r or the wait is aborted. It reports whether the slot was taken. Only when it must wait it calls blocked,
// which returns the channel that aborts the wait (it may be closed already).
func (s *slot) acquire(r *run, priority bool, blocked func() <-chan struct{}) bool {
	s.mu.Lock()
	if !s.held {
		s.held, s.owner = true, r
		s.mu.Unlock()
		return true
	}
	w := &slotWaiter{ch: make(chan struct{}), r: r}
	if priority {
		s.waiters = append(s.waiters, nil)
		copy(s.waiters[1:], s.waiters)
		s.waiters[0] = w
	} else {
		s.waiters = append(s.waiters, w)
	}
	s.mu.Unlock()
	abort := blocked()
	select {
	case <-w.ch:
		return true
	case <-abort:
	}
	s.mu.Lock()
	for i, x := range s.waiters {
		if x == w {
			s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
			s.mu.Unlock()
			return false
		}
	}
	s.mu.Unlock()
	return true // handed over while aborting: the caller owns it and gives it back
}

func (s *slot) ownerRun() *run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owner
}

func (s *slot) release() {
	s.mu.Lock()
	if len(s.waiters) > 0 {
		w := s.waiters[0]
		s.waiters[0] = nil
		s.waiters = s.waiters[1:]
		s.owner = w.r
		s.mu.Unlock()
		close(w.ch) // ownership passes to the waiter: held stays true
		return
	}
	s.held, s.owner = false, nil
	s.mu.Unlock()
}

// Global-serial lock domains (D10): "" is the process-wide domain.
var domains struct {
	sync.Mutex
	m map[string]*slot
}

func lockDomain(name string) *slot {
	domains.Lock()
	defer domains.Unlock()
	if domains.m == nil {
		domains.m = map[string]*slot{}
	}
	s := domains.m[name]
	if s == nil {
		s = &slot{}
		domains.m[name] = s
	}
	return s
}
