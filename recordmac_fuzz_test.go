package ginsession

// The fuzzer of the verifying record decoder (recordmac.go) and its seeds,
// and the cost of the MAC on a load.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"strings"
	"testing"
	"time"
)

// fuzzSealers returns the sealer under test (current secret plus an old
// one) and one sealing with the old secret only.
func fuzzSealers() (rs, oldOnly *recordSealer) {
	return newRecordSealer(fuzzSecret, []string{fuzzOldSecret}), newRecordSealer(fuzzOldSecret, nil)
}

// fuzzValidRecords returns records covering every shape the encoder
// produces: empty, small, past smallMax, shrunk back below it, many flashes.
func fuzzValidRecords() []*record {
	vc := newValueCodec()
	enc := func(v any) []byte {
		raw, err := vc.encode(v)
		if err != nil {
			panic(err)
		}
		return raw
	}
	big := map[string][]byte{}
	for i := range 20 {
		big[strings.Repeat("k", i+1)] = enc(i * 1000)
	}
	var many [][]byte
	for i := range 17 {
		many = append(many, enc(i))
	}
	shrunk := recordOf(7, 8, false, big)
	for i := range 15 {
		shrunk.del(strings.Repeat("k", i+1))
	}
	unsorted := &record{meta: meta{created: 9, touched: 9}} // small keys keep insertion order
	for _, k := range []string{"z", "a", "m"} {
		unsorted.set(k, enc(k))
	}
	stamped := recordOf(3, 4, true, map[string][]byte{"user_name": enc("alice")}, enc("hi"))
	stamped.stamp, stamped.stampChecked = [stampSize]byte(stampHash("s1")), 1_700_000_050
	return []*record{
		recordOf(1_700_000_000, 1_700_000_100, false, nil),
		recordOf(-1, math.MaxInt64, true, map[string][]byte{"": enc(nil)}),
		recordOf(1, 2, false, map[string][]byte{
			"user_name":                     enc("alice"),
			"n":                             enc(42),
			"f":                             enc(3.5),
			"b":                             enc([]byte{0, 1, 2}),
			"t":                             enc(time.Unix(1_700_000_000, 123)),
			"list":                          enc([]any{1, "two", []int{3}}),
			"map":                           enc(map[string]any{"a": map[string]any{"b": true}}),
			strings.Repeat("long key ", 10): enc(strings.Repeat("x", 300)),
		}, enc("saved"), enc(map[string]int{"n": 1})),
		recordOf(5, 6, false, big, many...),
		shrunk,
		unsorted,
		stamped,
	}
}

