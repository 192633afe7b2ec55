package ginsession

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
)

// integrityApp returns an app with a /login route that logs in as the user
// named in the query and a /me route that shows who is logged in.
func integrityApp(t *testing.T, client Client, opts Options) *app {
	a := newApp(t, client, opts)
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", c.Query("u")) })
	a.engine.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, "me=%s", Default(c).GetString("user_name")) })
	return a
}

// login logs a fresh browser in as user and returns its cookie and the
// session's memcached key.
func (a *app) login(user string) (cookie, key string) {
	a.t.Helper()
	a.cookie = ""
	a.get("/login?u=" + user)
	id, _, ok := a.m.cookies.decode(a.cookie)
	if !ok {
		a.t.Fatalf("login as %s set no valid cookie", user)
	}
	return a.cookie, a.m.key(id)
}

// raw returns the bytes stored under key.
func (a *app) raw(key string) []byte {
	a.t.Helper()
	item, err := a.store.Client.Get(key)
	if err != nil {
		a.t.Fatalf("get %s: %v", key, err)
	}
	return item.Value
}

// put stores value under key, as anything with access to memcached can.
func (a *app) put(key string, value []byte) {
	a.t.Helper()
	if err := a.store.Client.Set(&memcache.Item{Key: key, Value: value, Expiration: 600}); err != nil {
		a.t.Fatalf("set %s: %v", key, err)
	}
}

// wantMe checks who the session behind cookie belongs to ("" for none).
func (a *app) wantMe(cookie, user, why string) {
	a.t.Helper()
	rec := a.serve("/me", cookie)
	if rec.Code != http.StatusOK || rec.Body.String() != "me="+user {
		a.t.Fatalf("%s: %d %q, want me=%s", why, rec.Code, rec.Body.String(), user)
	}
}

// wantRefusalLogged checks that refused records were logged as unreadable,
// without any session ID or cookie in the log.
func (a *app) wantRefusalLogged(cookies ...string) {
	a.t.Helper()
	logs := a.logs.String()
	if !strings.Contains(logs, "ignoring unreadable session record") || !strings.Contains(logs, "integrity check") {
		a.t.Errorf("the refused record was not logged as failing its integrity check:\n%s", logs)
	}
	for _, ck := range cookies {
		if strings.Contains(logs, ck[:idLen]) {
			a.t.Errorf("a session ID appears in the log:\n%s", logs)
		}
	}
}

// A record edited in memcached (the user, the creation time that bounds
// its Lifetime, the persistence flag) reads as no session.
func TestRecordEditedInMemcachedReadsAsNoSession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := integrityApp(t, client, Options{})
		cookie, key := a.login("alice")
		good := a.raw(key)
		for name, edit := range map[string]func(b []byte){
			"user":       func(b []byte) { copy(b[bytes.Index(b, []byte("alice")):], "admin") },
			"created":    func(b []byte) { b[offCreated+7]++ },
			"persistent": func(b []byte) { b[offPersistent] ^= 0xc2 ^ 0xc3 },
		} {
			edited := bytes.Clone(good)
			edit(edited)
			if _, err := decodeRecord(edited); err != nil {
				t.Fatalf("%s: the edited record is not even well formed: %v", name, err)
			}
			a.put(key, edited)
			a.wantMe(cookie, "", name+" edited in place")
			a.put(key, good)
			a.wantMe(cookie, "alice", name+" restored")
		}
		a.wantRefusalLogged(cookie)
	})
}

// An admin's record copied under another session's key does not make that
// session the admin's: the tag binds the record to its key.
func TestRecordCopiedToAnotherKeyReadsAsNoSession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := integrityApp(t, client, Options{})
		admin, adminKey := a.login("admin")
		mallory, malloryKey := a.login("mallory")
		a.wantMe(mallory, "mallory", "before the copy")
		a.put(malloryKey, a.raw(adminKey))
		a.wantMe(mallory, "", "mallory's session holding the admin's record")
		a.wantMe(admin, "admin", "the admin's own session")
		a.wantRefusalLogged(admin, mallory)
	})
}

