package ginsession

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

// Tests of the value codec: what Set encodes and Get decodes. Values are
// read from memcached, so the decoder is fuzzed too (run it with
// go test -run '^$' -fuzz FuzzDecodeValue -fuzztime 20s .).

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
			asValue := &record{}
			asValue.set("v", raw)
			if _, err := decodeRecord(asValue.encode(nil)); err != nil {
				problems = append(problems, "a record holding it as a value does not decode: "+err.Error())
			}
			if _, err := decodeRecord((&record{flashes: [][]byte{raw}}).encode(nil)); err != nil {
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
