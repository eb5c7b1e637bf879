package abxbus

import "sync"

// slot is an event-level lock with hand-off: the bus-serial lock of one bus, or the global-serial lock
// of a lock domain. Release hands the slot directly to the first waiter, so a woken waiter never races a
// newcomer. Queue-jumpers wait at the front (priority); the bus dispatcher waits at the back.
type slot struct {
	mu      sync.Mutex
	held    bool
	waiters []chan struct{}
}

func (s *slot) tryAcquire() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held {
		return false
	}
	s.held = true
	return true
}

// acquire blocks until the slot is held by the caller.
func (s *slot) acquire(priority bool) {
	s.mu.Lock()
	if !s.held {
		s.held = true
		s.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	if priority {
		s.waiters = append(s.waiters, nil)
		copy(s.waiters[1:], s.waiters)
		s.waiters[0] = ch
	} else {
		s.waiters = append(s.waiters, ch)
	}
	s.mu.Unlock()
	<-ch
}

func (s *slot) release() {
	s.mu.Lock()
	if len(s.waiters) > 0 {
		ch := s.waiters[0]
		s.waiters[0] = nil
		s.waiters = s.waiters[1:]
		s.mu.Unlock()
		close(ch) // ownership passes to the waiter: held stays true
		return
	}
	s.held = false
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
