package ginsession

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// A stored session is one msgpack array (version 2), readable by any
// msgpack library:
//
//	[version, created, touched, persistent, {key: value...}, [flash...], optional..., tag]
//	[version, created, touched, persistent, {key: value...}, [flash...], tag]
//	[version, created, touched, persistent, {key: value...}, [flash...], [checked, stamp], tag]
//
// created and touched are Unix seconds encoded as int64 (0xd3), so the
// header has a fixed width and the idle-refresh timestamp sits at a fixed
// offset. Values and flashes are kept as raw msgpack, so unchanged values
// are never re-encoded. tag is a bin8 of 32 bytes, the record's HMAC (see
// recordmac.go), always the last 34 bytes. The second form, for a user
// whose security stamp is checked (Options.UserStamp), adds the Unix second
// of the last check (int64, 0xd3) and a 16-byte hash of the stamp (bin8);
// sessions without it pay nothing for the feature. It is the first of the
// optional fields (recordfields.go), which also says what a rolling deploy
// does with fields a binary does not know.
//
// The encoding is canonical, so a record that verifies re-encodes to the
// same bytes: container and key headers are the shortest that fit, keys are
// unique, and a map of more than smallMax keys lists them in ascending byte
// order. The decoder refuses anything else.
const (
	recordVersion = 2
	recordHeader  = 21 // fixarray, version, 2 × (0xd3 + 8 bytes), bool
	offCreated    = 3
	offTouched    = 12
	offPersistent = 20
	tagSize       = sha256.Size
	tagField      = 2 + tagSize                     // bin8 header + tag
	recordMin     = recordHeader + 1 + 1 + tagField // with no values and no flashes
	stampSize     = 16
	guardField    = 1 + 9 + 2 + stampSize // fixarray(2), int64, bin8 header + stamp hash
)

// Caps on what one record holds. ginsession verifies a record's HMAC before
// decoding it, so forged bytes never reach the decoder; the caps bound what
// a record sealed by the application itself (a bug, or a stolen secret) can
// make a load allocate. Save refuses a session over them with ErrTooLarge,
// so whatever is stored can be read back. A load decodes into the record
// inside the Session, reading the values in place, and allocates a slice of
// flashes (and, on the first read of a record past smallMax keys, its pairs),
// each sized from a count checked against its cap and against the bytes
// that must hold it: at most 10 times the record's size plus 64 KiB,
// whatever the bytes (tested in record_test.go).
const (
	// maxKeys is far more than any session holds (they hold a handful);
	// its pairs take 48 bytes each, 192 KiB at the cap.
	maxKeys = 4096
	// maxFlashes is far more than any page shows; each takes a 24-byte
	// slice header, 24 KiB at the cap.
	maxFlashes = 1024
)

// record.nstored counts up to maxKeys entries.
const _ uint16 = maxKeys

// smallMax is the most keys a record keeps in insertion order; past it, the
// values are sorted by key, in memory (binary search) and as stored (the
// canonical form).
const smallMax = 8

// pair is one key and its raw msgpack value. Both usually alias the stored
// bytes; neither is ever modified in place.
type pair struct{ key, val []byte }

// meta is a session's metadata: everything its record holds besides the
// values and flashes. A request that changes any of it marks the change
// once (changes.meta), and a merge copies it whole, so a field added here
// is merged with no more code. Everything derived from it (expiration,
// liveness, the cookie's Max-Age) is computed from the record being
// written (expiry.go).
type meta struct {
	created int64 // Unix seconds
	touched int64 // Unix seconds of the last write (idle refresh)
	// stampChecked is the Unix second the stamp was last checked.
	stampChecked int64
	// stamp is a hash of the user's security stamp at Login; all zero
	// when none is recorded (a hash is never all zero: decode refuses it).
	stamp [stampSize]byte
	// persistent is the "remember me" flag.
	persistent bool
}

// stamped reports whether a security stamp is recorded.
func (m *meta) stamped() bool { return m.stamp != [stampSize]byte{} }

// record is the decoded form of a stored session.
//
// Its values are read in place: until the request changes one, they are the
// stored map's entries (stored, nstored) exactly as memcached returned them,
// validated by decode, so a read allocates nothing per key and a write of
// unchanged values copies them as they are. The first change copies them
// into pairs, which from then on hold the values; pairs is nil until then.
type record struct {
	meta
	stored  []byte   // the stored map's entries, after its header
	pairs   []pair   // in insertion order up to smallMax, sorted by key past it
	flashes [][]byte // raw msgpack per flash
	nstored uint16   // entries in stored (at most maxKeys)
	// oldSeal is set by recordSealer.open when only one of OldSecrets
	// verified the stored bytes: the next write re-seals them.
	oldSeal bool
}

// changed reports whether the values moved from stored into pairs.
func (r *record) changed() bool { return r.pairs != nil }

