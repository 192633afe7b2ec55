package ginsession

import (
	"bytes"
	"encoding/binary"
)

// A stored session is a msgpack array with a fixed-width header, so the
// idle-refresh timestamp can be rewritten in place:
//
//	[version, created, touched, persistent, {key: value...}, [flash...]]
//
// created and touched are Unix seconds encoded as int64 (0xd3); values and
// flashes are kept as raw msgpack so unchanged values are never re-encoded.
const (
	recordVersion = 1
	recordHeader  = 21 // fixarray, version, 2 × (0xd3 + 8 bytes), bool
	offCreated    = 3
	offTouched    = 12
	offPersistent = 20
)

// record is the decoded form of a stored session.
type record struct {
	created    int64 // Unix seconds
	touched    int64 // Unix seconds of the last write (idle refresh)
	persistent bool
	values     map[string][]byte // raw msgpack per key
	flashes    [][]byte          // raw msgpack per flash
}

// encode appends the record's wire form to dst.
func (r *record) encode(dst []byte) []byte {
	size := recordHeader + 10
	for k, v := range r.values {
		size += 5 + len(k) + len(v)
	}
	for _, f := range r.flashes {
		size += len(f)
	}
	if cap(dst)-len(dst) < size {
		dst = append(make([]byte, 0, len(dst)+size), dst...)
	}
	dst = append(dst, 0x96, recordVersion, 0xd3)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.created))
	dst = append(dst, 0xd3)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.touched))
	if r.persistent {
		dst = append(dst, 0xc3)
	} else {
		dst = append(dst, 0xc2)
	}
	dst = appendContainerLen(dst, len(r.values), 0x80, 0xde)
	for k, v := range r.values {
		dst = appendStr(dst, k)
		dst = append(dst, v...)
	}
	dst = appendContainerLen(dst, len(r.flashes), 0x90, 0xdc)
	for _, f := range r.flashes {
		dst = append(dst, f...)
	}
	return dst
}

// appendContainerLen appends a map or array header: fix (n < 16), 16-bit
// (code16) or 32-bit (code16+1).
func appendContainerLen(dst []byte, n int, fix, code16 byte) []byte {
	switch {
	case n < 16:
		return append(dst, fix|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(dst, code16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(dst, code16+1), uint32(n))
}

// appendStr appends s as a msgpack string.
func appendStr(dst []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		dst = append(dst, 0xa0|byte(n))
	case n <= 0xff:
		dst = append(dst, 0xd9, byte(n))
	case n <= 0xffff:
		dst = binary.BigEndian.AppendUint16(append(dst, 0xda), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, 0xdb), uint32(n))
	}
	return append(dst, s...)
}

// decodeRecord parses stored bytes. Anything that is not exactly a record of
// this version — truncated, foreign, or with trailing bytes — is errCorrupt.
// The returned values alias b.
func decodeRecord(b []byte) (*record, error) {
	if len(b) < recordHeader+2 || b[0] != 0x96 || b[1] != recordVersion ||
		b[offCreated-1] != 0xd3 || b[offTouched-1] != 0xd3 ||
		(b[offPersistent] != 0xc2 && b[offPersistent] != 0xc3) {
		return nil, errCorrupt
	}
	r := &record{
		created:    int64(binary.BigEndian.Uint64(b[offCreated:])),
		touched:    int64(binary.BigEndian.Uint64(b[offTouched:])),
		persistent: b[offPersistent] == 0xc3,
	}
	off := recordHeader
	n, m, err := containerLen(b[off:], 0x80, 0xde)
	if err != nil {
		return nil, err
	}
	off += m
	if n > (len(b)-off)/2 {
		return nil, errCorrupt
	}
	r.values = make(map[string][]byte, n)
	for range n {
		key, m, ok := strAtStart(b[off:])
		if !ok {
			return nil, errCorrupt
		}
		off += m
		m, err = skipValue(b[off:], 1)
		if err != nil {
			return nil, err
		}
		r.values[key] = b[off : off+m : off+m]
		off += m
	}
	n, m, err = containerLen(b[off:], 0x90, 0xdc)
	if err != nil {
		return nil, err
	}
	off += m
	if n > len(b)-off {
		return nil, errCorrupt
	}
	for range n {
		m, err := skipValue(b[off:], 1)
		if err != nil {
			return nil, err
		}
		r.flashes = append(r.flashes, b[off:off+m:off+m])
		off += m
	}
	if off != len(b) {
		return nil, errCorrupt
	}
	return r, nil
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

// clone returns a deep copy whose values no longer alias the stored bytes'
// backing array (raw values are immutable, so sharing them is safe).
func (r *record) clone() *record {
	c := *r
	c.values = make(map[string][]byte, len(r.values))
	for k, v := range r.values {
		c.values[k] = v
	}
	c.flashes = append([][]byte(nil), r.flashes...)
	return &c
}

// removeFlashes drops, once each, the flashes equal to taken.
func removeFlashes(flashes, taken [][]byte) [][]byte {
	out := flashes[:0:0]
	for _, f := range flashes {
		hit := -1
		for i, t := range taken {
			if t != nil && bytes.Equal(f, t) {
				hit = i
				break
			}
		}
		if hit >= 0 {
			taken = append(taken[:hit:hit], taken[hit+1:]...)
			continue
		}
		out = append(out, f)
	}
	return out
}
