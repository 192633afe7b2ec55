package ginsession

import (
	"bytes"
	"encoding/base64"
	"math"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for everything ginsession parses from outside: the cookie
// (any client), and stored records and values (anything that can write to
// memcached). Run one with, for example:
//
//	go test -run '^$' -fuzz FuzzCookieDecode -fuzztime 20s .

const (
	fuzzCookieName = "session_id"
	fuzzSecret     = "fuzz-secret-0123456789abcdef0123456789"
	fuzzOldSecret  = "fuzz-old-secret-0123456789abcdef012345"
)

// fuzzCookieCodecs returns the codec under test (current secret plus an old
// one) and one signing with the old secret only, to re-encode cookies that
// verified against it.
func fuzzCookieCodecs() (codec, oldOnly *cookieCodec) {
	return newCookieCodec(fuzzCookieName, fuzzSecret, []string{fuzzOldSecret}),
		newCookieCodec(fuzzCookieName, fuzzOldSecret, nil)
}

// fuzzID turns arbitrary bytes into a well-formed session ID.
func fuzzID(seed []byte) string {
	var raw [idBytes]byte
	copy(raw[:], seed)
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

func FuzzCookieDecode(f *testing.F) {
	codec, oldOnly := fuzzCookieCodecs()
	valid := codec.encode(newID())
	f.Add(valid, []byte{}, uint16(0), byte(1))
	f.Add(oldOnly.encode(newID()), []byte("seed"), uint16(43), byte(0x20))
	f.Add(codec.encode(fuzzID(nil)), bytes.Repeat([]byte{0xff}, 32), uint16(86), byte(0x80))
	f.Add("", []byte{1, 2, 3}, uint16(42), byte(0xff))
	f.Add(".", []byte{}, uint16(44), byte('.'^'A'))
	f.Add(strings.Repeat("A", cookieLen), []byte{}, uint16(1), byte(1))
	f.Add(strings.Repeat("A", idLen)+"."+strings.Repeat("A", tagLen), []byte{}, uint16(85), byte(2))
	f.Add(valid[:cookieLen-1], []byte{}, uint16(7), byte(3))
	f.Add(valid+"A", []byte{}, uint16(8), byte(4))
	f.Add(strings.Replace(valid, "-", "+", -1), []byte{}, uint16(9), byte(5))
	f.Add(valid[:idLen]+"="+valid[idLen+1:], []byte{}, uint16(10), byte(6))
	f.Add("\x00\xff\u00e9"+valid[3:], []byte{}, uint16(11), byte(7))
	f.Add(valid[:cookieLen-1]+"B", []byte{}, uint16(86), byte(8)) // non-canonical last char

	f.Fuzz(func(t *testing.T, value string, idSeed []byte, pos uint16, mask byte) {
		// 1. Arbitrary input: never panics; anything accepted is exactly
		// the canonical encoding of the ID it yields.
		id, current, ok := codec.decode(value)
		if ok {
			signer := codec
			if !current {
				signer = oldOnly
			}
			if again := signer.encode(id); again != value {
				t.Fatalf("decode(%q) accepted id %q, but it re-encodes to %q", value, id, again)
			}
		} else if id != "" || current {
			t.Fatalf("decode(%q) rejected but returned id %q current %v", value, id, current)
		}

		// 2. A valid cookie with one byte changed is rejected.
		good := codec.encode(fuzzID(idSeed))
		if gotID, cur, ok := codec.decode(good); !ok || !cur || gotID != fuzzID(idSeed) {
			t.Fatalf("decode(encode(id)) = %q, %v, %v", gotID, cur, ok)
		}
		if mask == 0 {
			mask = 1
		}
		b := []byte(good)
		b[int(pos)%len(b)] ^= mask
		if gotID, _, ok := codec.decode(string(b)); ok {
			t.Fatalf("cookie %q with byte %d flipped (^%#x) to %q was accepted as id %q",
				good, int(pos)%len(b), mask, b, gotID)
		}
	})
}

// TestCookieRejectsEverySingleByteChange checks the fuzz property
// exhaustively for a few cookies: every position, every other byte value.
func TestCookieRejectsEverySingleByteChange(t *testing.T) {
	codec, oldOnly := fuzzCookieCodecs()
	for _, good := range []string{codec.encode(newID()), codec.encode(fuzzID(nil)), oldOnly.encode(newID())} {
		if _, _, ok := codec.decode(good); !ok {
			t.Fatalf("valid cookie %q rejected", good)
		}
		b := []byte(good)
		for i := range b {
			orig := b[i]
			for v := 0; v < 256; v++ {
				if byte(v) == orig {
					continue
				}
				b[i] = byte(v)
				if _, _, ok := codec.decode(string(b)); ok {
					t.Fatalf("cookie %q with byte %d changed to %#x accepted", good, i, v)
				}
			}
			b[i] = orig
		}
	}
}

// fuzzRecordSeeds returns encoded records covering every shape the encoder
// produces, plus hand-made non-canonical but valid ones.
func fuzzRecordSeeds() [][]byte {
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
	recs := []*record{
		{created: 1_700_000_000, touched: 1_700_000_100, values: map[string][]byte{}},
		{created: -1, touched: math.MaxInt64, persistent: true, values: map[string][]byte{"": enc(nil)}},
		{created: 1, touched: 2, values: map[string][]byte{
			"user_name":                     enc("alice"),
			"n":                             enc(42),
			"f":                             enc(3.5),
			"b":                             enc([]byte{0, 1, 2}),
			"t":                             enc(time.Unix(1_700_000_000, 123)),
			"list":                          enc([]any{1, "two", []int{3}}),
			"map":                           enc(map[string]any{"a": map[string]any{"b": true}}),
			strings.Repeat("long key ", 10): enc(strings.Repeat("x", 300)),
		}, flashes: [][]byte{enc("saved"), enc(map[string]int{"n": 1})}},
		{created: 5, touched: 6, values: big, flashes: many},
	}
	var out [][]byte
	for _, r := range recs {
		out = append(out, r.encode(nil))
	}
	// Valid but not what encode writes: 16-bit container headers for small
	// counts, a str8 key.
	hdr := (&record{created: 1, touched: 1, values: map[string][]byte{}}).encode(nil)[:recordHeader]
	odd := append([]byte(nil), hdr...)
	odd = append(odd, 0xde, 0, 2, 0xd9, 1, 'a', 0x01, 0xa1, 'b', 0x02, 0xdc, 0, 1, 0xc0)
	out = append(out, odd)
	// Invalid: truncated, trailing byte, wrong version, hostile counts,
	// deep nesting, a key stored twice (in place and as a map).
	twice := append(bytes.Clone(hdr), 0x82, 0xd9, 1, 'a', 0x01, 0xa1, 'a', 0x02, 0x90)
	twiceMap := append(bytes.Clone(hdr), 0xde, 0, smallMax+1)
	for i := range smallMax + 1 {
		twiceMap = append(twiceMap, 0xa1, byte('a'+min(i, smallMax-1)), 0x01)
	}
	twiceMap = append(twiceMap, 0x90)
	valid := out[2]
	out = append(out,
		valid[:len(valid)-1],
		append(bytes.Clone(valid), 0),
		append([]byte{0x96, 2}, valid[2:]...),
		append(bytes.Clone(hdr), 0xdf, 0xff, 0xff, 0xff, 0xff),
		append(append(bytes.Clone(hdr), 0x81, 0xa1, 'k'), append(bytes.Repeat([]byte{0x91}, 100), 0xc0, 0x90)...),
		nil,
		[]byte{0x96},
		twice,
		twiceMap,
		// A str8 key claiming 32 bytes with only 10 left.
		append(append(bytes.Clone(hdr), 0x81, 0xd9, 0x20), "0123456789"...),
	)
	return out
}

// TestFuzzRecordSeeds keeps the record seeds meaningful: the first five
// are valid records, the rest are not.
func TestFuzzRecordSeeds(t *testing.T) {
	for i, seed := range fuzzRecordSeeds() {
		_, err := decodeRecord(seed)
		if valid := i < 5; valid != (err == nil) {
			t.Errorf("seed %d (%x): decodeRecord error = %v, want valid = %v", i, seed, err, valid)
		}
	}
}

func FuzzDecodeRecord(f *testing.F) {
	for _, seed := range fuzzRecordSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		r, err := decodeRecord(b)
		if !bytes.Equal(in, b) {
			t.Fatal("decodeRecord modified its input")
		}
		if err != nil {
			if r != nil {
				t.Fatalf("decodeRecord returned a record with error %v", err)
			}
			return
		}
		for k, v := range r.all() {
			if n, err := skipValue(v, 1); err != nil || n != len(v) {
				t.Fatalf("value of %q is not exactly one msgpack value (%d of %d bytes, %v)", k, n, len(v), err)
			}
		}
		enc := r.encode(nil)
		if len(enc) > len(b) {
			t.Fatalf("re-encoding grew the record from %d to %d bytes", len(b), len(enc))
		}
		r2, err := decodeRecord(enc)
		if err != nil {
			t.Fatalf("decodeRecord(encode(decodeRecord(b))) failed: %v\nb   = %x\nenc = %x", err, b, enc)
		}
		if msg := fuzzRecordDiff(r, r2); msg != "" {
			t.Fatalf("record changed across encode/decode: %s\nb   = %x\nenc = %x", msg, b, enc)
		}
		// The clone used by the CAS merge must be equal too.
		c := r.clone()
		if msg := fuzzRecordDiff(r, c); msg != "" {
			t.Fatalf("clone differs: %s", msg)
		}
		// Deleting and setting back every key gives the same record.
		for k, v := range r.all() {
			c.del(k)
			c.set(k, v)
		}
		if msg := fuzzRecordDiff(r, c); msg != "" {
			t.Fatalf("deleting and setting back every key changed the record: %s", msg)
		}
	})
}

