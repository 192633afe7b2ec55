package ginsession

import (
	"fmt"
	"slices"
	"testing"
)

// TestRecordValuesAcrossTheSmallLimit checks set, delete and clear as a
// record grows past the keys it holds without a map, and that every state
// survives an encode/decode round trip.
func TestRecordValuesAcrossTheSmallLimit(t *testing.T) {
	want := map[string]string{}
	r := &record{created: 1, touched: 1}
	check := func(step string) {
		t.Helper()
		if r.count() != len(want) {
			t.Fatalf("%s: count %d, want %d", step, r.count(), len(want))
		}
		back, err := decodeRecord(r.encode(nil))
		if err != nil {
			t.Fatalf("%s: decode: %v", step, err)
		}
		for _, rec := range []*record{r, back} {
			for k, v := range want {
				if got, ok := rec.get(k); !ok || string(got) != v {
					t.Fatalf("%s: %q = %q, %v; want %q", step, k, got, ok, v)
				}
			}
			var keys []string
			for k := range rec.all() {
				keys = append(keys, k)
			}
			if len(keys) != len(want) {
				t.Fatalf("%s: all() yields %d keys, want %d", step, len(keys), len(want))
			}
		}
	}
	set := func(k, v string) {
		r.set(k, []byte(v))
		want[k] = v
	}
	for i := range 2*smallMax + 3 {
		set(fmt.Sprintf("k%02d", i), fmt.Sprintf("\xa1%c", 'a'+i))
		check(fmt.Sprintf("after %d sets", i+1))
	}
	set("k03", "\xc3") // overwrite once values live in a map
	check("overwrite")
	for _, k := range []string{"k00", "k05", "k18", "missing"} {
		r.del(k)
		delete(want, k)
		check("delete " + k)
	}
	r.clearValues()
	clear(want)
	check("clear")

	small := &record{}
	for i := range smallMax {
		small.set(fmt.Sprintf("s%d", i), []byte{byte(i)})
	}
	small.del("s0") // from the front of the array
	small.del("s7") // from its end
	small.set("s3", []byte{0xc0})
	var keys []string
	for k := range small.all() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"s1", "s2", "s3", "s4", "s5", "s6"}) {
		t.Fatalf("keys after deletes: %v", keys)
	}
	if v, _ := small.get("s3"); len(v) != 1 || v[0] != 0xc0 {
		t.Fatalf("s3 = %x after overwrite", v)
	}
}

// TestDuplicateKeysAreCorrupt: ginsession never stores a key twice, so a
// record that does was not written by it and is refused, with few or many
// keys alike.
func TestDuplicateKeysAreCorrupt(t *testing.T) {
	for _, n := range []int{2, smallMax + 2} {
		r := &record{}
		for i := range n - 1 {
			r.set(fmt.Sprintf("k%d", i), []byte{0x01})
		}
		b := r.encode(nil)
		// Rewrite the map header to n entries and append a copy of k0.
		body := b[recordHeader+1 : len(b)-1]
		out := appendContainerLen(append([]byte(nil), b[:recordHeader]...), n, 0x80, 0xde)
		out = append(out, body...)
		out = append(appendStr(out, "k0"), 0x02, 0x90)
		if _, err := decodeRecord(out); err == nil {
			t.Errorf("%d keys with one twice: decoded without error", n)
		}
	}
}
