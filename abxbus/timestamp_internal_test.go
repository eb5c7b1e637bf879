package abxbus

import (
	"math"
	"testing"
	"time"
)

// The wire timestamp formatter (F226's nine-digit form) against time.Time.AppendFormat, which it
// replaces on the hot paths (handler registration, JSON encoding).

func checkTimestampNS(t *testing.T, ns int64) {
	t.Helper()
	want := time.Unix(0, ns).UTC().AppendFormat(nil, TimestampLayout)
	if got := appendTimestampNS([]byte("x"), ns); string(got[1:]) != string(want) || got[0] != 'x' {
		t.Fatalf("appendTimestampNS(%d) = %q, want %q", ns, got, want)
	}
	if got := formatNS(ns); got != string(want) {
		t.Fatalf("formatNS(%d) = %q, want %q", ns, got, want)
	}
}

func TestAppendTimestampNSMatchesAppendFormat(t *testing.T) {
	day := int64(86400e9)
	for _, s := range []string{
		"1970-01-01T00:00:00.000000001Z", "1970-12-31T23:59:59.999999999Z", "1972-02-29T12:00:00Z",
		"1999-12-31T23:59:59.5Z", "2000-02-29T00:00:00Z", "2000-03-01T00:00:00Z", "2024-02-29T23:59:59Z",
		"2026-12-02T15:04:05.123456789Z", "2100-02-28T00:00:00Z", "2100-03-01T00:00:00Z",
		"2200-12-31T23:59:59.999999999Z", "2262-04-11T23:47:16.854775807Z",
	} {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		checkTimestampNS(t, tm.UnixNano())
	}
	for ns := int64(1); ns < math.MaxInt64-day && ns > 0; ns += day + 7919e6 + 13 { // every day, 1970-2262
		checkTimestampNS(t, ns)
	}
	checkTimestampNS(t, math.MaxInt64)
	// FormatTimestamp keeps the general form outside the fast path's range.
	for _, tm := range []time.Time{time.Date(1969, 12, 31, 23, 59, 59, 1, time.UTC), time.Date(9999, 1, 2, 3, 4, 5, 6, time.UTC),
		time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Unix(0, 0), time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("x", 3600))} {
		if got, want := FormatTimestamp(tm), tm.UTC().Format(TimestampLayout); got != want {
			t.Fatalf("FormatTimestamp(%v) = %q, want %q", tm, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = appendTimestampNS(make([]byte, 0, 64)[:0], 1) }); n > 1 {
		t.Fatalf("appendTimestampNS allocates %v times", n)
	}
}

func FuzzAppendTimestampNS(f *testing.F) {
	f.Add(int64(1))
	f.Add(int64(951782400e9))
	f.Add(int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, ns int64) {
		if ns < 0 {
			ns = ^ns // all of 0..MaxInt64
		}
		if ns == 0 {
			ns = 1 // the formatter's range starts at 1 (0 is "not set")
		}
		checkTimestampNS(t, ns)
	})
}

func BenchmarkAppendTimestamp(b *testing.B) {
	buf := make([]byte, 0, 64)
	ns := time.Date(2026, 12, 2, 15, 4, 5, 123456789, time.UTC).UnixNano()
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			buf = appendTimestampNS(buf[:0], ns)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		tm := time.Unix(0, ns).UTC()
		for b.Loop() {
			buf = tm.AppendFormat(buf[:0], TimestampLayout)
		}
	})
}