// storedEntries yields the stored entries, which decode validated. It
// walks the entries as they were when the loop began, so a read inside the
// loop that moves them into pairs does not cut it short.
func (r *record) storedEntries() iter.Seq2[[]byte, []byte] {
	stored, n := r.stored, r.nstored
	return func(yield func(key, val []byte) bool) {
		off := 0
		for range n {
			k0, k1, _ := strBounds(stored, off)
			m, _ := skipValue(stored[k1:], 1)
			off = k1 + m
			if !yield(stored[k0:k1:k1], stored[k1:off:off]) {
				return
			}
		}
	}
}

// own copies the stored entries into pairs before the first change. A
// record past smallMax keys does so on its first read too, so that finding
// a key is a binary search rather than a scan.
func (r *record) own() {
	if r.changed() {
		return
	}
	pairs := make([]pair, 0, int(r.nstored)+1)
	for k, v := range r.storedEntries() {
		pairs = append(pairs, pair{key: k, val: v})
	}
	r.pairs, r.stored, r.nstored = pairs, nil, 0
}

// index returns where key is, or belongs, in pairs.
func (r *record) index(key string) (int, bool) {
	if len(r.pairs) <= smallMax {
		for i, p := range r.pairs {
			if string(p.key) == key {
				return i, true
			}
		}
		return len(r.pairs), false
	}
	return slices.BinarySearchFunc(r.pairs, key, func(p pair, key string) int {
		return strings.Compare(string(p.key), key)
	})
}

// get returns the raw value stored under key.
func (r *record) get(key string) ([]byte, bool) {
	if !r.changed() {
		if r.nstored > smallMax {
			r.own()
		} else {
			for k, v := range r.storedEntries() {
				if string(k) == key {
					return v, true
				}
			}
			return nil, false
		}
	}
	if i, ok := r.index(key); ok {
		return r.pairs[i].val, true
	}
	return nil, false
}

// count returns the number of keys.
func (r *record) count() int {
	if !r.changed() {
		return int(r.nstored)
	}
	return len(r.pairs)
}

// all yields every key and raw value: in their stored or insertion order,
// sorted past smallMax keys.
func (r *record) all() iter.Seq2[string, []byte] {
	return func(yield func(string, []byte) bool) {
		if !r.changed() {
			for k, v := range r.storedEntries() {
				if !yield(string(k), v) {
					return
				}
			}
			return
		}
		for _, p := range r.pairs {
			if !yield(string(p.key), p.val) {
				return
			}
		}
	}
}

// set stores the raw value under key, sorting the values when they outgrow
// smallMax.
func (r *record) set(key string, raw []byte) {
	r.own()
	i, ok := r.index(key)
	if ok {
		r.pairs[i].val = raw
		return
	}
	r.pairs = slices.Insert(r.pairs, i, pair{key: []byte(key), val: raw})
	if len(r.pairs) == smallMax+1 { // past smallMax: sorted from now on
		slices.SortFunc(r.pairs, func(a, b pair) int { return bytes.Compare(a.key, b.key) })
	}
}

// del removes key. The order left is still canonical: sorted values stay
// sorted, and any order is canonical up to smallMax keys.
func (r *record) del(key string) {
	r.own()
	if i, ok := r.index(key); ok {
		r.pairs = slices.Delete(r.pairs, i, i+1)
	}
}

// clearValues removes every key.
func (r *record) clearValues() {
	r.stored, r.nstored, r.pairs = nil, 0, nil
}

// overCaps describes how r exceeds maxKeys or maxFlashes, or returns nil.
func (r *record) overCaps() error {
	if n := r.count(); n > maxKeys {
		return fmt.Errorf("%d keys, at most %d", n, maxKeys)
	}
	if n := len(r.flashes); n > maxFlashes {
		return fmt.Errorf("%d flash messages, at most %d", n, maxFlashes)
	}
	return nil
}

// encode appends the record's wire form to dst, with a zero tag:
// recordSealer.seal fills it in place.
func (r *record) encode(dst []byte) []byte {
	size := recordHeader + 10 + len(r.stored) + tagField
	for _, f := range optionalFields {
		size += f.maxSize
	}
	for _, p := range r.pairs {
		size += 5 + len(p.key) + len(p.val)
	}
	for _, f := range r.flashes {
		size += len(f)
	}
	dst = slices.Grow(dst, size)
	head := len(dst)
	dst = append(dst, 0x90|fixedFields, recordVersion, 0xd3)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.created))
	dst = append(dst, 0xd3)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.touched))
	if r.persistent {
		dst = append(dst, 0xc3)
	} else {
		dst = append(dst, 0xc2)
	}
	dst = appendContainerLen(dst, r.count(), 0x80, 0xde)
	dst = append(dst, r.stored...) // canonical as decode checked
	for _, p := range r.pairs {
		dst = append(appendStr(dst, p.key), p.val...)
	}
	dst = appendContainerLen(dst, len(r.flashes), 0x90, 0xdc)
	for _, f := range r.flashes {
		dst = append(dst, f...)
	}
	dst, fields := r.encodeOptional(dst)
	dst[head] = 0x90 | byte(fields)
	dst = append(dst, 0xc4, tagSize)
	return append(dst, make([]byte, tagSize)...)
}

