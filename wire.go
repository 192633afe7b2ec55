package ginsession

import (
	"encoding/binary"
	"math"
)

// The msgpack wire format at the byte level: reading lengths, integers
// and strings in place, skipping values with a depth limit, and writing
// the shortest headers. The record and value codecs build on these.

// intAt decodes the msgpack integer at the start of b: ok is false when b
// does not start with a complete integer. An unsigned value above MaxInt64
// is returned in u with big set; every other value in i.
func intAt(b []byte) (i int64, u uint64, big bool, n int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false, 0, false
	}
	switch c := b[0]; {
	case c <= 0x7f:
		return int64(c), 0, false, 1, true
	case c >= 0xe0:
		return int64(int8(c)), 0, false, 1, true
	case c >= 0xcc && c <= 0xcf:
		w := 1 << (c - 0xcc)
		if len(b) < 1+w {
			return 0, 0, false, 0, false
		}
		if u = readUint(b[1:1+w], w); u > math.MaxInt64 {
			return 0, u, true, 1 + w, true
		}
		return int64(u), 0, false, 1 + w, true
	case c >= 0xd0 && c <= 0xd3:
		w := 1 << (c - 0xd0)
		if len(b) < 1+w {
			return 0, 0, false, 0, false
		}
		shift := 64 - 8*w
		return int64(readUint(b[1:1+w], w)<<shift) >> shift, 0, false, 1 + w, true
	}
	return 0, 0, false, 0, false
}

// strAtStart decodes the msgpack string at the start of b without boxing
// it: ok is false when b does not start with a complete string.
func strAtStart(b []byte) (s string, n int, ok bool) {
	start, end, ok := strBounds(b, 0)
	if !ok {
		return "", 0, false
	}
	return string(b[start:end]), end, true
}

// strBounds locates the msgpack string whose header is at b[off]: its bytes
// are b[start:end]. ok is false when no complete string starts there.
func strBounds(b []byte, off int) (start, end int, ok bool) {
	if off >= len(b) {
		return 0, 0, false
	}
	var size uint64
	switch c := b[off]; {
	case c >= 0xa0 && c <= 0xbf:
		start, size = off+1, uint64(c&0x1f)
	case c >= 0xd9 && c <= 0xdb:
		w := 1 << (c - 0xd9)
		if len(b)-off < 1+w {
			return 0, 0, false
		}
		start, size = off+1+w, readUint(b[off+1:off+1+w], w)
	default:
		return 0, 0, false
	}
	if size > uint64(len(b)-start) {
		return 0, 0, false
	}
	return start, start + int(size), true
}

// sized reads a length field of 1<<sizeClass bytes after the type byte and
// hands offset and length to then.
func sized(b []byte, sizeClass byte, then func(off, n int) (any, int, error)) (any, int, error) {
	w := 1 << sizeClass
	if len(b) < 1+w {
		return nil, 0, errCorrupt
	}
	n := readUint(b[1:1+w], w)
	if n > uint64(len(b)) {
		return nil, 0, errCorrupt
	}
	return then(1+w, int(n))
}

// readUint reads a big-endian unsigned integer of w bytes (1, 2, 4 or 8).
func readUint(b []byte, w int) uint64 {
	switch w {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		return uint64(binary.BigEndian.Uint32(b))
	}
	return binary.BigEndian.Uint64(b)
}

