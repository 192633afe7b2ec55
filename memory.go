package ginsession

import (
	"bytes"
	"errors"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/memcluster"
)

// memcached's limits, mirrored by the memory client.
const (
	maxItemSize  = 1 << 20 // -I 1m, including the key and item header
	itemOverhead = 59      // memcached 1.6: item header + CAS; +4 with non-zero flags
)

// errTooLargeForCache mirrors memcached's "SERVER_ERROR object too large
// for cache".
var errTooLargeForCache = errors.New("memcache: server error: object too large for cache")

// NewMemoryClient returns an in-process Client with memcached's semantics:
// expirations (relative seconds up to 30 days, absolute Unix times beyond,
// negative = already expired), Add, CAS ids, Touch, Delete, key and item
// size limits, and gomemcache's sentinel errors. Use it in tests and local
// development; it is not shared between processes.
func NewMemoryClient() Client {
	return newMemoryClient(time.Now)
}

// newMemoryClient returns a memory client reading time from now.
func newMemoryClient(now func() time.Time) *memoryClient {
	return &memoryClient{items: map[string]memoryItem{}, now: now}
}

// memoryClient is the Client behind NewMemoryClient.
type memoryClient struct {
	mu        sync.Mutex
	items     map[string]memoryItem
	lastCAS   uint64
	now       func() time.Time
	nextSweep int // item count at which the next store drops expired items
}

// minSweep is the item count below which expired items are only dropped
// when read.
const minSweep = 1024

// memoryItem is one stored value.
type memoryItem struct {
	value   []byte
	flags   uint32
	expires time.Time // zero: never
	cas     uint64
}

// expiresAt converts a memcached expiration to a deadline. expired is true
// when the item is dead on arrival.
func expiresAt(now time.Time, exp int32) (deadline time.Time, expired bool) {
	switch {
	case exp == 0:
		return time.Time{}, false
	case exp < 0:
		return time.Time{}, true
	case exp <= memcluster.MaxRelativeExpiration:
		return now.Add(time.Duration(exp) * time.Second), false
	}
	t := time.Unix(int64(exp), 0)
	return t, !t.After(now)
}

// live returns the unexpired item under key. The caller holds c.mu.
func (c *memoryClient) live(key string) (memoryItem, bool) {
	it, ok := c.items[key]
	if ok && !it.expires.IsZero() && !c.now().Before(it.expires) {
		delete(c.items, key)
		return memoryItem{}, false
	}
	return it, ok
}

// Get returns a copy of the item, with its CAS id.
func (c *memoryClient) Get(key string) (*memcache.Item, error) {
	if !memcluster.ValidKey(key) {
		return nil, memcache.ErrMalformedKey
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.live(key)
	if !ok {
		return nil, memcache.ErrCacheMiss
	}
	return &memcache.Item{Key: key, Value: bytes.Clone(it.value), Flags: it.flags, CasID: it.cas}, nil
}

// store writes item under the rule of verb: "set", "add" or "cas".
func (c *memoryClient) store(verb string, item *memcache.Item) error {
	if !memcluster.ValidKey(item.Key) {
		return memcache.ErrMalformedKey
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if itemSize(item) > maxItemSize {
		if verb == "set" { // memcached drops the old value on a failed set
			delete(c.items, item.Key)
		}
		return errTooLargeForCache
	}
	now := c.now()
	old, exists := c.live(item.Key)
	switch {
	case verb == "add" && exists:
		return memcache.ErrNotStored
	case verb == "cas" && !exists:
		return memcache.ErrCacheMiss
	case verb == "cas" && old.cas != item.CasID:
		return memcache.ErrCASConflict
	}
	deadline, expired := expiresAt(now, item.Expiration)
	if expired {
		delete(c.items, item.Key)
		return nil
	}
	c.lastCAS++
	c.items[item.Key] = memoryItem{value: bytes.Clone(item.Value), flags: item.Flags, expires: deadline, cas: c.lastCAS}
	if len(c.items) >= c.nextSweep {
		c.sweep(now)
	}
	return nil
}

// sweep drops expired items, so sessions nobody reads again (bots, one-off
// visitors) do not accumulate in a long-running process. It runs when the
// item count doubles since the last sweep: amortized constant time per
// store. The caller holds c.mu.
func (c *memoryClient) sweep(now time.Time) {
	for key, it := range c.items {
		if !it.expires.IsZero() && !now.Before(it.expires) {
			delete(c.items, key)
		}
	}
	c.nextSweep = max(2*len(c.items), minSweep)
}

// itemSize is the memory memcached needs for item.
func itemSize(item *memcache.Item) int {
	n := len(item.Key) + len(item.Value) + itemOverhead
	if item.Flags != 0 {
		n += 4
	}
	return n
}

// Set stores item unconditionally.
func (c *memoryClient) Set(item *memcache.Item) error { return c.store("set", item) }

// Add stores item only if its key is absent (memcache.ErrNotStored otherwise).
func (c *memoryClient) Add(item *memcache.Item) error { return c.store("add", item) }

// CompareAndSwap stores item only if it is unchanged since the Get that
// returned item.CasID (memcache.ErrCASConflict otherwise, ErrCacheMiss when
// the key is gone).
func (c *memoryClient) CompareAndSwap(item *memcache.Item) error { return c.store("cas", item) }

// Delete removes key (memcache.ErrCacheMiss when absent).
func (c *memoryClient) Delete(key string) error {
	if !memcluster.ValidKey(key) {
		return memcache.ErrMalformedKey
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.live(key); !ok {
		return memcache.ErrCacheMiss
	}
	delete(c.items, key)
	return nil
}

// Touch sets a new expiration on key (memcache.ErrCacheMiss when absent).
func (c *memoryClient) Touch(key string, seconds int32) error {
	if !memcluster.ValidKey(key) {
		return memcache.ErrMalformedKey
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.live(key)
	if !ok {
		return memcache.ErrCacheMiss
	}
	deadline, expired := expiresAt(c.now(), seconds)
	if expired {
		delete(c.items, key)
		return nil
	}
	it.expires = deadline
	c.items[key] = it
	return nil
}