// decode replaces r with the record in stored bytes WITHOUT checking their
// tag: stored bytes are read with recordSealer.open, which verifies the tag
// first. Anything that is not exactly a canonical record of this version —
// truncated, foreign, over the caps, or with trailing bytes — is
// errCorrupt, and leaves r unusable. The decoded values alias b.
//
// Allocation is bounded by what b can hold: every count is checked against
// its cap and against the bytes left before anything is sized from it.
func (r *record) decode(b []byte) error {
	if len(b) < recordMin || b[0]&0xf0 != 0x90 || b[0]&0x0f < fixedFields || b[1] != recordVersion ||
		b[offCreated-1] != 0xd3 || b[offTouched-1] != 0xd3 ||
		(b[offPersistent] != 0xc2 && b[offPersistent] != 0xc3) ||
		b[len(b)-tagField] != 0xc4 || b[len(b)-tagField+1] != tagSize {
		return errCorrupt
	}
	body := b[:len(b)-tagField] // values and flashes never reach into the tag
	*r = record{meta: meta{
		created:    int64(binary.BigEndian.Uint64(b[offCreated:])),
		touched:    int64(binary.BigEndian.Uint64(b[offTouched:])),
		persistent: b[offPersistent] == 0xc3,
	},
	}
	off, err := r.decodeValues(body, recordHeader)
	if err != nil {
		return err
	}
	if off, err = r.decodeFlashes(body, off); err != nil {
		return err
	}
	if off, err = r.decodeOptional(body, off, int(b[0]&0x0f)-fixedFields); err != nil {
		return err
	}
	if off != len(body) {
		return errCorrupt
	}
	return nil
}

// decodeValues checks the map at body[off:] and keeps its entries in r,
// returning the offset after it. A key stored twice (or, past smallMax, out
// of order) is refused as it is met.
func (r *record) decodeValues(body []byte, off int) (int, error) {
	n, m, err := containerLen(body[off:], 0x80, 0xde)
	if err != nil || m != containerHeaderLen(n) || n > maxKeys || minPairsBytes(n) > len(body)-off-m {
		return 0, errCorrupt
	}
	off += m
	start := off
	var seen [smallMax][]byte // the keys so far, while there are at most smallMax
	var last []byte
	for i := range n {
		k0, k1, ok := strBounds(body, off)
		if !ok || k0-off != strHeaderLen(k1-k0) {
			return 0, errCorrupt
		}
		m, err := skipValue(body[k1:], 1)
		if err != nil {
			return 0, err
		}
		key := body[k0:k1]
		if n > smallMax {
			if i > 0 && bytes.Compare(last, key) >= 0 {
				return 0, errCorrupt
			}
			last = key
		} else {
			for _, k := range seen[:i] {
				if bytes.Equal(k, key) {
					return 0, errCorrupt
				}
			}
			seen[i] = key
		}
		off = k1 + m
	}
	r.stored, r.nstored = body[start:off:off], uint16(n)
	return off, nil
}

// minPairsBytes returns the fewest bytes n pairs with distinct keys take
// (n ≤ maxKeys): a key header, the key and a value of at least one byte,
// with one empty key, 256 keys of one byte, then keys of two bytes. A count
// the bytes left cannot hold is refused before anything is sized from it.
func minPairsBytes(n int) int {
	size := 0
	for keyLen, distinct := 0, 1; n > 0; keyLen, distinct = keyLen+1, distinct*256 {
		k := min(n, distinct)
		size += k * (2 + keyLen)
		n -= k
	}
	return size
}

// decodeGuard reads the [checked, stamp] pair at body[off:] and returns the
// offset after it.
func (r *record) decodeGuard(body []byte, off int) (int, error) {
	g := body[off:]
	if len(g) < guardField || g[0] != 0x92 || g[1] != 0xd3 || g[10] != 0xc4 || g[11] != stampSize {
		return 0, errCorrupt
	}
	r.stampChecked = int64(binary.BigEndian.Uint64(g[2:]))
	r.stamp = [stampSize]byte(g[12:guardField])
	if !r.stamped() { // the encoder leaves the pair out instead
		return 0, errCorrupt
	}
	return off + guardField, nil
}

// decodeFlashes reads the array at body[off:] into r and returns the offset
// after it.
func (r *record) decodeFlashes(body []byte, off int) (int, error) {
	n, m, err := containerLen(body[off:], 0x90, 0xdc)
	if err != nil || m != containerHeaderLen(n) || n > maxFlashes || n > len(body)-off-m {
		return 0, errCorrupt // each flash takes at least one byte
	}
	off += m
	if n > 0 {
		r.flashes = make([][]byte, 0, n)
	}
	for range n {
		m, err := skipValue(body[off:], 1)
		if err != nil {
			return 0, err
		}
		r.flashes = append(r.flashes, body[off:off+m:off+m])
		off += m
	}
	return off, nil
}

// clone returns a copy that can be changed without changing r (raw values
// are immutable, so sharing them is safe).
func (r *record) clone() record {
	c := *r
	c.pairs = slices.Clone(r.pairs) // nil stays nil: the stored entries are shared
	c.flashes = slices.Clone(r.flashes)
	return c
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