// skipValue returns the length of the msgpack value at the start of b,
// checking structure and nesting depth without building anything.
func skipValue(b []byte, depth int) (int, error) {
	if len(b) == 0 || depth > maxDepth {
		return 0, errCorrupt
	}
	c := b[0]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		return 1, nil
	case c >= 0xa0 && c <= 0xbf:
		return span(b, 1, int(c&0x1f))
	case c >= 0x90 && c <= 0x9f:
		return skipMany(b, 1, int(c&0x0f), depth)
	case c >= 0x80 && c <= 0x8f:
		return skipMany(b, 1, 2*int(c&0x0f), depth)
	}
	if w := fixedWidth(c); w > 0 {
		return span(b, 1, w)
	}
	var w, perItem, extra int
	switch c {
	case 0xd9, 0xc4:
		w = 1
	case 0xda, 0xc5:
		w = 2
	case 0xdb, 0xc6:
		w = 4
	case 0xdc:
		w, perItem = 2, 1
	case 0xdd:
		w, perItem = 4, 1
	case 0xde:
		w, perItem = 2, 2
	case 0xdf:
		w, perItem = 4, 2
	case 0xc7:
		w, extra = 1, 1
	case 0xc8:
		w, extra = 2, 1
	case 0xc9:
		w, extra = 4, 1
	default:
		return 0, errCorrupt
	}
	if len(b) < 1+w {
		return 0, errCorrupt
	}
	n := readUint(b[1:1+w], w)
	if n > uint64(len(b)) {
		return 0, errCorrupt
	}
	if perItem > 0 {
		return skipMany(b, 1+w, perItem*int(n), depth)
	}
	return span(b, 1+w+extra, int(n))
}

// fixedWidth returns the payload size of a fixed-size msgpack type (ints,
// floats, fixext), or 0.
func fixedWidth(c byte) int {
	switch c {
	case 0xcc, 0xd0:
		return 1
	case 0xcd, 0xd1, 0xd4:
		return 2
	case 0xd5:
		return 3
	case 0xce, 0xd2, 0xca:
		return 4
	case 0xd6:
		return 5
	case 0xcf, 0xd3, 0xcb:
		return 8
	case 0xd7:
		return 9
	case 0xd8:
		return 17
	}
	return 0
}

// span checks that n bytes follow off and returns off+n.
func span(b []byte, off, n int) (int, error) {
	if len(b)-off < n {
		return 0, errCorrupt
	}
	return off + n, nil
}

// skipMany skips count values starting at off.
func skipMany(b []byte, off, count, depth int) (int, error) {
	if count > len(b)-off {
		return 0, errCorrupt
	}
	for range count {
		m, err := skipValue(b[off:], depth+1)
		if err != nil {
			return 0, err
		}
		off += m
	}
	return off, nil
}

// containerHeaderLen is the length of the shortest map or array header for
// n elements, which appendContainerLen writes.
func containerHeaderLen(n int) int {
	switch {
	case n < 16:
		return 1
	case n <= 0xffff:
		return 3
	}
	return 5
}

// appendContainerLen appends a map or array header: fix (n < 16), 16-bit
// (code16) or 32-bit (code16+1).
func appendContainerLen(dst []byte, n int, fix, code16 byte) []byte {
	switch containerHeaderLen(n) {
	case 1:
		return append(dst, fix|byte(n))
	case 3:
		return binary.BigEndian.AppendUint16(append(dst, code16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, code16+1), uint32(n))
}

// strHeaderLen is the length of the shortest msgpack string header for n
// bytes, which appendStr writes.
func strHeaderLen(n int) int {
	switch {
	case n < 32:
		return 1
	case n <= 0xff:
		return 2
	case n <= 0xffff:
		return 3
	}
	return 5
}

// appendStr appends s as a msgpack string.
func appendStr[T string | []byte](dst []byte, s T) []byte {
	switch n := len(s); strHeaderLen(n) {
	case 1:
		dst = append(dst, 0xa0|byte(n))
	case 2:
		dst = append(dst, 0xd9, byte(n))
	case 3:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
	return append(dst, s...)
}

// containerLen reads a map (fix 0x80) or array (fix 0x90) header and returns
// the element count and the header's length.
func containerLen(b []byte, fix, code16 byte) (n, size int, err error) {
	if len(b) == 0 {
		return 0, 0, errCorrupt
	}
	switch c := b[0]; {
	case c&0xf0 == fix:
		return int(c & 0x0f), 1, nil
	case c == code16 && len(b) >= 3:
		return int(binary.BigEndian.Uint16(b[1:])), 3, nil
	case c == code16+1 && len(b) >= 5:
		return int(binary.BigEndian.Uint32(b[1:])), 5, nil
	}
	return 0, 0, errCorrupt
}
