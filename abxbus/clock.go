package abxbus

import (
	"math"
	"sync/atomic"
	"time"
)

// The process-wide clock. Every timestamp the library records (event creation, start and completion,
// handler registration, result start and completion) comes from here: wall-clock UTC at process start
// plus the monotonic time elapsed since, forced strictly increasing (each timestamp is at least 1 ns
// after the previous one, F226). Readings are stored as Unix nanoseconds and formatted only when needed.
//
// Design (issue 13 item 3). Strict increase across all goroutines is a total order, so every timestamp
// goes through one shared word, clockLast, the latest timestamp handed out; each timestamp is the new
// value of one atomic read-modify-write on it, and the modification order of that word is the order of
// the timestamps. Per-P or sharded state cannot give that guarantee on its own: two shards can only be
// kept apart by the OS clock advancing between their readings, which coarse clocks (100 ns on Windows,
// 41 ns ticks on Apple silicon) and equal readings do not promise. What costs is the OS reading (tens of
// ns, more on a loaded VM), not the atomic, so:
//
//   - now reads the OS clock once and publishes it with a CAS only when it is ahead of clockLast (the
//     usual case); when it is not (another goroutine stamped the same or a later nanosecond) it takes
//     clockLast+1 with a single atomic Add instead of retrying CAS. No retry loop on equal readings.
//   - tick hands out the next timestamp with one atomic Add and no OS reading. It is only used right
//     after a reading in the same critical section (a result that starts as its predecessor completes,
//     an event that completes as its last result does, the dispatcher's next queued event that starts as
//     the previous one's run ends on the same goroutine): the value is after every timestamp so far and
//     within that critical section of the true time.

var (
	clockBase     = time.Now()
	clockBaseWall = clockBase.UnixNano()
	clockLast     atomic.Int64
)

// now returns a strictly increasing Unix-nanosecond reading of the clock, at least the OS clock's
// reading. Safe for concurrent use; no allocation; one OS clock reading and one atomic write.
func now() int64 {
	t := clockBaseWall + int64(time.Since(clockBase))
	last := clockLast.Load()
	for t > last {
		if clockLast.CompareAndSwap(last, t) {
			return t
		}
		last = clockLast.Load()
	}
	return clockLast.Add(1)
}

// tick returns a new timestamp after every earlier one without reading the OS clock (one atomic Add).
// Use it only shortly after a now() in the same critical section; on its own it can be stale.
func tick() int64 { return clockLast.Add(1) }

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

// FormatTimestamp renders t in the wire form: UTC with exactly nine fractional digits and Z (30
// characters for the years 1000-9999). The zero Time renders as "".
func FormatTimestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	var buf [len(TimestampLayout)]byte
	return string(t.UTC().AppendFormat(buf[:0], TimestampLayout))
}

// formatNS renders a recorded Unix-nanosecond reading in the wire form (0 renders as "").
func formatNS(ns int64) string { return FormatTimestamp(nsTime(ns)) }

// nsTime converts a recorded Unix-nanosecond reading to a time.Time in UTC without a monotonic reading,
// so that == and Equal agree and a time read back from JSON is equal to the one written (0 stays the
// zero Time).
func nsTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// Timestamps are kept as Unix nanoseconds in an int64: the instants from minNSTime to maxNSTime.
var (
	minNSTime = time.Unix(0, math.MinInt64)
	maxNSTime = time.Unix(0, math.MaxInt64)
)

// timeNS converts t to Unix nanoseconds (the zero Time is 0). ok is false for a time outside the range
// an int64 of nanoseconds holds (about the years 1678-2262) or one that is exactly the Unix epoch (its
// reading, 0, means "not set").
func timeNS(t time.Time) (ns int64, ok bool) {
	if t.IsZero() {
		return 0, true
	}
	if t.Before(minNSTime) || t.After(maxNSTime) {
		return 0, false
	}
	ns = t.UnixNano()
	return ns, ns != 0
}