// fuzzRecordDiff describes how a and b differ, or returns "".
func fuzzRecordDiff(a, b *record) string {
	switch {
	case a.created != b.created:
		return "created"
	case a.touched != b.touched:
		return "touched"
	case a.persistent != b.persistent:
		return "persistent"
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

// fuzzValueCase is a value and the dynamic type and value decodeValue must
// give back after valueCodec.encode.
type fuzzValueCase struct {
	in   any
	want any
}

type fuzzProfile struct {
	Name  string   `json:"name"`
	Age   int      `json:"age"`
	Tags  []string `json:"tags"`
	Skip  string   `json:"-"`
	Empty string   `json:"empty,omitempty"`
}

func fuzzValueCases() []fuzzValueCase {
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	return []fuzzValueCase{
		{nil, nil},
		{true, true},
		{false, false},
		{0, int64(0)},
		{42, int64(42)},
		{-1, int64(-1)},
		{int8(-100), int64(-100)},
		{uint16(60000), int64(60000)},
		{int64(math.MinInt64), int64(math.MinInt64)},
		{int64(math.MaxInt64), int64(math.MaxInt64)},
		{uint64(math.MaxUint64), uint64(math.MaxUint64)},
		{uint64(1) << 63, uint64(1) << 63},
		{time.Duration(1500) * time.Millisecond, int64(1_500_000_000)},
		{1.5, 1.5},
		{float32(0.25), 0.25},
		{math.Inf(-1), math.Inf(-1)},
		{"", ""},
		{"héllo", "héllo"},
		{strings.Repeat("s", 70000), strings.Repeat("s", 70000)},
		{[]byte{}, []byte{}},
		{[]byte{0, 255}, []byte{0, 255}},
		{ts, ts.Local()},
		{time.Unix(0, 0), time.Unix(0, 0)},
		{time.Unix(-1, 5), time.Unix(-1, 5)},
		{[]int{1, 2}, []any{int64(1), int64(2)}},
		{[]string{}, []any{}},
		{[]any{nil, "x", 2.5}, []any{nil, "x", 2.5}},
		{map[string]int{"a": 1}, map[string]any{"a": int64(1)}},
		{map[string]any{"m": map[string]bool{"t": true}}, map[string]any{"m": map[string]any{"t": true}}},
		{fuzzProfile{Name: "alice", Age: 30, Tags: []string{"admin"}, Skip: "x"},
			map[string]any{"name": "alice", "age": int64(30), "tags": []any{"admin"}}},
		{&fuzzProfile{Name: "bob"}, map[string]any{"name": "bob", "age": int64(0), "tags": nil}},
	}
}

func FuzzDecodeValue(f *testing.F) {
	vc := newValueCodec()
	for _, tc := range fuzzValueCases() {
		raw, err := vc.encode(tc.in)
		if err != nil {
			f.Fatalf("encode(%T): %v", tc.in, err)
		}
		if len(raw) > 1024 { // big seeds slow every mutation down
			raw = raw[:5]
		}
		f.Add(raw)
	}
	for _, raw := range [][]byte{
		{}, {0xc1}, {0xc0, 0xc0}, {0x92, 0x01}, {0xdd, 0xff, 0xff, 0xff, 0xff},
		{0x81, 0x01, 0x02},                                      // integer map key
		{0xd4, 0x05, 0x00},                                      // unknown extension
		{0xd6, 0xff, 0, 0, 0, 1},                                // timestamp 32
		{0xd7, 0xff, 0xff, 0xff, 0xff, 0xfc, 0, 0, 0, 0},        // timestamp 64, nanoseconds > 1e9
		{0xc7, 12, 0xff, 0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0, 0, 0}, // timestamp 96, minimum seconds
		{0xc7, 3, 0xff, 0, 0, 0},                                // timestamp of a bad size
		{0xca, 0x7f, 0xc0, 0, 0},                                // float32 NaN
		bytes.Repeat([]byte{0x91}, maxDepth+2),
		append(bytes.Repeat([]byte{0x91}, maxDepth), 0xc0),
	} {
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		v, err := decodeValue(b)
		if !bytes.Equal(in, b) {
			t.Fatal("decodeValue modified its input")
		}
		// The unboxed paths of GetString and GetInt64 agree with decodeValue.
		if str, n, ok := strAtStart(b); ok && n == len(b) && (err != nil || v != any(str)) {
			t.Fatalf("strAtStart(%x) = %q but decodeValue gives %#v, %v", b, str, v, err)
		}
		if i, u, big, n, ok := intAt(b); ok && n == len(b) {
			want := any(i)
			if big {
				want = u
			}
			if err != nil || v != want {
				t.Fatalf("intAt(%x) = %#v but decodeValue gives %#v, %v", b, want, v, err)
			}
		}
		if err != nil {
			return
		}
		// Exactly one value: skipValue agrees on its length, and no
		// trailing byte is ever accepted.
		if n, err := skipValue(b, 0); err != nil || n != len(b) {
			t.Fatalf("decodeValue accepted %x but skipValue says %d bytes, %v", b, n, err)
		}
		for _, extra := range []byte{0x00, 0xc0, 0x91} {
			if _, err := decodeValue(append(bytes.Clone(b), extra)); err == nil {
				t.Fatalf("decodeValue accepted %x followed by %#x", b, extra)
			}
		}
		// msgpack is prefix-free: a proper prefix of a value is never one.
		if len(b) > 0 {
			if _, err := decodeValue(b[:len(b)-1]); err == nil {
				t.Fatalf("decodeValue accepted both %x and its prefix", b)
			}
		}
		// Only the promised dynamic types come out.
		if bad := fuzzBadType(v); bad != "" {
			t.Fatalf("decodeValue(%x) produced a %s", b, bad)
		}
		// What the encoder makes of the decoded value decodes to the same.
		raw, err := vc.encode(v)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", v, err)
		}
		v2, err := decodeValue(raw)
		if err != nil {
			t.Fatalf("decodeValue(encode(%#v)) = %v (raw %x)", v, err, raw)
		}
		if !fuzzValueEqual(v, v2) {
			t.Fatalf("value changed across encode/decode:\n%#v\n%#v", v, v2)
		}
	})
}

