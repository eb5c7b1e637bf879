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
//     the previous one's run ends on the same goroutine, the inline run of a typed Call's event created
//     just before on the caller's goroutine): the value is after every timestamp so far and within that
//     critical section of the true time.

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
	return string(appendTimestamp(buf[:0], t))
}

// appendTimestamp appends t in the wire form (TimestampLayout) to b.
func appendTimestamp(b []byte, t time.Time) []byte {
	if ns, ok := timeNS(t); ok && ns > 0 {
		return appendTimestampNS(b, ns)
	}
	return t.UTC().AppendFormat(b, TimestampLayout)
}

// appendTimestampNS appends the Unix-nanosecond reading ns (> 0: 1970 to 2262) in the wire form, as
// time.Time.AppendFormat with TimestampLayout does, without its general layout machinery (a handler
// registration and every timestamp written to JSON format one).
func appendTimestampNS(b []byte, ns int64) []byte {
	secs, frac := ns/1e9, ns%1e9
	days, sod := secs/86400, secs%86400
	// Civil date of a day count since 1970-01-01 (the proleptic Gregorian calendar, in eras of 400
	// years starting on March 1st).
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if month > 12 {
		month -= 12
	}
	year := yoe + era*400
	if month <= 2 {
		year++
	}
	var out [30]byte
	put2 := func(i int, v int64) { copy(out[i:i+2], digitPairs[2*v:2*v+2]) }
	put2(0, year/100)
	put2(2, year%100)
	out[4] = '-'
	put2(5, month)
	out[7] = '-'
	put2(8, day)
	out[10] = 'T'
	put2(11, sod/3600)
	out[13] = ':'
	put2(14, sod/60%60)
	out[16] = ':'
	put2(17, sod%60)
	out[19] = '.'
	out[20] = byte('0' + frac/1e8)
	frac %= 1e8
	put2(21, frac/1e6)
	put2(23, frac/1e4%100)
	put2(25, frac/100%100)
	put2(27, frac%100)
	out[29] = 'Z'
	return append(b, out[:]...)
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// formatNS renders a recorded Unix-nanosecond reading in the wire form (0 renders as "").
func formatNS(ns int64) string {
	if ns <= 0 {
		return FormatTimestamp(nsTime(ns))
	}
	var buf [len(TimestampLayout)]byte
	return string(appendTimestampNS(buf[:0], ns))
}

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
