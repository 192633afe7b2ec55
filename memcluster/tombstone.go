package memcluster

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// A deleted key is not removed: Delete overwrites every copy with a
// tombstone, a small item that says "deleted until". memcached forgets a
// deleted key, so with several copies a plain delete races everything that
// copies a key between servers (read repair, replication, warm-up healing):
// a copy made from a server the delete had not reached yet would bring the
// key back. A tombstone is a value like any other, so those copies, which
// are all made with Add or CompareAndSwap, can never replace it, and a read
// that meets one stops there.
//
// Wire form: Flags TombstoneFlags and a value of tombstoneMagic followed by
// the Unix second the tombstone expires (8 bytes, big-endian), so that a
// copy of it can be given the same end.

// TombstoneFlags is the item flags value of a tombstone. An item that the
// application stores with these flags and a value starting with the
// tombstone marker reads as deleted; no other item does.
const TombstoneFlags uint32 = 0x6d63_7462 // "mctb"

// tombstoneMagic starts a tombstone's value.
const tombstoneMagic = "memcluster:deleted\x00"

// tombstoneLen is the length of a tombstone's value.
const tombstoneLen = len(tombstoneMagic) + 8

// DefaultTombstoneTTL is how long Delete keeps a key deleted when
// Options.TombstoneTTL is zero: memcached's longest relative expiration.
const DefaultTombstoneTTL = MaxRelativeExpiration * time.Second

// isTombstone reports whether item is a tombstone.
func isTombstone(item *memcache.Item) bool {
	return item.Flags == TombstoneFlags && len(item.Value) == tombstoneLen &&
		string(item.Value[:len(tombstoneMagic)]) == tombstoneMagic
}

// newTombstone returns the tombstone of key for an operation at now that
// keeps it deleted for life (rounded up to whole seconds, at least one).
func newTombstone(key string, now time.Time, life time.Duration) *memcache.Item {
	secs := max(int64((life+time.Second-1)/time.Second), 1)
	v := make([]byte, 0, tombstoneLen)
	v = append(v, tombstoneMagic...)
	v = binary.BigEndian.AppendUint64(v, uint64(now.Unix()+secs))
	return &memcache.Item{Key: key, Value: v, Flags: TombstoneFlags, Expiration: Expiration(now, secs)}
}

// tombstoneCopy returns a copy of tomb, read at now, that ends when tomb
// does, or nil when it has ended.
func tombstoneCopy(tomb *memcache.Item, now time.Time) *memcache.Item {
	secs := int64(binary.BigEndian.Uint64(tomb.Value[len(tombstoneMagic):])) - now.Unix()
	if secs <= 0 {
		return nil
	}
	return &memcache.Item{Key: tomb.Key, Value: bytes.Clone(tomb.Value), Flags: TombstoneFlags, Expiration: Expiration(now, secs)}
}
