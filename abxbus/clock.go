package abxbus

import (
	"sync/atomic"
	"time"
)

// The process-wide clock. Every timestamp the library records (event creation, start and completion,
// handler registration, result start and completion) comes from here: wall-clock UTC at process start
// plus the monotonic time elapsed since, forced strictly increasing (each reading is at least 1 ns after
// the previous one, F226). Readings are stored as Unix nanoseconds and formatted only when needed.

var (
	clockBase     = time.Now()
	clockBaseWall = clockBase.UnixNano()
	clockLast     atomic.Int64
)

// now returns a strictly increasing Unix-nanosecond reading. Safe for concurrent use; no allocation.
func now() int64 {
	t := clockBaseWall + int64(time.Since(clockBase))
	for {
		last := clockLast.Load()
		if t <= last {
			t = last + 1
		}
		if clockLast.CompareAndSwap(last, t) {
			return t
		}
	}
}

// observeTime moves the clock forward so later readings come after t (used when restoring events whose
// timestamps were made elsewhere, so local ordering stays consistent).
func observeTime(t int64) {
	for {
		last := clockLast.Load()
		if t <= last || clockLast.CompareAndSwap(last, t) {
			return
		}
	}
}

// TimestampLayout is the wire form of every timestamp: UTC with exactly nine fractional digits and Z.
const TimestampLayout = "2006-01-02T15:04:05.000000000Z"

// FormatTimestamp renders Unix nanoseconds in the wire form (30 characters). Zero renders as "".
func FormatTimestamp(ns int64) string {
	if ns == 0 {
		return ""
	}
	var buf [len(TimestampLayout)]byte
	return string(time.Unix(0, ns).UTC().AppendFormat(buf[:0], TimestampLayout))
}

// Time converts a recorded Unix-nanosecond reading to a time.Time (zero stays the zero Time).
func nsTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}
