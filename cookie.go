package ginsession

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"hash"
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

// signer computes and checks cookie tags for one secret. Its pool of HMAC
// states saves re-keying on every request.
type signer struct {
	pool sync.Pool
}

// newSigner returns a signer keyed with secret.
func newSigner(secret string) *signer {
	key := []byte(secret)
	return &signer{pool: sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}}
}

// tag writes the HMAC of "name=id" into dst.
func (s *signer) tag(dst *[sha256.Size]byte, name, id string) {
	h := s.pool.Get().(hash.Hash)
	h.Reset()
	_, _ = h.Write([]byte(name))
	_, _ = h.Write([]byte{'='})
	_, _ = h.Write([]byte(id))
	h.Sum(dst[:0])
	s.pool.Put(h)
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
	buf := make([]byte, cookieLen)
	copy(buf, id)
	buf[idLen] = '.'
	base64.RawURLEncoding.Encode(buf[idLen+1:], sum[:])
	return string(buf)
}

// decode verifies a cookie value and returns its session ID. current is false
// when only an old secret matched (the cookie should be re-signed). A value of
// the wrong length or alphabet, or with a bad tag, gives ok == false; the
// check is constant-time in the tag.
func (c *cookieCodec) decode(value string) (id string, current, ok bool) {
	if len(value) != cookieLen || value[idLen] != '.' {
		return "", false, false
	}
	id = value[:idLen]
	var raw [idBytes]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(raw[:], []byte(id)); err != nil || n != idBytes {
		return "", false, false
	}
	var got [sha256.Size + 1]byte // +1: a strict decode of 43 chars yields 32 bytes
	if n, err := base64.RawURLEncoding.Strict().Decode(got[:], []byte(value[idLen+1:])); err != nil || n != sha256.Size {
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
	sum := sha256.Sum256([]byte(id))
	buf := make([]byte, len(prefix)+idLen)
	copy(buf, prefix)
	base64.RawURLEncoding.Encode(buf[len(prefix):], sum[:])
	return string(buf)
}
