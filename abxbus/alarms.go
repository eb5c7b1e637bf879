package abxbus

import (
	"sync"
	"time"
	"unsafe"
)

// Run alarms (issue 13 item 4). Every run has at most one pending alarm time, alarmAt: the earliest of
// its event deadline, its slow-warning time and its started handlers' own deadlines and slow-warning
// times. Instead of a timer per run, the pending alarms live in a few process-wide min-heaps (shards),
// each with one timer armed for its earliest alarm:
//
//   - Adding an alarm or moving one earlier costs a heap insert or sift (O(log n), no allocation once
//     the heap has grown); the shard's timer is reset only when the new alarm is earlier than the time
//     the timer is armed for. A default bus gives every event a 60 s timeout and a 300 s slow warning
//     and every handler a 30 s slow warning: those almost never fire, and after the first event they
//     never touch the timer.
//   - Removing a finished run's alarm is an O(log n) heap delete by the index kept in the run. A timer
//     armed for a far alarm (more than nearAlarm ahead when it was armed) is left as it is: it fires
//     once, finds nothing due and re-arms for the shard's earliest alarm, if any. A timer armed for a
//     near alarm is re-armed exactly (or stopped) when that alarm goes away, so that a short timeout
//     that was not needed leaves no wake-up behind it that would delay the next one.
//   - The timer fires at the exact alarm time (no wheel tick): a 1 ms handler timeout fires at 1 ms as
//     the runtime fires timers. A near alarm is armed with a kick (see armLocked) so that it is not
//     fired a millisecond late by the runtime's rounded sleeps. The callback takes the due runs out of
//     the heap, re-arms the timer for the next alarm, and calls the due runs' onAlarm outside the
//     shard lock, each on a goroutine of its own (onAlarm may go on driving its run and the bus).
//     onAlarm re-checks every deadline against the clock and schedules the run's next alarm, so a
//     stale or early fire is harmless.
//   - No goroutine runs between fires (the timer's callback runs on a goroutine of its own that ends
//     at once), so an idle or destroyed bus leaves none.
//
// Lock order: the event's mu, then the shard's mu. The callback never holds both.

// nearAlarm: an alarm this close (when the timer is armed for it) gets an exact re-arm when it is
// removed; farther ones leave the timer to fire early once.
const nearAlarm = 50 * time.Millisecond

const (
	alarmShardBits  = 3
	alarmShardCount = 1 << alarmShardBits
)

type alarmShard struct {
	mu      sync.Mutex
	heap    []*run      // min-heap on alarmAt; each run's alarm field is its index + 1
	timer   *time.Timer // created on first use; fires s.fire
	armedAt int64       // the alarm time the timer is set for (Unix ns, our clock); 0: not armed
	near    bool        // the timer was armed less than nearAlarm ahead
	_       [64]byte    // keep shards on separate cache lines
}

var alarmShards [alarmShardCount]alarmShard

// shardFor spreads runs over the shards by their address (stable for the run's life).
func shardFor(r *run) *alarmShard {
	h := uint64(uintptr(unsafe.Pointer(r))>>4) * 0x9E3779B97F4A7C15
	return &alarmShards[h>>(64-alarmShardBits)]
}

// scheduleLocked makes sure the run's alarm fires no later than at (Unix ns); t is the caller's clock
// reading in this critical section (a timer set from it fires at most that section's length late).
// e.mu held.
func (r *run) scheduleLocked(at, t int64) {
	if at == 0 || r.alarmAt != 0 && r.alarmAt <= at {
		return
	}
	s := shardFor(r)
	s.mu.Lock()
	s.setLocked(r, at, t)
	s.mu.Unlock()
}

// earliest is the earlier of two alarm times, 0 meaning none.
func earliest(a, b int64) int64 {
	if a == 0 || b != 0 && b < a {
		return b
	}
	return a
}

// rescheduleLocked replaces the run's alarm time by at (0: none), earlier or later (onAlarm, after
// handling what was due). e.mu held.
func (r *run) rescheduleLocked(at, t int64) {
	s := shardFor(r)
	s.mu.Lock()
	if at == 0 {
		s.clearLocked(r)
	} else {
		s.setLocked(r, at, t)
	}
	s.mu.Unlock()
}

// unscheduleLocked removes the run's pending alarm (the run finished). e.mu held.
func (r *run) unscheduleLocked() {
	if r.alarmAt == 0 {
		return // not queued: a queued run always has its alarmAt set (it is cleared with the removal)
	}
	s := shardFor(r)
	s.mu.Lock()
	s.clearLocked(r)
	s.mu.Unlock()
}