// fuzzRecordSeeds returns sealed records: the valid ones first
// (fuzzValidRecords), then invalid ones, small versions of hostile records
// among them.
func fuzzRecordSeeds() (seeds [][]byte, valid int) {
	rs, _ := fuzzSealers()
	for _, r := range fuzzValidRecords() {
		seeds = append(seeds, rs.seal(fuzzRecordKey, r.encode(nil)))
	}
	seeds = append(seeds, // as a later version writes them
		withOptional(rs, 0xc0, 0x07),
		withOptional(rs, append(guardBytes(), 0x81, 0xa1, 'a', 0x01)...),
		withOptional(rs, append(append(guardBytes(), bytes.Repeat([]byte{0xc0}, 6)...), 0x01)...),
	)
	valid = len(seeds)
	seeds = append(seeds,
		withOptional(rs, 0xc0),                               // a nil last field
		withOptional(rs, append(guardBytes(), 0xa5, 'a')...), // a later field cut short
		withOptional(rs, bytes.Repeat([]byte{0x01}, 9)...),   // past maxFields
	)
	hdr := (&record{meta: meta{created: 1, touched: 1}}).encode(nil)[:recordHeader]
	sealed := func(body ...byte) []byte {
		b := append(append(bytes.Clone(hdr), body...), 0xc4, tagSize)
		return rs.seal(fuzzRecordKey, append(b, make([]byte, tagSize)...))
	}
	// More than smallMax keys out of order.
	var unsorted []byte
	for i := range smallMax + 1 {
		unsorted = append(unsorted, 0xa1, byte('z'-i), 0x01)
	}
	// A key stored twice: in the small array, and as 600 copies (a small
	// version of 500k duplicate keys).
	dupSmall := []byte{0xd9, 1, 'a', 0x01, 0xa1, 'a', 0x02}
	dupMany := bytes.Repeat([]byte{0xa1, 'a', 0x01}, 600)
	good := seeds[2]
	seeds = append(seeds,
		// Valid msgpack but not canonical: a 16-bit map header, a 16-bit
		// array header, a str8 key, each for a count that fits a shorter one.
		sealed(0xde, 0, 1, 0xa1, 'a', 0x01, 0x90),
		sealed(0x80, 0xdc, 0, 1, 0xc0),
		sealed(0x81, 0xd9, 1, 'a', 0x01, 0x90),
		sealed(append(append([]byte{0x80 | (smallMax + 1)}, unsorted...), 0x90)...),
		sealed(append(append([]byte{0x82}, dupSmall...), 0x90)...),
		sealed(append(append([]byte{0xde, 0x02, 0x58}, dupMany...), 0x90)...),
		// Over the caps: maxFlashes+1 empty flashes, maxKeys+1 claimed.
		sealed(append(binary.BigEndian.AppendUint16([]byte{0x80, 0xdc}, maxFlashes+1), bytes.Repeat([]byte{0x90}, maxFlashes+1)...)...),
		sealed(append(binary.BigEndian.AppendUint16([]byte{0xde}, maxKeys+1), 0x90)...),
		// Counts the bytes cannot hold (900k flashes, 2^32-1 keys).
		sealed(0x80, 0xdd, 0x00, 0x0d, 0xbb, 0xa0, 0xc0),
		sealed(0xdf, 0xff, 0xff, 0xff, 0xff, 0x90),
		// Deep nesting, a str8 key claiming 32 bytes with only 10 left.
		sealed(append(append([]byte{0x81, 0xa1, 'k'}, bytes.Repeat([]byte{0x91}, 100)...), 0xc0, 0x90)...),
		sealed(append([]byte{0x81, 0xd9, 0x20}, "0123456789"...)...),
		// A key header claiming one byte more than the record has left.
		sealed(0x81, 0xa3, 'k', 'e'),
		// Truncated, a trailing byte, the previous version, no tag field.
		good[:len(good)-1],
		append(bytes.Clone(good), 0),
		append([]byte{0x96, 1}, good[2:len(good)-tagField]...),
		append(bytes.Clone(hdr), 0x80, 0x90),
		nil,
		[]byte{0x97},
	)
	return seeds, valid
}

// withOptional returns a sealed record with the given optional fields
// after its flashes (the array's length counts one field per element: a
// single msgpack value each).
func withOptional(rs *recordSealer, optional ...byte) []byte {
	plain := recordOf(1_700_000_000, 1_700_000_000, false, map[string][]byte{"user_name": {0xa3, 'b', 'o', 'b'}})
	enc := plain.encode(nil)
	body := bytes.Clone(enc[:len(enc)-tagField])
	n := 0
	for off := 0; off < len(optional); n++ {
		m, err := skipValue(optional[off:], 1)
		if err != nil {
			m = len(optional) - off // a cut value: count it, the decoder refuses it
		}
		off += m
	}
	body[0] = 0x90 | byte(fixedFields+n)
	if fixedFields+n > 15 {
		body[0] = 0x9f
	}
	b := append(append(body, optional...), 0xc4, tagSize)
	return rs.seal(fuzzRecordKey, append(b, make([]byte, tagSize)...))
}

