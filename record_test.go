package ginsession

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
)

// TestRecordValuesAcrossTheSmallLimit checks set, delete and clear as a
// record grows past the keys it holds without a map, and that every state
// survives an encode/decode round trip.
func TestRecordValuesAcrossTheSmallLimit(t *testing.T) {
	want := map[string]string{}
	r := &record{meta: meta{created: 1, touched: 1}}
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
	small.del("s0")                           // from the front of the array
	small.del(fmt.Sprintf("s%d", smallMax-1)) // from its end
	small.set("s1", []byte{0xc0})
	var keys, wantKeys []string
	for k := range small.all() {
		keys = append(keys, k)
	}
	for i := 1; i < smallMax-1; i++ {
		wantKeys = append(wantKeys, fmt.Sprintf("s%d", i))
	}
	slices.Sort(keys)
	if !slices.Equal(keys, wantKeys) {
		t.Fatalf("keys after deletes: %v, want %v", keys, wantKeys)
	}
	if v, _ := small.get("s1"); len(v) != 1 || v[0] != 0xc0 {
		t.Fatalf("s1 = %x after overwrite", v)
	}
}

// recordBytes returns a record with a valid header (created and touched 1)
// around body (its values map and flashes array) and a zero tag.
func recordBytes(body ...byte) []byte {
	b := (&record{meta: meta{created: 1, touched: 1}}).encode(nil)[:recordHeader]
	b = append(append(b, body...), 0xc4, tagSize)
	return append(b, make([]byte, tagSize)...)
}

// mapOf returns a values map of keys, each holding nil.
func mapOf(keys ...string) []byte {
	b := appendContainerLen(nil, len(keys), 0x80, 0xde)
	for _, k := range keys {
		b = append(appendStr(b, k), 0xc0)
	}
	return b
}

// TestDuplicateKeysAreCorrupt: ginsession never stores a key twice, so a
// record that does was not written by it and is refused, with few or many
// keys alike (many keys are stored sorted: an equal neighbour is refused
// like an out-of-order one).
func TestDuplicateKeysAreCorrupt(t *testing.T) {
	for _, n := range []int{2, smallMax + 2} {
		keys := []string{"k00", "k00"}
		for i := 1; len(keys) < n; i++ {
			keys = append(keys, fmt.Sprintf("k%02d", i))
		}
		if _, err := decodeRecord(recordBytes(append(mapOf(keys[1:]...), 0x90)...)); err != nil {
			t.Fatalf("%d distinct keys: %v", n-1, err)
		}
		if _, err := decodeRecord(recordBytes(append(mapOf(keys...), 0x90)...)); !errors.Is(err, errCorrupt) {
			t.Errorf("%d keys with one twice: decodeRecord error = %v, want errCorrupt", n, err)
		}
		slices.Reverse(keys)
		if _, err := decodeRecord(recordBytes(append(mapOf(keys[:n-1]...), 0x90)...)); (err == nil) != (n-1 <= smallMax) {
			t.Errorf("%d keys in descending order: decodeRecord error = %v", n-1, err)
		}
	}
}