// TestDecodeValueTypes checks the dynamic types of encoded seeds.
func TestDecodeValueTypes(t *testing.T) {
	vc := newValueCodec()
	for _, tc := range fuzzValueCases() {
		raw, err := vc.encode(tc.in)
		if err != nil {
			t.Fatalf("encode(%T): %v", tc.in, err)
		}
		got, err := decodeValue(raw)
		if err != nil {
			t.Fatalf("decodeValue(encode(%T %.40v)) = %v (raw %x)", tc.in, tc.in, err, raw)
		}
		if !fuzzValueEqual(got, tc.want) {
			t.Errorf("decodeValue(encode(%T %.40v)) = %T %.60v, want %T %.60v", tc.in, tc.in, got, got, tc.want, tc.want)
		}
	}
}

// TestEncodableValuesStayReadable checks that whatever Set accepts (the
// msgpack encoder encodes it) can be read back: stored in a record, the
// record still decodes, and Get's decoder accepts the value. A value the
// encoder takes but decodeRecord refuses makes the next request discard the
// whole session.
func TestEncodableValuesStayReadable(t *testing.T) {
	vc := newValueCodec()
	for depth := 1; depth <= 100; depth++ {
		for _, kind := range []string{"array", "map"} {
			var v any = "leaf"
			for range depth {
				if kind == "array" {
					v = []any{v}
				} else {
					v = map[string]any{"k": v}
				}
			}
			raw, err := vc.encode(v)
			if err != nil {
				continue // refused at Set time: fine
			}
			var problems []string
			if _, err := decodeRecord((&record{values: map[string][]byte{"v": raw}}).encode(nil)); err != nil {
				problems = append(problems, "a record holding it as a value does not decode: "+err.Error())
			}
			if _, err := decodeRecord((&record{values: map[string][]byte{}, flashes: [][]byte{raw}}).encode(nil)); err != nil {
				problems = append(problems, "a record holding it as a flash does not decode: "+err.Error())
			}
			if _, err := decodeValue(raw); err != nil {
				problems = append(problems, "decodeValue refuses it: "+err.Error())
			}
			if len(problems) > 0 {
				t.Fatalf("%d nested %ss encode (%d bytes) but %s",
					depth, kind, len(raw), strings.Join(problems, "; "))
			}
		}
	}
}

