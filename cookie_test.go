package ginsession

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestBadCookiesAreIgnoredWithoutStoreAccess(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/", func(c *gin.Context) {
		s := Default(c)
		c.String(http.StatusOK, "%v %q", s.IsNew(), s.GetString("user_name"))
	})
	good := newCookieCodec("session_id", testSecret, nil).encode(newID())
	other := newCookieCodec("session_id", strings.Repeat("x", 32), nil).encode(newID())
	renamed := newCookieCodec("other", testSecret, nil).encode(newID())
	flip := []byte(good)
	flip[len(flip)-3] ^= 1
	cases := map[string]string{
		"garbage":      "garbage",
		"empty":        "",
		"oversized":    strings.Repeat("A", 8000),
		"wrong secret": other,
		"other name":   renamed,
		"flipped tag":  string(flip),
		"bad base64":   strings.Repeat("*", idLen) + "." + strings.Repeat("*", tagLen),
		"no dot":       strings.Repeat("A", cookieLen),
	}
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			a.cookie = value
			before := a.store.total()
			rec := a.get("/")
			if rec.Code != http.StatusOK || rec.Body.String() != `true ""` {
				t.Errorf("got %d %q", rec.Code, rec.Body.String())
			}
			if n := a.store.total() - before; n != 0 {
				t.Errorf("%d memcached operations for a bad cookie", n)
			}
		})
	}
	// A valid cookie for an unknown ID costs exactly one Get and yields a
	// fresh session with a new ID (no client-chosen IDs).
	a.cookie = good
	a.engine.GET("/set", func(c *gin.Context) { Default(c).Set("k", 1) })
	before := a.store.gets.Load()
	a.get("/set")
	if a.store.gets.Load()-before != 1 {
		t.Error("unknown ID should cost one Get")
	}
	if a.cookie == good || a.cookie == "" {
		t.Error("unknown ID was adopted instead of replaced")
	}
}

// TestCookieHeaderParsing: the session cookie is found wherever net/http
// would find it: among other cookies, in a second Cookie header, with
// spaces or double quotes around the value, and only under its exact name.
func TestCookieHeaderParsing(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	a.engine.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("user_name")) })
	a.get("/login")
	value := a.cookie
	a.cookie = "" // the cases below send their own headers
	forged := newCookieCodec("session_id", strings.Repeat("x", 32), nil).encode(newID())
	cases := []struct {
		name    string
		headers []string // Cookie header lines
		want    string
	}{
		{"alone", []string{"session_id=" + value}, "alice"},
		{"among others", []string{"a=1; session_id=" + value + "; b=2"}, "alice"},
		{"second header", []string{"a=1", "session_id=" + value}, "alice"},
		{"spaces", []string{"  a=1 ;  session_id=" + value + "  "}, "alice"},
		{"quoted", []string{`session_id="` + value + `"`}, "alice"},
		{"after a forged one", []string{"session_id=" + forged + "; session_id=" + value}, "alice"},
		{"prefix of the name", []string{"xsession_id=" + value}, ""},
		{"name with suffix", []string{"session_id2=" + value}, ""},
		{"no equals sign", []string{"session_id" + value}, ""},
		{"at the candidate limit", []string{strings.Repeat("session_id="+forged+"; ", maxCandidate-1) + "session_id=" + value}, "alice"},
		{"past the candidate limit", []string{strings.Repeat("session_id="+forged+"; ", maxCandidate) + "session_id=" + value}, ""},
		// Junk of the wrong shape does not count toward the limit, so
		// cookies planted by a sibling subdomain cannot hide the real one.
		{"after junk cookies (cookie jamming)", []string{strings.Repeat("session_id=x; ", 5) + strings.Repeat("session_id="+strings.Repeat("y", cookieLen)+"; ", 5) + "session_id=" + value}, "alice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			header := make([]string, 0, 2*len(tc.headers))
			for _, h := range tc.headers {
				header = append(header, "Cookie", h)
			}
			rec := a.do(http.MethodGet, "/me", nil, header...)
			if rec.Code != http.StatusOK || rec.Body.String() != tc.want {
				t.Errorf("got %d %q, want %q", rec.Code, rec.Body.String(), tc.want)
			}
		})
	}
}

func TestOldSecretAcceptedAndResigned(t *testing.T) {
	client := NewMemoryClient()
	prefix := uniquePrefix()
	oldSecret := strings.Repeat("o", 40)
	before := newApp(t, client, Options{Secret: oldSecret, KeyPrefix: prefix})
	before.engine.GET("/set", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	before.get("/set")

	after := newApp(t, client, Options{OldSecrets: []string{oldSecret}, KeyPrefix: prefix})
	after.cookie = before.cookie
	after.engine.GET("/", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("user_name")) })
	rec := after.get("/")
	if rec.Body.String() != "alice" {
		t.Fatalf("old-secret cookie not accepted: %q", rec.Body.String())
	}
	ck := sessionCookie(rec, "session_id")
	if ck == nil || ck.Value == before.cookie {
		t.Fatal("cookie not re-signed with the current secret")
	}
	if _, current, ok := after.m.cookies.decode(ck.Value); !ok || !current {
		t.Error("re-signed cookie does not verify with the current secret")
	}
}

// The cookie comes from any client, so its decoder is fuzzed too (the
// stored records' in recordmac_test.go, the stored values' in
// codec_test.go). Run the target with, for example:
//
//	go test -run '^$' -fuzz FuzzCookieDecode -fuzztime 20s .

const fuzzCookieName = "session_id"

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
