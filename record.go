package ginsession

import (
	"bytes"
	"encoding/binary"
	"iter"
	"maps"
	"math"
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

// packedMax is the most keys a decoded record reads in place. Sessions
// usually hold a handful of keys: reading them where memcached's bytes
// already are saves building a map on every request that only reads.
const packedMax = 8

// pair locates one stored key/value pair in record.src: the key's bytes
// are src[key:val] and its raw msgpack value src[val:end].
type pair struct{ key, val, end uint32 }

// record is the decoded form of a stored session.
type record struct {
	created    int64 // Unix seconds
	touched    int64 // Unix seconds of the last write (idle refresh)
	persistent bool
	// values maps each key to its raw msgpack value once the record has
	// changed or was stored with more than packedMax keys. While it is nil,
	// the pairs are read in place: pairs[:npairs] over src.
	values  map[string][]byte
	src     []byte
	pairs   [packedMax]pair
	npairs  int
	flashes [][]byte // raw msgpack per flash
}

// get returns the raw value stored under key.
func (r *record) get(key string) ([]byte, bool) {
	if r.values != nil {
		v, ok := r.values[key]
		return v, ok
	}
	for _, p := range r.pairs[:r.npairs] {
		if string(r.src[p.key:p.val]) == key {
			return r.src[p.val:p.end:p.end], true
		}
	}
	return nil, false
}

// count returns the number of keys.
func (r *record) count() int {
	if r.values != nil {
		return len(r.values)
	}
	return r.npairs
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
		for _, p := range r.pairs[:r.npairs] {
			if !yield(string(r.src[p.key:p.val]), r.src[p.val:p.end:p.end]) {
				return
			}
		}
	}
}

// mutable returns the values map, building it from the in-place pairs on
// the record's first change.
func (r *record) mutable() map[string][]byte {
	if r.values == nil {
		values := make(map[string][]byte, r.npairs)
		for k, v := range r.all() {
			values[k] = v
		}
		r.values, r.npairs = values, 0
	}
	return r.values
}

// set stores the raw value under key.
func (r *record) set(key string, raw []byte) {
	r.mutable()[key] = raw
}

// del removes key.
func (r *record) del(key string) {
	delete(r.mutable(), key)
}

// clearValues removes every key.
func (r *record) clearValues() {
	r.values = map[string][]byte{}
	r.npairs = 0
}

// encode appends the record's wire form to dst.
func (r *record) encode(dst []byte) []byte {
	size := recordHeader + 10
	for k, v := range r.all() {
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
	dst = appendContainerLen(dst, r.count(), 0x80, 0xde)
	if r.values != nil {
		for k, v := range r.values {
			dst = append(appendStr(dst, k), v...)
		}
	} else {
		for _, p := range r.pairs[:r.npairs] {
			dst = append(appendStr(dst, r.src[p.key:p.val]), r.src[p.val:p.end]...)
		}
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
	packed := n <= packedMax && len(b) <= math.MaxUint32
	if packed {
		r.src = b
	} else {
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
		if packed {
			r.pairs[r.npairs] = pair{key: uint32(k0), val: uint32(k1), end: uint32(off)}
			r.npairs++
		} else {
			r.values[string(b[k0:k1])] = b[k1:off:off]
		}
	}
	if r.count() != n || (packed && hasDuplicateKey(b, r.pairs[:r.npairs])) {
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
func hasDuplicateKey(b []byte, pairs []pair) bool {
	for i, a := range pairs {
		for _, c := range pairs[i+1:] {
			if string(b[a.key:a.val]) == string(b[c.key:c.val]) {
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
