package memcluster

import (
	"errors"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// repair copies item, which holder had and primary missed, to primary with
// Add (so a concurrent write, or a tombstone, wins) for Options.CopyTTL
// (copyExpiration while the primary is in its warm-up window), and returns the primary's copy, whose CAS id lets the
// caller's CompareAndSwap succeed, or memcache.ErrCacheMiss when the
// primary now holds a tombstone (a Delete ran since the read). If the
// primary cannot be read it returns the holder's item. A handoff copy
// (written while better-ranked servers were away; later writes skip it) is
// then deleted if it is unchanged since the Get, best-effort: kept, it
// would go stale and be served, and repaired back, if the primary were
// lost again.
func (c *Client) repair(o *op, primary, holder *server, item *memcache.Item, handoff bool) (*memcache.Item, error) {
	exp := c.copyExpiration(primary, o.now)
	if primary.warmUntil.Load() <= o.now {
		exp = c.expiration(int64(c.copyTTL / time.Second))
	}
	cp := &memcache.Item{Key: o.key, Value: item.Value, Flags: item.Flags, Expiration: exp}
	err := primary.mc.Add(cp)
	if !o.unreachable(primary, err) && (err == nil || errors.Is(err, memcache.ErrNotStored)) {
		got, err := primary.mc.Get(o.key)
		if !o.unreachable(primary, err) && err == nil {
			if isTombstone(got) {
				return nil, memcache.ErrCacheMiss
			}
			if handoff { // delete it only if unchanged: a CAS that expires it
				_ = o.unreachable(holder, holder.expireIfUnchanged(item))
			}
			got.CasID = primary.tagCAS(got.CasID)
			return got, nil
		}
	}
	item.CasID = holder.tagCAS(item.CasID)
	return item, nil
}

// repairExpiration returns the memcached expiration for a repaired copy:
// the repair TTL (at least a second).
func (c *Client) repairExpiration() int32 {
	return c.expiration(int64(c.repairTTL / time.Second))
}

// copyExpiration returns the memcached expiration of a copy that an
// operation started at now (Unix nanoseconds) makes on s: the repair TTL,
// or the time left in s's warm-up window when that is shorter, in whole
// seconds rounded down (at least one, memcached's granularity). Whatever s
// lacks during its window was written before it rejoined, with an
// expiration of at most RepairTTL (see Options.RepairTTL), so it expires
// by the end of the window: the copy never outlives that.
func (c *Client) copyExpiration(s *server, now int64) int32 {
	ttl := int64(c.repairTTL / time.Second)
	if end := s.warmUntil.Load(); now < end {
		ttl = min(ttl, max((end-now)/int64(time.Second), 1))
	}
	return c.expiration(ttl)
}

// expiration encodes a lifetime of secs seconds from now for memcached.
func (c *Client) expiration(secs int64) int32 {
	return Expiration(c.now(), secs)
}
