package ginsession

import (
	"crypto/subtle"
	"sync"
)

// Sizes of the record memo: 1024 slots, each holding one record of up to
// 512 bytes (a typical session takes about 100) once used: about 0.55 MB
// when every slot is in use.
const (
	recordMemoSlots = 1024
	recordMemoMax   = 512 // larger records are verified every time
)

// recordMemo remembers, per memcached key, the last record bytes that
// recordSealer sealed, or verified with the current secret, under that key.
// Whether bytes carry a valid tag for a key depends only on the bytes, the
// key and the fixed secrets, so when memcached returns exactly the
// remembered bytes the answer is known and the HMAC pass can be skipped: a
// session read again after this process read or wrote it costs no MAC.
//
// The memo is direct-mapped (a seeded hash of the key picks the slot; the
// last record remembered there keeps it) and holds only bytes that are
// authentic for their key, so a forged record is never in it. They may be
// bytes memcached never kept (seal remembers before the write, which can
// fail), so they are compared in constant time, like a tag.
type recordMemo struct {
	slotTable[recordMemoSlot]
}

// recordMemoSlot is one remembered record, made on the slot's first use and
// then overwritten in place.
type recordMemoSlot struct {
	mu  sync.Mutex
	key string
	n   int
	buf [recordMemoMax]byte
}

// newRecordMemo returns a memo of the given number of slots.
func newRecordMemo(slots int) *recordMemo {
	return &recordMemo{newSlotTable[recordMemoSlot](slots)}
}

// holds reports whether b is the record last remembered under key.
func (rm *recordMemo) holds(key string, b []byte) bool {
	if len(b) > recordMemoMax {
		return false
	}
	s := rm.slot(key).Load()
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key == key && subtle.ConstantTimeCompare(s.buf[:s.n], b) == 1
}

// remember records b, authentic for key, copying it.
func (rm *recordMemo) remember(key string, b []byte) {
	if len(b) > recordMemoMax {
		return
	}
	p := rm.slot(key)
	s := p.Load()
	if s == nil {
		p.CompareAndSwap(nil, new(recordMemoSlot)) // the first one made wins
		s = p.Load()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = key
	s.n = copy(s.buf[:], b)
}
