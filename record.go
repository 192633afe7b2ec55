package ginsession

import (
	"bytes"
	"encoding/binary"
	"iter"
	"maps"
	"slices"
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

// smallMax is the most keys a record holds without a map. Sessions usually
// hold a handful of keys: keeping them in a small array, with keys and values
// pointing into memcached's bytes, saves building a map on every request.
const smallMax = 8

// pair is one key and its raw msgpack value. Both usually alias the stored
// bytes; neither is ever modified in place.
type pair struct{ key, val []byte }

// record is the decoded form of a stored session.
type record struct {
	created    int64 // Unix seconds
	touched    int64 // Unix seconds of the last write (idle refresh)
	persistent bool
	// The values: small[:nsmall] while values is nil; values (key → raw
	// msgpack) once the record has held more than smallMax keys.
	small   [smallMax]pair
	nsmall  int
	values  map[string][]byte
	flashes [][]byte // raw msgpack per flash
}

// find returns the index of key in small, or -1.
func (r *record) find(key string) int {
	for i, p := range r.small[:r.nsmall] {
		if string(p.key) == key {
			return i
		}
	}
	return -1
}

// get returns the raw value stored under key.
func (r *record) get(key string) ([]byte, bool) {
	if r.values != nil {
		v, ok := r.values[key]
		return v, ok
	}
	if i := r.find(key); i >= 0 {
		return r.small[i].val, true
	}
	return nil, false
}

// count returns the number of keys.
func (r *record) count() int {
	if r.values != nil {
		return len(r.values)
	}
	return r.nsmall
}

// all yields every key and raw value, in no particular order.
func (r *record) all() iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		if r.values != nil {
			for k, v := range r.values {
				if !yield(k, v) {
					return
				}
			}
			return
		}
		for _, p := range r.small[:r.nsmall] {
			if !yield(string(p.key), p.val) {
				return
			}
		}
	}
}

// set stores the raw value under key, moving the values to a map when
// they outgrow the small array.
func (r *record) set(key string, raw []byte) {
	if r.values == nil {
		if i := r.find(key); i >= 0 {
			r.small[i].val = raw
			return
		}
		if r.nsmall < smallMax {
			r.small[r.nsmall] = pair{key: []byte(key), val: raw}
			r.nsmall++
			return
		}
		r.values = make(map[string][]byte, 2*smallMax)
		for _, p := range r.small[:r.nsmall] {
			r.values[string(p.key)] = p.val
		}
		r.small, r.nsmall = [smallMax]pair{}, 0
	}
	r.values[key] = raw
}

// del removes key.
func (r *record) del(key string) {
	if r.values != nil {
		delete(r.values, key)
		return
	}
	if i := r.find(key); i >= 0 {
		copy(r.small[i:r.nsmall], r.small[i+1:r.nsmall])
		r.nsmall--
		r.small[r.nsmall] = pair{}
	}
}

// clearValues removes every key.
func (r *record) clearValues() {
	r.small, r.nsmall, r.values = [smallMax]pair{}, 0, nil
}

// encode appends the record's wire form to dst.
func (r *record) encode(dst []byte) []byte {
	size := recordHeader + 10
	for k, v := range r.values {
		size += 5 + len(k) + len(v)
	}
	for _, p := range r.small[:r.nsmall] {
		size += 5 + len(p.key) + len(p.val)
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
	dst = appendContainerLen(dst, r.count(), 0x80, 0xde)
	for k, v := range r.values {
		dst = append(appendStr(dst, k), v...)
	}
	for _, p := range r.small[:r.nsmall] {
		dst = append(appendStr(dst, p.key), p.val...)
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
func appendStr[T string | []byte](dst []byte, s T) []byte {
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
	if n > smallMax {
		r.values = make(map[string][]byte, n)
	}
	for range n {
		k0, k1, ok := strBounds(b, off)
		if !ok {
			return nil, errCorrupt
		}
		m, err := skipValue(b[k1:], 1)
		if err != nil {
			return nil, err
		}
		off = k1 + m
		key, val := b[k0:k1:k1], b[k1:off:off]
		if r.values != nil {
			r.values[string(key)] = val
		} else {
			r.small[r.nsmall] = pair{key: key, val: val}
			r.nsmall++
		}
	}
	if r.count() != n || hasDuplicateKey(r.small[:r.nsmall]) {
		return nil, errCorrupt // a key stored twice: not written by ginsession
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

// hasDuplicateKey reports whether two pairs name the same key.
func hasDuplicateKey(pairs []pair) bool {
	for i, a := range pairs {
		for _, c := range pairs[i+1:] {
			if bytes.Equal(a.key, c.key) {
				return true
			}
		}
	}
	return false
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

// clone returns a copy that can be changed without changing r (raw values
// are immutable, so sharing them is safe).
func (r *record) clone() *record {
	c := *r
	if r.values != nil {
		c.values = maps.Clone(r.values)
	}
	c.flashes = slices.Clone(r.flashes)
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