// After a secret rotation a record sealed with the previous secret (now in
// OldSecrets) still loads, and the request re-seals it with the current
// secret even though it changed nothing. Only once: the next read writes
// nothing.
func TestRecordSealedWithOldSecretIsResealed(t *testing.T) {
	oldSecret, newSecret := testSecret, strings.Repeat("n", 40)
	forEachBackend(t, func(t *testing.T, client Client) {
		prefix := uniquePrefix()
		before := integrityApp(t, client, Options{Secret: oldSecret, KeyPrefix: prefix})
		cookie, key := before.login("alice")
		after := integrityApp(t, client, Options{Secret: newSecret, OldSecrets: []string{oldSecret}, KeyPrefix: prefix})
		after.wantMe(cookie, "alice", "old-sealed record after the rotation")

		stored := after.raw(key)
		if _, err := newRecordSealer(newSecret, nil).open(key, stored); err != nil {
			t.Fatalf("after a read with the new secret, the record does not verify with it: %v", err)
		}
		if _, err := newRecordSealer(oldSecret, nil).open(key, stored); err == nil {
			t.Fatal("after a read with the new secret, the record still verifies with the old one")
		}
		writes := after.store.writes()
		after.wantMe(cookie, "alice", "re-sealed record")
		if n := after.store.writes() - writes; n != 0 {
			t.Errorf("a read of a re-sealed record made %d writes, want none", n)
		}
	})
}

// A record made without the secret is refused, however it was sealed: with
// no tag, a guessed secret, the cookie's key (the raw secret), or in the
// previous, untagged format. The same record sealed by the app loads, so
// only the tag decides.
func TestForgedRecordIsRefused(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := integrityApp(t, client, Options{})
		cookie, key := a.login("mallory")
		forged := recordOf(a.m.now().Unix(), a.m.now().Unix(), false, map[string][]byte{"user_name": []byte("\xa5admin")})
		a.put(key, a.sealed(cookie[:idLen], forged))
		a.wantMe(cookie, "admin", "the forged record sealed with the app's secret (control)")

		cookieKeyTag := forged.encode(nil)
		mac := hmac.New(sha256.New, []byte(testSecret))
		mac.Write(appendStr(nil, key))
		mac.Write(cookieKeyTag[:len(cookieKeyTag)-tagSize])
		copy(cookieKeyTag[len(cookieKeyTag)-tagSize:], mac.Sum(nil))
		untagged := forged.encode(nil)[:len(cookieKeyTag)-tagField]
		untagged[0], untagged[1] = 0x96, 1
		for name, value := range map[string][]byte{
			"zero tag":          forged.encode(nil),
			"guessed secret":    newRecordSealer(strings.Repeat("g", 40), nil).seal(key, forged.encode(nil)),
			"cookie key":        cookieKeyTag,
			"untagged format 1": untagged,
		} {
			a.put(key, value)
			a.wantMe(cookie, "", name)
		}
		a.wantRefusalLogged(cookie)
	})
}

// Every single-byte change of a sealed record is refused, and the tag
// checks come before decoding.
func TestRecordTagCoversEveryByte(t *testing.T) {
	rs, _ := fuzzSealers()
	r := recordOf(1, 2, true, map[string][]byte{"user_name": []byte("\xa5alice"), "n": {0x07}}, []byte{0xc0})
	good := rs.seal(fuzzRecordKey, r.encode(nil))
	if _, err := rs.open(fuzzRecordKey, good); err != nil {
		t.Fatalf("open(seal(r)) = %v", err)
	}
	b := bytes.Clone(good)
	for i := range b {
		for _, v := range []byte{b[i] ^ 1, b[i] ^ 0x80, ^b[i]} {
			orig := b[i]
			b[i] = v
			if _, err := rs.open(fuzzRecordKey, b); err == nil {
				t.Fatalf("byte %d changed from %#x to %#x: the record still opens", i, orig, v)
			} else if i < len(b)-tagField && !errors.Is(err, errForgedRecord) {
				t.Fatalf("byte %d changed: %v, want the integrity error (the tag is checked before decoding)", i, err)
			}
			b[i] = orig
		}
	}
}

// collidingClient answers the first Add with ErrNotStored, as memcached does
// when the key is already taken (an ID collision).
type collidingClient struct {
	Client
	collided atomic.Bool
}

func (c *collidingClient) Add(item *memcache.Item) error {
	if c.collided.CompareAndSwap(false, true) {
		return memcache.ErrNotStored
	}
	return c.Client.Add(item)
}

// A new session whose first ID collides is stored under a second ID, sealed
// for that ID's key, so it loads.
func TestRecordStoredAfterAnIDCollisionLoads(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		cc := &collidingClient{Client: client}
		a := integrityApp(t, cc, Options{})
		cookie, _ := a.login("alice")
		if !cc.collided.Load() {
			t.Fatal("the login made no Add")
		}
		a.wantMe(cookie, "alice", "the session stored after a collision")
	})
}

