package ginsession

import "strings"

// cookieMemoSlots is how many verified cookie values a Manager remembers:
// 32 KiB of slots, and about 220 bytes per remembered value with the
// default KeyPrefix (more with a longer one): about 0.9 MB when full.
const cookieMemoSlots = 4096

// cookieResolver turns a request's cookie value into the session it names:
// the ID, its memcached key, and whether the current secret signed it.
//
// Both steps are hashes (the cookie's HMAC, then SHA-256 of the ID for the
// key) whose results depend only on the value and the Manager's fixed
// secrets and key prefix. So the resolver remembers the answers for recent
// values that verified: a remembered answer is the one recomputing would
// give, and nothing needs forgetting when a session ends (its record is
// gone from memcached either way). A visitor's requests repeat one cookie,
// so most requests skip both hashes.
//
// The memo is direct-mapped: each value has one slot, picked by a hash with
// a per-Manager random seed, and the last value resolved there keeps it.
// Only values that verified are stored, so a client can evict an entry but
// never plant one, and a stored value is compared in constant time.
type cookieResolver struct {
	codec  *cookieCodec
	prefix string
	memo   slotTable[cookieIdentity]
}

// cookieIdentity is what a verified cookie value stands for. It is never
// changed once stored.
type cookieIdentity struct {
	value   string // the cookie value, copied out of the request
	id      string // the session ID, a part of value
	key     string // the memcached key of id
	current bool   // signed with the current secret (false: re-sign it)
}

// newCookieResolver returns a resolver with slots memo entries.
func newCookieResolver(codec *cookieCodec, prefix string, slots int) *cookieResolver {
	return &cookieResolver{codec: codec, prefix: prefix, memo: newSlotTable[cookieIdentity](slots)}
}

// resolve returns what value stands for, or false when it does not verify.
func (r *cookieResolver) resolve(value string) (*cookieIdentity, bool) {
	slot := r.memo.slot(value)
	if who := slot.Load(); who != nil && sameSecret(who.value, value) {
		return who, true
	}
	id, current, ok := r.codec.decode(value)
	if !ok {
		return nil, false
	}
	owned := strings.Clone(value) // the request's header must not stay alive
	who := &cookieIdentity{value: owned, id: owned[:idLen], key: storageKey(r.prefix, id), current: current}
	slot.Store(who)
	return who, true
}

// sameSecret reports whether a and b are equal, in time that depends only on
// their lengths (cookie values of our shape all have the same length). It
// compares eight bytes at a time, then the rest.
func sameSecret(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var diff uint64
	i := 0
	for ; i+8 <= len(a); i += 8 {
		diff |= word(a[i:i+8]) ^ word(b[i:i+8])
	}
	for ; i < len(a); i++ {
		diff |= uint64(a[i] ^ b[i])
	}
	return diff == 0
}

// word returns the first eight bytes of s as a little-endian integer (one
// load on the machines Go optimizes this pattern for).
func word(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}
