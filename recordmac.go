package ginsession

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"sync"
)

// Stored records are sealed: their last 32 bytes are an HMAC-SHA256 over
// the memcached key (as a msgpack string) and every record byte before the
// tag itself. memcached has no authentication, so without the tag anything
// that can write to it could store a session for any user, or copy an
// admin's record under its own session's key. The key is part of the MAC,
// so a record is valid only where ginsession wrote it.
//
// The MAC key is derived from each secret (HMAC(secret, recordKeyLabel)),
// so the record key and the cookie key (the secret itself) differ: a cookie
// tag is never a valid record tag, nor the reverse.

// recordKeyLabel derives the record MAC key from a secret.
const recordKeyLabel = "ginsession record v2"

// errForgedRecord reports stored bytes whose tag does not verify.
var errForgedRecord = errors.New("ginsession: session record fails its integrity check " +
	"(changed in memcached, copied from another session's key, or sealed with a secret " +
	"that is neither Secret nor in OldSecrets)")

// recordMAC computes record tags for one secret. It pools keyed HMAC
// states (cookie.go's hmacState), so sealing and verifying neither re-key
// nor allocate.
type recordMAC struct {
	pool sync.Pool // of *hmacState
}

// newRecordMAC returns the record MAC for secret.
func newRecordMAC(secret string) *recordMAC {
	derive := hmac.New(sha256.New, []byte(secret))
	derive.Write([]byte(recordKeyLabel))
	key := derive.Sum(nil)
	return &recordMAC{pool: sync.Pool{New: func() any {
		return &hmacState{mac: hmac.New(sha256.New, key), sum: make([]byte, 0, sha256.Size)}
	}}}
}

// tag writes the MAC of key and signed into dst.
func (rm *recordMAC) tag(dst *[tagSize]byte, key string, signed []byte) {
	st := rm.pool.Get().(*hmacState)
	st.msg = appendStr(st.msg[:0], key)
	st.mac.Reset()
	_, _ = st.mac.Write(st.msg)
	_, _ = st.mac.Write(signed)
	st.sum = st.mac.Sum(st.sum[:0])
	copy(dst[:], st.sum)
	rm.pool.Put(st)
}

// recordSealer seals records with the current secret and verifies them
// against it and then the old ones, remembering the last authentic record
// of each key it sees (recordmemo.go) so that reading it again costs no MAC.
type recordSealer struct {
	current *recordMAC
	old     []*recordMAC
	memo    *recordMemo
}

// newRecordSealer returns the sealer for a secret and its predecessors.
func newRecordSealer(secret string, oldSecrets []string) *recordSealer {
	rs := &recordSealer{current: newRecordMAC(secret), memo: newRecordMemo(recordMemoSlots)}
	for _, s := range oldSecrets {
		rs.old = append(rs.old, newRecordMAC(s))
	}
	return rs
}

// seal fills the tag of b, a record from record.encode to be stored under
// key, in place, and returns b.
func (rs *recordSealer) seal(key string, b []byte) []byte {
	rs.sign(key, b)
	rs.memo.remember(key, b)
	return b
}

// sign fills the tag of b, whose last tagSize bytes are its place, with the
// current secret's MAC of key and the bytes before it.
func (rs *recordSealer) sign(key string, b []byte) {
	signed := len(b) - tagSize
	rs.current.tag((*[tagSize]byte)(b[signed:]), key, b[:signed])
}

// authentic checks the tag that ends b, read under key, in constant time:
// against the current secret and then each old one. ok is false when none
// verifies; old is set when only an old secret does.
func (rs *recordSealer) authentic(key string, b []byte) (old, ok bool) {
	if len(b) < tagSize {
		return false, false
	}
	signed, got := b[:len(b)-tagSize], b[len(b)-tagSize:]
	var want [tagSize]byte
	rs.current.tag(&want, key, signed)
	if hmac.Equal(got, want[:]) {
		return false, true
	}
	for _, rm := range rs.old {
		rm.tag(&want, key, signed)
		if hmac.Equal(got, want[:]) {
			return true, true
		}
	}
	return false, false
}

// open verifies b, read from memcached under key, then decodes it into
// dst. The tag is checked first (in constant time, against the current
// secret and then each old one), so bytes that were not sealed by
// ginsession cost one MAC pass per secret and no decoding; bytes the memo
// holds for key were checked before. A record that only an old secret
// verifies comes back with oldSeal set, and is not remembered.
func (rs *recordSealer) open(dst *record, key string, b []byte) error {
	if len(b) < recordMin {
		return errCorrupt
	}
	if rs.memo.holds(key, b) {
		return dst.decode(b)
	}
	old, ok := rs.authentic(key, b)
	if !ok {
		return errForgedRecord
	}
	if err := dst.decode(b); err != nil {
		return err
	}
	dst.oldSeal = old
	if !old {
		rs.memo.remember(key, b)
	}
	return nil
}
