package ginsession

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
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

// truncatedStr8Key returns header (a valid record header) followed by a
// one-entry values map whose str8 key claims 32 bytes while only 10 follow.
func truncatedStr8Key(header []byte) []byte {
	b := append([]byte(nil), header[:recordHeader]...)
	b = append(b, 0x81, 0xd9, 0x20)
	return append(b, "0123456789"...)
}

// decodeNoPanic is decodeRecord with a panic turned into an error.
func decodeNoPanic(b []byte) (r *record, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, err = nil, fmt.Errorf("decodeRecord panicked: %v", p)
		}
	}()
	return decodeRecord(b)
}

// TestTruncatedKeyIsCorrupt: a stored record whose map key claims more
// bytes than remain is refused as corrupt (never read past the end, never
// a panic), and a session holding it loads as a fresh one.
func TestTruncatedKeyIsCorrupt(t *testing.T) {
	hdr := (&record{created: 1, touched: 1}).encode(nil)
	b := truncatedStr8Key(hdr)
	if r, err := decodeNoPanic(b); err == nil || r != nil {
		t.Fatalf("decodeRecord(%x) = %v, %v; want errCorrupt", b, r, err)
	} else if !errors.Is(err, errCorrupt) {
		t.Errorf("decodeRecord(%x) error = %v, want errCorrupt", b, err)
	}

	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
		a.engine.GET("/visit", func(c *gin.Context) {
			s := Default(c)
			seen := fmt.Sprintf("new=%v keys=%v user=%q", s.IsNew(), s.Keys(), s.GetString("user_name"))
			s.Set("visits", 1)
			c.String(http.StatusOK, "%s", seen)
		})
		a.get("/login")
		old := a.cookie
		id, _, ok := a.m.cookies.decode(old)
		if !ok {
			t.Fatalf("login set no valid cookie (%q)", old)
		}
		key := a.m.key(id)
		item, err := a.store.Client.Get(key)
		if err != nil {
			t.Fatalf("get stored session: %v", err)
		}
		// Keep the live session's own header (a current created time), so
		// only the truncated key can make it unreadable.
		if err := a.store.Client.Set(&memcache.Item{Key: key, Value: truncatedStr8Key(item.Value)}); err != nil {
			t.Fatalf("store the corrupt record: %v", err)
		}

		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("loading the corrupt record panicked: %v", p)
				}
			}()
			r := a.get("/visit")
			if r.Code != http.StatusOK || r.Body.String() != `new=true keys=[] user=""` {
				t.Errorf("request over the corrupt record: %d %q; want a fresh, empty session", r.Code, r.Body.String())
			}
		}()
		if a.cookie == "" || a.cookie == old {
			t.Fatalf("the fresh session got no new cookie (jar %q)", a.cookie)
		}
		r := a.storedRecord()
		if r == nil || r.count() != 1 || r.value("visits") == nil {
			t.Errorf("the fresh session holds %+v, want only visits", r)
		}
	})
}
