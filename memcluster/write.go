package memcluster

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// Writes: the primary decides, then its followers are brought to its
// value (see Client, Writes).

// Set stores item on the key's primary, then on its followers. When the
// primary refuses it (a too-large item), memcached has dropped the primary's
// old value, and Set drops the other copies too.
func (c *Client) Set(item *memcache.Item) error {
	return c.write(item, (*server).set, true)
}

// Add stores item on the key's primary if it has no value for the key
// (memcache.ErrNotStored otherwise), then on its followers.
func (c *Client) Add(item *memcache.Item) error {
	return c.write(item, (*server).add, false)
}

// CompareAndSwap replaces the item on the key's primary if it is unchanged
// since the Get that returned item.CasID (memcache.ErrCASConflict otherwise,
// also when that Get was answered by another server; ErrCacheMiss or
// ErrNotStored when the item is gone), then stores it on the followers.
func (c *Client) CompareAndSwap(item *memcache.Item) error {
	return c.write(item, (*server).cas, false)
}

// write runs store on the key's primary, failing over past servers that
// cannot be reached, and returns its answer; after a success it copies the
// item to the followers. With dropOnError, a primary's answer other than
// success deletes the key from the rest of the read set.
func (c *Client) write(item *memcache.Item, store func(*server, *memcache.Item) error, dropOnError bool) error {
	if item == nil || !ValidKey(item.Key) {
		return memcache.ErrMalformedKey
	}
	var buf [rankStack]int
	o := c.begin(item.Key, buf[:0])
	// The primary is the first server of the read set that is not
	// syncing; syncing servers hold their place in it, as for Get.
	syncing := 0
	for s := o.nextUp(); s != nil && syncing < c.readWidth; s = o.nextUp() {
		if s.syncing() {
			syncing++
			continue
		}
		err := store(s, item)
		if err == errForeignCAS {
			o.release(s)
			return memcache.ErrCASConflict
		}
		if o.unreachable(s, err) {
			continue
		}
		if s.syncing() {
			// The write probed s, which rejoined and began its resync: s
			// took a copy, and the next server decides.
			syncing++
			continue
		}
		if err != nil {
			if dropOnError {
				c.dropCopies(&o)
			}
			return s.answer(err, item.Key)
		}
		if err := c.replicate(&o, s, item); err != nil {
			return err
		}
		if s.phase.Load() == phaseDraining {
			c.dropHandoffCopy(&o)
		}
		return nil
	}
	return o.noServer()
}

// dropCopies deletes o's key from the rest of its read set, best-effort.
// memcached drops a key's value when a Set of it fails (a too-large item):
// the copies must go too, or Get would serve the old value and repair it
// onto the primary.
func (c *Client) dropCopies(o *op) {
	for answered := 1; answered < c.readWidth; {
		s := o.next()
		if s == nil {
			return
		}
		if err := s.mc.Delete(o.key); !o.unreachable(s, err) {
			answered++
		}
	}
}

// replicate brings the next R-1 reachable servers of o and every other
// reachable home server up to the primary's value after item's write,
// best-effort (see server.put: never over a newer copy or a tombstone).
// When the primary stops answering before that could be checked, the
// write is confirmed on the followers themselves (each must hold item), or
// fails with ErrUnconfirmed.
func (c *Client) replicate(o *op, primary *server, item *memcache.Item) error {
	var buf [rankStack]*server
	followers := buf[:0]
	lost := false
	copyExp := int32(0) // computed for the first follower: most writes have none
	copyTo := func(s *server) bool {
		if copyExp == 0 {
			copyExp = c.expiration(int64(c.copyTTL / time.Second))
		}
		err := s.put(item, primary, copyExp)
		var pl *primaryLost
		if errors.As(err, &pl) {
			_ = o.unreachable(primary, pl.err)
			lost = true
			return true
		}
		return !o.unreachable(s, err)
	}
	for len(followers) < c.replicas-1 {
		s := o.next()
		if s == nil {
			break
		}
		if copyTo(s) {
			followers = append(followers, s)
		}
	}
	// Every reachable home server gets the write: one that is syncing
	// serves again when its resync ends (maybe while this write is on its
	// way), and must not lack what was written meanwhile.
	for _, idx := range o.order[:c.replicas] {
		s := c.servers[idx]
		if s == primary || s.downUntil.Load() != 0 || slices.Contains(followers, s) {
			continue
		}
		if copyTo(s) {
			followers = append(followers, s)
		}
	}
	if lost {
		return c.confirm(o, followers, item)
	}
	return nil
}

// confirm checks, after the primary became unreachable during a write's
// replication, that every follower holds item: one that does not (a copy of
// a racing older write landed last) would serve the older value once it
// decides, so the write must not be reported as done.
func (c *Client) confirm(o *op, followers []*server, item *memcache.Item) error {
	for _, s := range followers {
		cur, err := s.mc.Get(item.Key)
		if o.unreachable(s, err) || err != nil || isTombstone(cur) || !sameValue(cur, item) {
			return fmt.Errorf("%w: the primary was lost before the write reached server %s", ErrUnconfirmed, s.name)
		}
	}
	return nil
}