// guardBytes returns an encoded [checked, stamp] field.
func guardBytes() []byte {
	r := record{meta: meta{stampChecked: 1_700_000_050, stamp: [stampSize]byte(stampHash("s1"))}}
	return r.encodeGuard(nil)
}

// TestFuzzRecordSeeds keeps the record seeds meaningful: the valid ones
// open, the rest do not, and a valid one verifies only for its own key.
func TestFuzzRecordSeeds(t *testing.T) {
	rs, _ := fuzzSealers()
	seeds, valid := fuzzRecordSeeds()
	for i, seed := range seeds {
		_, err := openRecord(rs, fuzzRecordKey, seed)
		if (i < valid) != (err == nil) {
			t.Errorf("seed %d (%x): open error = %v, want valid = %v", i, seed, err, i < valid)
		}
		if i < valid {
			if _, err := openRecord(rs, fuzzRecordKey+"x", seed); !errors.Is(err, errForgedRecord) {
				t.Errorf("seed %d opened under another key: %v", i, err)
			}
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	seeds, _ := fuzzRecordSeeds()
	for _, seed := range seeds {
		f.Add(seed)
	}
	for _, sf := range storedFormats { // records as earlier versions wrote them
		f.Add(readStoredFormat(f, sf.file))
	}
	rs, oldOnly := fuzzSealers()
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		// 1. The parser (no tag check) never panics, never changes its
		// input, and accepts only canonical records.
		r, err := decodeRecord(b)
		if !bytes.Equal(in, b) {
			t.Fatal("decodeRecord modified its input")
		}
		if err != nil && r != nil {
			t.Fatalf("decodeRecord returned a record with error %v", err)
		}
		if err == nil {
			fuzzCheckRecord(t, r, b)
		}

		// 2. The verifying decoder on the bytes as given: anything it
		// accepts was sealed by one of its secrets and is exactly what
		// encoding and sealing the record gives.
		if got, err := openRecord(rs, fuzzRecordKey, b); err == nil {
			sealer := rs
			if got.oldSeal {
				sealer = oldOnly
			}
			if again := sealer.seal(fuzzRecordKey, got.encode(nil)); !laterFields(b) && !bytes.Equal(again, b) {
				t.Fatalf("open accepted %x, which re-encodes to %x", b, again)
			}
		} else if got != nil {
			t.Fatalf("open returned a record with error %v", err)
		}
		if len(b) < tagSize {
			return
		}

		// 3. The same bytes sealed for the key: they open exactly when they
		// parse, re-encode to the same bytes, and a change of key or of any
		// byte is refused.
		sealed := rs.seal(fuzzRecordKey, bytes.Clone(b))
		got, errOpen := openRecord(rs, fuzzRecordKey, sealed)
		if (errOpen == nil) != (err == nil) {
			t.Fatalf("sealed %x: open error %v, but decodeRecord error %v", sealed, errOpen, err)
		}
		if errOpen != nil {
			return
		}
		if got.oldSeal {
			t.Fatal("a record sealed with the current secret opened as old-sealed")
		}
		if again := rs.seal(fuzzRecordKey, got.encode(nil)); !laterFields(b) && !bytes.Equal(again, sealed) {
			t.Fatalf("verified record %x re-encodes to %x", sealed, again)
		}
		if _, err := openRecord(rs, fuzzRecordKey+"x", sealed); err == nil {
			t.Fatal("a sealed record opened under another key")
		}
		flipped := bytes.Clone(sealed)
		flipped[int(crc32.ChecksumIEEE(b))%len(flipped)] ^= 1 + byte(len(b))%255
		if _, err := openRecord(rs, fuzzRecordKey, flipped); err == nil {
			t.Fatalf("sealed record %x opened with a byte changed: %x", sealed, flipped)
		}
		old := oldOnly.seal(fuzzRecordKey, bytes.Clone(b))
		if got, err := openRecord(rs, fuzzRecordKey, old); err != nil || !got.oldSeal {
			t.Fatalf("a record sealed with the old secret: open = %v, oldSeal %v", err, got != nil && got.oldSeal)
		}
	})
}

