package abxbus

import (
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// ID is a 128-bit RFC 9562 UUID as used on the wire for event, result, bus and handler ids. Event, result
// and bus ids are UUIDv7 (time-ordered); handler ids are UUIDv5 (deterministic). The zero ID means
// "no id". IDs are comparable and usable as map keys; String formats the canonical 36-character form.
type ID [16]byte

// IsZero reports whether id is the zero (absent) id.
func (id ID) IsZero() bool { return id == ID{} }

// String returns the canonical lowercase hyphenated form, or "" for the zero ID.
func (id ID) String() string {
	if id.IsZero() {
		return ""
	}
	var buf [36]byte
	id.appendTo(buf[:0])
	return string(buf[:])
}

func (id ID) appendTo(dst []byte) []byte {
	var buf [36]byte
	hex.Encode(buf[0:8], id[0:4])
	buf[8] = '-'
	hex.Encode(buf[9:13], id[4:6])
	buf[13] = '-'
	hex.Encode(buf[14:18], id[6:8])
	buf[18] = '-'
	hex.Encode(buf[19:23], id[8:10])
	buf[23] = '-'
	hex.Encode(buf[24:36], id[10:16])
	return append(dst, buf[:]...)
}

// short returns the last four hex digits, as used in labels (`Type#ab12`).
func (id ID) short() string {
	var buf [4]byte
	hex.Encode(buf[:], id[14:16])
	return string(buf[:])
}

// ErrInvalidID is matched (errors.Is) by every error of ParseID, and so by every decoding or option
// error caused by a malformed id.
var ErrInvalidID = errors.New("invalid id")

// ParseID parses an id in the RFC 9562 text form: 36 characters, hex digits grouped 8-4-4-4-12 by
// hyphens at offsets 8, 13, 18 and 23, nothing before or after. Hex digits may be lower, upper or mixed
// case (String and every encoder of this package always write lower case). The UUID must be an RFC 9562
// one: version 1 to 8 and the 10xx variant, or the Nil UUID (all zeros) or the Max UUID (all ones).
// This is exactly what the TypeScript peer accepts, so an id accepted here is never rejected there.
//
// Anything else (braces, a "urn:uuid:" prefix, missing or extra hyphens, hyphens elsewhere, 32 bare hex
// digits, surrounding spaces) is an error of the form `invalid id "<input>": <reason>` that matches
// ErrInvalidID. ParseID does not allocate on success.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 36 {
		return id, badID(s, fmt.Sprintf("must be 36 characters (8-4-4-4-12 hex digits), got %d", len(s)))
	}
	j := 0
	for i := 0; i < 36; i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return ID{}, badID(s, fmt.Sprintf("must have '-' at offset %d, got %q", i, c))
			}
			continue
		}
		v, ok := unhex(c)
		if !ok {
			return ID{}, badID(s, fmt.Sprintf("must have a hex digit at offset %d, got %q", i, c))
		}
		if j%2 == 0 {
			id[j/2] = v << 4
		} else {
			id[j/2] |= v
		}
		j++
	}
	if id == (ID{}) || id == maxID {
		return id, nil
	}
	if v := id[6] >> 4; v < 1 || v > 8 {
		return ID{}, badID(s, fmt.Sprintf("has version %d, want 1 to 8 (offset 14)", v))
	}
	if id[8]&0xc0 != 0x80 {
		return ID{}, badID(s, fmt.Sprintf("has variant digit %q, want one of 8, 9, a, b (offset 19)", s[19]))
	}
	return id, nil
}

// maxID is the Max UUID ffffffff-ffff-ffff-ffff-ffffffffffff.
var maxID = ID{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func badID(s, why string) error {
	return fmt.Errorf("%w %q: %s", ErrInvalidID, s, why)
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// UUIDv7 generation (D8, RFC 9562 section 5.7 with the sub-millisecond precision of section 6.2
// method 3). An id is made from a clock timestamp (Unix ns) that no other id was made from:
//
//	bits   0-47  unix_ts_ms: the timestamp's milliseconds
//	bits  48-51  version 7
//	bits  52-63  rand_a: the top 12 bits of the timestamp's fraction of a millisecond, scaled to 20 bits
//	bits  64-65  variant 10
//	bits  66-73  the low 8 bits of that 20-bit fraction
//	bits  74-127 random (the runtime's per-thread ChaCha8 generator: no lock, no shared state)
//
// The scaled fraction (ns within the ms times 2^20 / 10^6) is strictly increasing in the nanoseconds,
// so the first 76 bits after the version and variant are a strictly increasing function of the
// timestamp. The clock hands out each timestamp once, process-wide and in order (clock.go), so ids are
// unique by construction and sort in the order they were made, across goroutines, within and across
// milliseconds, with no mutex and no "last id" to compare with. The random tail keeps ids unguessable
// and apart from other processes' ids.
func newID() ID { return newIDAt(now()) }

// newIDAt returns the UUIDv7 of timestamp ns (Unix ns), which must be a clock timestamp (now or tick)
// no other id was made from. Safe for concurrent use; no allocation, no lock.
func newIDAt(ns int64) ID {
	ms := uint64(ns) / 1e6
	frac := (uint64(ns) % 1e6) << 20 / 1e6 // 20 bits, strictly increasing in ns
	r := rand.Uint64()
	var id ID
	binary.BigEndian.PutUint64(id[0:8], ms<<16|0x7000|frac>>8)
	binary.BigEndian.PutUint64(id[8:16], 0x8000000000000000|(frac&0xff)<<54|r>>10)
	return id
}

// handlerNamespace is uuidv5(NAMESPACE_DNS, "abxbus-handler") = 98dc1aae-798a-597c-8b2e-2c0511f4a81a.
var handlerNamespace = uuidV5(ID{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}, "abxbus-handler")

// uuidV5 is RFC 9562 UUIDv5 of name in namespace ns.
func uuidV5(ns ID, name string) ID {
	return uuidV5Of(append(ns[:len(ns):len(ns)], name...))
}

// uuidV5Of is UUIDv5 of data = namespace bytes followed by the name.
func uuidV5Of(data []byte) ID {
	sum := sha1.Sum(data)
	var id ID
	copy(id[:], sum[:])
	id[6] = id[6]&0x0f | 0x50
	id[8] = id[8]&0x3f | 0x80
	return id
}

// HandlerID computes the deterministic handler id shared by every abxbus runtime:
// uuidv5 in the "abxbus-handler" namespace of "<bus id>|<name>|<file path or 'unknown'>|<registered at>|<pattern>",
// with registeredAt in the wire form (FormatTimestamp; the zero Time is empty).
func HandlerID(busID ID, name, filePath string, registeredAt time.Time, pattern string) ID {
	if filePath == "" {
		filePath = "unknown"
	}
	var buf [256]byte // the usual key fits: no allocation
	b := append(buf[:0], handlerNamespace[:]...)
	b = busID.appendTo(b)
	b = append(append(b, '|'), name...)
	b = append(append(b, '|'), filePath...)
	b = append(b, '|')
	if !registeredAt.IsZero() {
		b = appendTimestamp(b, registeredAt)
	}
	b = append(append(b, '|'), pattern...)
	return uuidV5Of(b)
}