// Stored records come from anything that can write to memcached, so the
// verifying decoder (and the parser under it) is fuzzed too. Run the target
// with, for example:
//
//	go test -run '^$' -fuzz FuzzDecodeRecord -fuzztime 20s .

// fuzzRecordKey is the memcached key the fuzzed records are sealed for.
const fuzzRecordKey = "ginsession:fuzz-record-key"

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
	unsorted := &record{created: 9, touched: 9} // small keys keep insertion order
	for _, k := range []string{"z", "a", "m"} {
		unsorted.set(k, enc(k))
	}
	stamped := recordOf(3, 4, true, map[string][]byte{"user_name": enc("alice")}, enc("hi"))
	stamped.stamp, stamped.stampChecked = stampHash("s1"), 1_700_000_050
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
	valid = len(seeds)
	hdr := (&record{created: 1, touched: 1}).encode(nil)[:recordHeader]
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

// TestFuzzRecordSeeds keeps the record seeds meaningful: the valid ones
// open, the rest do not, and a valid one verifies only for its own key.
func TestFuzzRecordSeeds(t *testing.T) {
	rs, _ := fuzzSealers()
	seeds, valid := fuzzRecordSeeds()
	for i, seed := range seeds {
		_, err := rs.open(fuzzRecordKey, seed)
		if (i < valid) != (err == nil) {
			t.Errorf("seed %d (%x): open error = %v, want valid = %v", i, seed, err, i < valid)
		}
		if i < valid {
			if _, err := rs.open(fuzzRecordKey+"x", seed); !errors.Is(err, errForgedRecord) {
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
		if got, err := rs.open(fuzzRecordKey, b); err == nil {
			sealer := rs
			if got.oldSeal {
				sealer = oldOnly
			}
			if again := sealer.seal(fuzzRecordKey, got.encode(nil)); !bytes.Equal(again, b) {
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
		got, errOpen := rs.open(fuzzRecordKey, sealed)
		if (errOpen == nil) != (err == nil) {
			t.Fatalf("sealed %x: open error %v, but decodeRecord error %v", sealed, errOpen, err)
		}
		if errOpen != nil {
			return
		}
		if got.oldSeal {
			t.Fatal("a record sealed with the current secret opened as old-sealed")
		}
		if again := rs.seal(fuzzRecordKey, got.encode(nil)); !bytes.Equal(again, sealed) {
			t.Fatalf("verified record %x re-encodes to %x", sealed, again)
		}
		if _, err := rs.open(fuzzRecordKey+"x", sealed); err == nil {
			t.Fatal("a sealed record opened under another key")
		}
		flipped := bytes.Clone(sealed)
		flipped[int(crc32.ChecksumIEEE(b))%len(flipped)] ^= 1 + byte(len(b))%255
		if _, err := rs.open(fuzzRecordKey, flipped); err == nil {
			t.Fatalf("sealed record %x opened with a byte changed: %x", sealed, flipped)
		}
		old := oldOnly.seal(fuzzRecordKey, bytes.Clone(b))
		if got, err := rs.open(fuzzRecordKey, old); err != nil || !got.oldSeal {
			t.Fatalf("a record sealed with the old secret: open = %v, oldSeal %v", err, got != nil && got.oldSeal)
		}
	})
}

// fuzzCheckRecord checks a record decodeRecord accepted from b.
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
	if signed := len(b) - tagSize; len(enc) != len(b) || !bytes.Equal(enc[:signed], b[:signed]) {
		t.Fatalf("decodeRecord accepted a record that re-encodes differently:\nb   = %x\nenc = %x", b, enc)
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

// BenchmarkRecordOpen measures what the record MAC adds to a load: opening
// (verify, then decode) a typical record against decoding it alone.
func BenchmarkRecordOpen(b *testing.B) {
	rs := newRecordSealer(testSecret, nil)
	r := &record{created: 1_900_000_000, touched: 1_900_000_000}
	r.set("user_name", []byte("\xa5alice"))
	r.set("n", []byte{0x2a})
	const key = "ginsession:0123456789abcdef0123456789abcdef0123456789a"
	sealed := rs.seal(key, r.encode(nil))
	b.Run("open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rs.open(key, sealed); err != nil {
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