// fuzzCheckRecord checks a record decodeRecord accepted from b.
// laterFields reports whether b, a record, has optional fields past those
// this version knows (a later version wrote it).
func laterFields(b []byte) bool {
	return len(b) > 0 && b[0]&0xf0 == 0x90 && int(b[0]&0x0f) > fixedFields+len(optionalFields)
}

func fuzzCheckRecord(t *testing.T, r *record, b []byte) {
	t.Helper()
	for k, v := range r.all() {
		if n, err := skipValue(v, 1); err != nil || n != len(v) {
			t.Fatalf("value of %q is not exactly one msgpack value (%d of %d bytes, %v)", k, n, len(v), err)
		}
	}
	if err := r.overCaps(); err != nil {
		t.Fatalf("decoded a record over the caps: %v", err)
	}
	enc := r.encode(nil)
	if laterFields(b) {
		// Fields of a later version are read as absent, and dropped when
		// the record is written back: what is written reads as r.
		back, err := decodeRecord(enc)
		if err != nil || fuzzRecordDiff(r, back) != "" || laterFields(enc) {
			t.Fatalf("a record with later fields re-encodes to %x, which reads differently (%v)", enc, err)
		}
		return
	}
	if signed := len(b) - tagSize; len(enc) != len(b) || !bytes.Equal(enc[:signed], b[:signed]) {
		t.Fatalf("decodeRecord accepted a record that re-encodes differently:\nb   = %x\nenc = %x", b, enc)
	}
	// Values a request changed are encoded from their pairs: taken out of
	// the stored bytes unchanged, they must encode to the same record.
	owned := r.clone()
	owned.own()
	if got := owned.encode(nil); !bytes.Equal(got, enc) {
		t.Fatalf("the values as pairs encode differently:\nstored = %x\npairs  = %x", enc, got)
	}
	// The clone used by the CAS merge must be equal too.
	c := r.clone()
	if msg := fuzzRecordDiff(r, &c); msg != "" {
		t.Fatalf("clone differs: %s", msg)
	}
	// Deleting and setting back every key gives the same record.
	for k, v := range r.all() {
		c.del(k)
		c.set(k, v)
	}
	if msg := fuzzRecordDiff(r, &c); msg != "" {
		t.Fatalf("deleting and setting back every key changed the record: %s", msg)
	}
}

// fuzzRecordDiff describes how a and b differ, or returns "".
func fuzzRecordDiff(a, b *record) string {
	switch {
	case a.meta != b.meta:
		return fmt.Sprintf("metadata %+v, %+v", a.meta, b.meta)
	case a.oldSeal != b.oldSeal:
		return "oldSeal"
	case a.count() != b.count():
		return "number of values"
	case len(a.flashes) != len(b.flashes):
		return "number of flashes"
	}
	for k, v := range a.all() {
		if w, ok := b.get(k); !ok || !bytes.Equal(v, w) {
			return "value of " + k
		}
	}
	for i := range a.flashes {
		if !bytes.Equal(a.flashes[i], b.flashes[i]) {
			return "a flash"
		}
	}
	return ""
}

// BenchmarkRecordOpen measures what the record MAC adds to a load: opening
// (verify, then decode) a typical record against decoding it alone.
func BenchmarkRecordOpen(b *testing.B) {
	rs := newRecordSealer(testSecret, nil)
	r := &record{meta: meta{created: 1_900_000_000, touched: 1_900_000_000}}
	r.set("user_name", []byte("\xa5alice"))
	r.set("n", []byte{0x2a})
	const key = "ginsession:0123456789abcdef0123456789abcdef0123456789a"
	sealed := rs.seal(key, r.encode(nil))
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := openRecord(rs, key, sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeRecord(sealed); err != nil {
				b.Fatal(err)
			}
		}
	})
}