// fuzzBadType names the first value in v of a type decodeValue must not
// produce, or returns "".
func fuzzBadType(v any) string {
	switch v := v.(type) {
	case nil, bool, int64, uint64, float64, string, []byte, time.Time:
		if u, ok := v.(uint64); ok && u <= math.MaxInt64 {
			return "uint64 that fits in int64"
		}
		return ""
	case []any:
		for _, e := range v {
			if bad := fuzzBadType(e); bad != "" {
				return bad
			}
		}
		return ""
	case map[string]any:
		for _, e := range v {
			if bad := fuzzBadType(e); bad != "" {
				return bad
			}
		}
		return ""
	}
	return "value of an unpromised type"
}

// fuzzValueEqual compares decoded values: floats by bits (NaN equals
// itself), times as instants, nil and empty slices apart.
func fuzzValueEqual(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case float64:
		bf, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(bf)
	case time.Time:
		bt, ok := b.(time.Time)
		return ok && a.Equal(bt)
	case []byte:
		bb, ok := b.([]byte)
		return ok && bytes.Equal(a, bb)
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) || (a == nil) != (bs == nil) {
			return false
		}
		for i := range a {
			if !fuzzValueEqual(a[i], bs[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, v := range a {
			w, ok := bm[k]
			if !ok || !fuzzValueEqual(v, w) {
				return false
			}
		}
		return true
	}
	return a == b
}