// truncatedStr8Key returns a record with header's header and a one-entry
// values map whose str8 key claims 32 bytes while only 10 (and then the
// flashes and the tag) follow.
func truncatedStr8Key(header []byte) []byte {
	b := append([]byte(nil), header[:recordHeader]...)
	b = append(b, 0x81, 0xd9, 0x20)
	b = append(append(b, "0123456789"...), 0x90, 0xc4, tagSize)
	return append(b, make([]byte, tagSize)...)
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
	hdr := (&record{meta: meta{created: 1, touched: 1}}).encode(nil)
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
		// Keep the live session's own header (a current created time) and
		// seal it, so only the truncated key can make it unreadable.
		corrupt := a.m.store.records.seal(key, truncatedStr8Key(item.Value))
		if err := a.store.Client.Set(&memcache.Item{Key: key, Value: corrupt}); err != nil {
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

// loadAllocSlack is what a load may allocate beyond ten times the record's
// size: the record itself (128 bytes) and, for records at the caps, the pair
// and flash slices (48 B per key, 24 B per flash). A record needs at least
// ~4 bytes per key past the first 257 keys and 1 byte per flash, so a load
// stays within 10 × size + 64 KiB everywhere.
const loadAllocSlack = 64 << 10

// bytesAllocated returns the fewest bytes fn allocated over many runs (the
// fewest, so that other goroutines' allocations and pools emptied by the
// collector do not count). Twenty runs, because under -race sync.Pool drops
// one Put in four: with five, all five runs missed the pooled MAC state about
// once in a thousand.
func bytesAllocated(fn func()) uint64 {
	best := uint64(math.MaxUint64)
	var before, after runtime.MemStats
	for range 20 {
		runtime.GC()
		fn() // refill the pools the collection emptied
		runtime.ReadMemStats(&before)
		fn()
		runtime.ReadMemStats(&after)
		best = min(best, after.TotalAlloc-before.TotalAlloc)
	}
	return best
}

// distinctKeys returns the n shortest distinct keys, sorted: the smallest
// record that holds n keys.
func distinctKeys(n int) []string {
	keys := []string{""}
	for i := 0; len(keys) < n && i < 256; i++ {
		keys = append(keys, string([]byte{byte(i)}))
	}
	for i := 0; len(keys) < n; i++ {
		keys = append(keys, string([]byte{byte(i >> 8), byte(i)}))
	}
	slices.Sort(keys)
	return keys
}

// flashesOf returns a flashes array of n nil flashes.
func flashesOf(n int) []byte {
	return append(appendContainerLen(nil, n, 0x90, 0xdc), bytes.Repeat([]byte{0xc0}, n)...)
}

// A load allocates in proportion to the record: hostile counts are refused
// before anything is sized from them, and what is at the caps loads within
// ten times its size plus loadAllocSlack. The records are sealed, as if by
// the application itself (a bug, or a stolen secret), so they reach the
// decoder.
func TestLoadAllocatesInProportionToTheRecord(t *testing.T) {
	const key = "ginsession:alloc"
	rs := newRecordSealer(testSecret, nil)
	typical := recordOf(1, 1, false, map[string][]byte{"user_name": []byte("\xa5alice"), "visits": {0x2a}})
	flashes900k := binary.BigEndian.AppendUint32([]byte{0x80, 0xdd}, 900_000)
	flashes900k = append(flashes900k, bytes.Repeat([]byte{0x90}, 900_000)...)
	dupKeys := binary.BigEndian.AppendUint32([]byte{0xdf}, 500_000)
	dupKeys = append(append(dupKeys, bytes.Repeat([]byte{0xa1, 'a', 0x01}, 500_000)...), 0x90)
	empty, long := make([]string, maxKeys), slices.Repeat([]string{"long key"}, maxKeys)
	const proportional, recordOnly = 0, 1 << 10 // limits: 10 × size + slack, or the record alone
	for _, tc := range []struct {
		name  string
		b     []byte
		valid bool
		limit uint64
	}{
		{"typical", typical.encode(nil), true, proportional},
		{"900 KB of empty flashes", recordBytes(flashes900k...), false, recordOnly},
		{"500k duplicate keys", recordBytes(dupKeys...), false, recordOnly},
		{"maxKeys keys", recordBytes(append(mapOf(distinctKeys(maxKeys)...), 0x90)...), true, proportional},
		{"maxKeys+1 keys", recordBytes(append(mapOf(distinctKeys(maxKeys+1)...), 0x90)...), false, recordOnly},
		{"maxKeys keys claimed, 1 present", recordBytes(append(append([]byte{0xde, maxKeys >> 8, 0}, mapOf("k")[1:]...), 0x90)...), false, recordOnly},
		{"maxKeys empty keys (too few bytes for distinct keys)", recordBytes(append(mapOf(empty...), 0x90)...), false, recordOnly},
		{"maxKeys copies of a long key", recordBytes(append(mapOf(long...), 0x90)...), false, proportional},
		{"maxFlashes flashes", recordBytes(append([]byte{0x80}, flashesOf(maxFlashes)...)...), true, proportional},
		{"maxFlashes+1 flashes", recordBytes(append([]byte{0x80}, flashesOf(maxFlashes+1)...)...), false, recordOnly},
		{"maxFlashes flashes claimed, 1 present", recordBytes(0x80, 0xdc, maxFlashes>>8, 0, 0xc0), false, recordOnly},
		{"maxKeys keys and maxFlashes flashes", recordBytes(append(mapOf(distinctKeys(maxKeys)...), flashesOf(maxFlashes)...)...), true, proportional},
	} {
		b := rs.seal(key, tc.b)
		var err error
		got := bytesAllocated(func() {
			var r *record
			if r, err = openRecord(rs, key, b); err == nil {
				r.get("a key it may not hold") // a first read of many keys sorts them out
			}
		})
		if (err == nil) != tc.valid {
			t.Errorf("%s: open error = %v, want valid = %v", tc.name, err, tc.valid)
		}
		limit := tc.limit
		if limit == proportional {
			limit = 10*uint64(len(b)) + loadAllocSlack
		}
		if got > limit {
			t.Errorf("%s: loading %d bytes allocated %d bytes (%.1fx), more than %d", tc.name, len(b), got, float64(got)/float64(len(b)), limit)
		}
		t.Logf("%s: %d bytes, %d allocated", tc.name, len(b), got)
	}
}

// Loading a typical session allocates nothing: it is decoded into the
// record inside the Session, its pairs alias the stored bytes and the MAC
// state is pooled.
func TestTypicalLoadAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("-race: sync.Pool drops pooled MAC states at random")
	}
	const key = "ginsession:alloc"
	rs := newRecordSealer(testSecret, []string{"an old secret, tried only when the current one fails"})
	values := map[string][]byte{"user_name": []byte("\xa5alice"), "visits": {0x2a}}
	for len(values) < smallMax {
		values[fmt.Sprintf("k%d", len(values))] = []byte{0xc0}
	}
	b := rs.seal(key, recordOf(1, 1, false, values).encode(nil))
	var r record
	if allocs := testing.AllocsPerRun(100, func() {
		if err := rs.open(&r, key, b); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("opening a record of %d keys: %v allocations, want 0", smallMax, allocs)
	}
}

// Save refuses a session over the caps with ErrTooLarge (what it stored
// could not be loaded again); exactly at the caps it is stored and loads.
func TestSaveRefusesSessionsOverTheCaps(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		var saveErr error
		a.engine.GET("/fill", func(c *gin.Context) {
			s := Default(c)
			keys, _ := strconv.Atoi(c.Query("keys"))
			for i := range keys {
				s.Set(fmt.Sprintf("k%04d", i), nil)
			}
			flashes, _ := strconv.Atoi(c.Query("flashes"))
			for range flashes {
				s.AddFlash(nil)
			}
			saveErr = s.Save()
		})
		a.engine.GET("/count", func(c *gin.Context) {
			c.String(http.StatusOK, "%d/%d", len(Default(c).Keys()), len(Default(c).Flashes()))
		})
		a.get(fmt.Sprintf("/fill?keys=%d&flashes=%d", maxKeys, maxFlashes))
		if saveErr != nil {
			t.Fatalf("Save of a session at the caps: %v", saveErr)
		}
		stored := a.storedRecord().encode(nil)
		for _, q := range []string{fmt.Sprintf("keys=%d", maxKeys+1), fmt.Sprintf("flashes=%d", 1)} {
			a.get("/fill?" + q)
			if !errors.Is(saveErr, ErrTooLarge) {
				t.Errorf("Save one past a cap (%s): %v, want ErrTooLarge", q, saveErr)
			}
			if again := a.storedRecord().encode(nil); !bytes.Equal(again, stored) {
				t.Errorf("the refused Save (%s) changed the stored session", q)
			}
		}
		if got, want := a.get("/count").Body.String(), fmt.Sprintf("%d/%d", maxKeys, maxFlashes); got != want {
			t.Errorf("the session stored at the caps loads as %s keys/flashes, want %s", got, want)
		}
	})
}

