package ginsession

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

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
//
// The old secret may be any of OldSecrets: here the first of two (a second
// rotation), where the search must stop at the first that verifies.
func TestRecordSealedWithOldSecretIsResealed(t *testing.T) {
	oldSecret, newSecret := testSecret, strings.Repeat("n", 40)
	for _, olds := range [][]string{{oldSecret}, {oldSecret, strings.Repeat("o", 40)}} {
		t.Run(strconv.Itoa(len(olds))+" old secrets", func(t *testing.T) {
			testRecordResealed(t, oldSecret, newSecret, olds)
		})
	}
}

// testRecordResealed seals a record with oldSecret, then reads it with
// newSecret and olds as OldSecrets.
func testRecordResealed(t *testing.T, oldSecret, newSecret string, olds []string) {
	forEachBackend(t, func(t *testing.T, client Client) {
		prefix := uniquePrefix()
		before := integrityApp(t, client, Options{Secret: oldSecret, KeyPrefix: prefix})
		cookie, key := before.login("alice")
		after := integrityApp(t, client, Options{Secret: newSecret, OldSecrets: olds, KeyPrefix: prefix})
		after.wantMe(cookie, "alice", "old-sealed record after the rotation")

		stored := after.raw(key)
		if _, err := openRecord(newRecordSealer(newSecret, nil), key, stored); err != nil {
			t.Fatalf("after a read with the new secret, the record does not verify with it: %v", err)
		}
		if _, err := openRecord(newRecordSealer(oldSecret, nil), key, stored); err == nil {
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
	if _, err := openRecord(rs, fuzzRecordKey, good); err != nil {
		t.Fatalf("open(seal(r)) = %v", err)
	}
	b := bytes.Clone(good)
	for i := range b {
		for _, v := range []byte{b[i] ^ 1, b[i] ^ 0x80, ^b[i]} {
			orig := b[i]
			b[i] = v
			if _, err := openRecord(rs, fuzzRecordKey, b); err == nil {
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