// setLocked queues r with alarm time at (or moves it there). s.mu and r.ev.mu held.
func (s *alarmShard) setLocked(r *run, at, t int64) {
	r.alarmAt = at
	if r.alarm == 0 {
		s.heap = append(s.heap, r)
		r.alarm = int32(len(s.heap))
		s.up(len(s.heap) - 1)
	} else {
		s.fix(int(r.alarm) - 1)
	}
	if s.armedAt == 0 || at < s.armedAt {
		s.armLocked(at, t, true)
	}
}

// clearLocked takes r out of the heap. s.mu and r.ev.mu held.
func (s *alarmShard) clearLocked(r *run) {
	r.alarmAt = 0
	i := int(r.alarm) - 1
	if i < 0 {
		return
	}
	s.remove(i)
	if i == 0 && s.near && s.armedAt != 0 {
		// The timer was set for a near alarm that is gone: set it for the next one (or stop it)
		// rather than leave an early wake-up behind.
		if len(s.heap) == 0 {
			s.timer.Stop()
			s.armedAt = 0
		} else if next := s.heap[0].alarmAt; next != s.armedAt {
			s.armLocked(next, now(), true)
		}
	}
}

// armLocked sets the shard's timer for at (t: a current clock reading). s.mu held.
//
// kick (not from the timer's own callback): a near alarm is armed by making the timer fire at once; its
// callback finds nothing due and arms the exact time. The Go runtime sleeps in whole milliseconds
// between timer checks (a wait shorter than 1 ms is rounded up to 1 ms) and is not woken for a new
// timer that is later than the one it is already sleeping for; so a short deadline armed while the
// runtime is in such a sleep for an earlier, since cancelled one (say the previous event's 1 ms
// timeout) is checked when that sleep ends, just before it is due, and then fires a whole sleep (up
// to 1 ms) late. Firing at once wakes the runtime and restarts its sleep from now.
func (s *alarmShard) armLocked(at, t int64, kick bool) {
	d := time.Duration(at - t)
	s.armedAt = at
	s.near = d < nearAlarm
	if kick && s.near && d > 0 {
		d = 0
	}
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.fire)
	} else {
		s.timer.Reset(d)
	}
}

// fire is the shard timer's callback: it takes the due runs out of the heap, re-arms the timer for the
// earliest remaining alarm, and hands each due run to onAlarm.
func (s *alarmShard) fire() {
	var buf [8]*run
	due := buf[:0]
	s.mu.Lock()
	t := now()
	s.armedAt = 0
	for len(s.heap) > 0 && s.heap[0].alarmAt <= t {
		due = append(due, s.heap[0])
		s.remove(0)
	}
	if len(s.heap) > 0 {
		s.armLocked(s.heap[0].alarmAt, t, false)
	}
	s.mu.Unlock()
	// onAlarm may go on driving its run and the bus dispatcher on this goroutine (handlers that block
	// included), so every due run but the last gets a goroutine of its own.
	for i, r := range due {
		if i == len(due)-1 {
			r.onAlarm()
		} else {
			go r.onAlarm()
		}
	}
}

// The heap: s.heap[i].alarmAt is the key and s.heap[i].alarm = i+1. alarmAt is written with both the
// event's mu and the shard's mu held, so either lock is enough to read it.

func (s *alarmShard) less(i, j int) bool { return s.heap[i].alarmAt < s.heap[j].alarmAt }

func (s *alarmShard) swap(i, j int) {
	h := s.heap
	h[i], h[j] = h[j], h[i]
	h[i].alarm = int32(i + 1)
	h[j].alarm = int32(j + 1)
}

func (s *alarmShard) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !s.less(i, p) {
			return
		}
		s.swap(i, p)
		i = p
	}
}

func (s *alarmShard) down(i int) {
	n := len(s.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && s.less(r, l) {
			m = r
		}
		if !s.less(m, i) {
			return
		}
		s.swap(i, m)
		i = m
	}
}

// remove deletes entry i (O(log n)).
func (s *alarmShard) remove(i int) {
	h := s.heap
	last := len(h) - 1
	r := h[i]
	if i != last {
		s.swap(i, last)
	}
	h[last] = nil
	s.heap = h[:last]
	r.alarm = 0
	if i != last {
		s.fix(i)
	}
}

// fix restores the heap order after entry i's key changed.
func (s *alarmShard) fix(i int) {
	s.down(i)
	s.up(i)
}
