package ginsession

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
)

// Session IDs are 32 random bytes; cookies carry the ID, a dot and an
// HMAC-SHA256 tag, all base64url without padding.
const (
	idBytes      = 32
	idLen        = 43 // base64.RawURLEncoding.EncodedLen(idBytes)
	tagLen       = 43 // base64.RawURLEncoding.EncodedLen(sha256.Size)
	cookieLen    = idLen + 1 + tagLen
	maxCandidate = 4 // cookies of our name examined per request (cookie tossing)
)

// newID returns a fresh session ID from crypto/rand.
func newID() string {
	var b [idBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+).
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// signer computes and checks cookie tags for one secret. It pools HMAC
// states, each with its own message and sum buffers, so signing neither
// re-keys nor allocates.
type signer struct {
	pool sync.Pool // of *hmacState
}

// hmacState is one keyed HMAC with reusable buffers.
type hmacState struct {
	mac hash.Hash
	msg []byte
	sum []byte
}

// newSigner returns a signer keyed with secret.
func newSigner(secret string) *signer {
	key := []byte(secret)
	return &signer{pool: sync.Pool{New: func() any {
		return &hmacState{mac: hmac.New(sha256.New, key), sum: make([]byte, 0, sha256.Size)}
	}}}
}

// tag writes the HMAC of "name=id" into dst.
func (s *signer) tag(dst *[sha256.Size]byte, name, id string) {
	st := s.pool.Get().(*hmacState)
	st.msg = append(append(append(st.msg[:0], name...), '='), id...)
	st.mac.Reset()
	_, _ = st.mac.Write(st.msg)
	st.sum = st.mac.Sum(st.sum[:0])
	copy(dst[:], st.sum)
	s.pool.Put(st)
}

// cookieCodec signs session IDs into cookie values and verifies them against
// the current secret and then the old ones.
type cookieCodec struct {
	name    string
	current *signer
	old     []*signer
}

// newCookieCodec returns a codec for the named cookie.
func newCookieCodec(name, secret string, oldSecrets []string) *cookieCodec {
	c := &cookieCodec{name: name, current: newSigner(secret)}
	for _, s := range oldSecrets {
		c.old = append(c.old, newSigner(s))
	}
	return c
}

// encode returns the cookie value for id.
func (c *cookieCodec) encode(id string) string {
	var sum [sha256.Size]byte
	c.current.tag(&sum, c.name, id)
	var buf [cookieLen]byte
	copy(buf[:idLen], id)
	buf[idLen] = '.'
	base64.RawURLEncoding.Encode(buf[idLen+1:], sum[:])
	return string(buf[:])
}

// decode verifies a cookie value and returns its session ID. current is false
// when only an old secret matched (the cookie should be re-signed). A value of
// the wrong length or alphabet, or with a bad tag, gives ok == false; the
// check is constant-time in the tag.
func (c *cookieCodec) decode(value string) (id string, current, ok bool) {
	if len(value) != cookieLen || value[idLen] != '.' {
		return "", false, false
	}
	// The ID's own alphabet needs no check: the tag covers it, and only IDs
	// from newID are ever signed.
	id = value[:idLen]
	var tag [tagLen]byte // the tag as bytes, without a heap copy
	copy(tag[:], value[idLen+1:])
	var got [sha256.Size + 1]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(got[:], tag[:]); err != nil || n != sha256.Size {
		return "", false, false
	}
	var want [sha256.Size]byte
	c.current.tag(&want, c.name, id)
	if hmac.Equal(got[:sha256.Size], want[:]) {
		return id, true, true
	}
	for _, s := range c.old {
		s.tag(&want, c.name, id)
		if hmac.Equal(got[:sha256.Size], want[:]) {
			return id, false, true
		}
	}
	return "", false, false
}

// storageKey maps a session ID to its memcached key: prefix +
// base64url(SHA-256(id)), so a memcached dump reveals no usable cookie.
func storageKey(prefix, id string) string {
	var text [idLen]byte
	in := append(text[:0], id...) // on the stack for every ID newID makes
	sum := sha256.Sum256(in)
	var key [maxKeyPrefix + idLen]byte
	out := append(key[:0], prefix...)
	return string(base64.RawURLEncoding.AppendEncode(out, sum[:]))
}

// requestCookies calls match with the value of each well-shaped cookie
// called name in the request's Cookie headers (the length and separator of a
// signed session ID), in order, until match returns true or max values were
// tried. It reports whether match returned true. Values are
// parsed much as net/http does (whitespace trimmed, one pair of double
// quotes removed) but not checked byte by byte: match (the strict cookie
// decoder) rejects anything net/http would, and a value it accepts is one
// net/http accepts too. Unlike Request.CookiesNamed it allocates nothing.
func requestCookies(h http.Header, name string, max int, match func(value string) bool) bool {
	tried := 0
	for _, line := range h["Cookie"] {
		for rest := line; rest != ""; {
			var part string
			part, rest, _ = strings.Cut(rest, ";")
			k, v, ok := strings.Cut(part, "=")
			if !ok || textproto.TrimString(k) != name {
				continue
			}
			v = textproto.TrimString(v)
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			// Only well-shaped values count toward max: junk cookies of our
			// name planted by a sibling subdomain cannot hide the real one.
			if len(v) != cookieLen || v[idLen] != '.' {
				continue
			}
			if tried++; tried > max {
				return false
			}
			if match(v) {
				return true
			}
		}
	}
	return false
}