// DESIGN §4: a typical session (a user name and a counter) takes at most
// 200 bytes in memcached, key and item header included, as memcached itself
// counts them (its "bytes" statistic, on a private server holding only it).
func TestTypicalSessionFitsIn200Bytes(t *testing.T) {
	proc := startMemcached(t)
	a := newApp(t, memcache.New(proc.addr), Options{KeyPrefix: DefaultKeyPrefix})
	a.engine.GET("/login", func(c *gin.Context) {
		if err := Login(c, "alice"); err != nil {
			t.Error(err)
		}
		Default(c).Set("visits", 1000)
	})
	a.get("/login")
	id, _, _ := a.m.cookies.decode(a.cookie)
	item, err := a.store.Client.Get(a.m.key(id))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", proc.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("stats\r\n")); err != nil {
		t.Fatal(err)
	}
	stats := map[string]string{}
	for sc := bufio.NewScanner(conn); sc.Scan() && sc.Text() != "END"; {
		if f := strings.Fields(sc.Text()); len(f) == 3 {
			stats[f[1]] = f[2]
		}
	}
	used, _ := strconv.Atoi(stats["bytes"])
	if stats["curr_items"] != "1" || used != len(item.Key)+len(item.Value)+itemOverhead {
		t.Fatalf("memcached holds %s items in %s bytes; want 1 item of %d (key %d + value %d + item header %d)",
			stats["curr_items"], stats["bytes"], len(item.Key)+len(item.Value)+itemOverhead, len(item.Key), len(item.Value), itemOverhead)
	}
	if used > 200 {
		t.Errorf("a typical session takes %d bytes in memcached, want at most 200", used)
	}
	t.Logf("a typical session takes %d bytes in memcached: key %d, record %d, item header %d", used, len(item.Key), len(item.Value), itemOverhead)
}

// A read inside a loop over a record's values (which, past smallMax keys,
// moves them out of the stored bytes) does not cut the loop short.
func TestRecordReadInsideItsOwnLoop(t *testing.T) {
	values := map[string][]byte{}
	for i := range smallMax + 2 {
		values[fmt.Sprintf("k%02d", i)] = []byte{byte(i)}
	}
	r, err := decodeRecord(recordOf(1, 1, false, values).encode(nil))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string][]byte{}
	for k, v := range r.all() {
		r.get("k05")
		seen[k] = v
	}
	if !reflect.DeepEqual(seen, values) {
		t.Fatalf("the loop saw %q, want %q", seen, values)
	}
}
