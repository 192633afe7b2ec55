package memcluster

import (
	"errors"

	"github.com/bradfitz/gomemcache/memcache"
)

// Reads: Get and its last resorts (see Client, Reads).

// Get returns the item from the first server of the key's read set that has
// it (see Client), or memcache.ErrCacheMiss.
func (c *Client) Get(key string) (*memcache.Item, error) {
	if !ValidKey(key) {
		return nil, memcache.ErrMalformedKey
	}
	var buf [rankStack]int
	var missBuf [rankStack]*server
	o := c.begin(key, buf[:0])
	missed := missBuf[:0] // servers that answered a miss, best first
	// Syncing servers hold their place in the read set but are asked last
	// (askSyncing): the read never goes past them to servers a delete did
	// not reach.
	var syncBuf [rankStack]*server
	deferred := syncBuf[:0]
	for len(missed)+len(deferred) < c.readWidth {
		s := o.nextUp()
		if s == nil {
			break
		}
		if s.syncing() {
			deferred = append(deferred, s)
			continue
		}
		item, err := s.mc.Get(key)
		if o.unreachable(s, err) {
			continue
		}
		if s.syncing() { // a probe that began its resync
			deferred = append(deferred, s)
			continue
		}
		switch {
		case err == nil && isTombstone(item):
			c.spreadTombstone(&o, missed, item)
			return nil, memcache.ErrCacheMiss
		case err == nil && c.warming(o.now):
			return c.heal(&o, missed, s, item)
		case err == nil && len(missed) == 0:
			item.CasID = s.tagCAS(item.CasID)
			return item, nil
		case err == nil:
			// A holder past the first replicas servers that answered is
			// outside the key's write set: its copy is a handoff.
			return c.repair(&o, missed[0], s, item, len(missed) >= c.replicas)
		case errors.Is(err, memcache.ErrCacheMiss):
			missed = append(missed, s)
		default:
			return nil, s.answer(err, key)
		}
	}
	if len(missed) == 0 {
		return nil, o.noServer()
	}
	if item, answered, err := c.askSyncing(&o, missed, deferred); answered {
		return item, err
	}
	if len(missed) > 1 {
		return c.recheck(&o, missed[0])
	}
	return nil, memcache.ErrCacheMiss
}

// askSyncing is Get's last resort after every other server of the read set
// missed: the copy of a syncing server of the read set (see resync.go),
// which nobody else holds, so nothing newer was written while it was away. Such a copy is
// repaired onto the first server that missed, which decides the key's
// writes until the resync ends. answered is false when no syncing server
// had the key.
func (c *Client) askSyncing(o *op, missed, syncing []*server) (_ *memcache.Item, answered bool, _ error) {
	for _, s := range syncing {
		item, err := s.mc.Get(o.key)
		switch {
		case o.unreachable(s, err) || err != nil:
			continue
		case isTombstone(item):
			return nil, true, memcache.ErrCacheMiss
		}
		got, err := c.repair(o, missed[0], s, item, false)
		return got, true, err
	}
	return nil, false, nil
}

// recheck asks first, the first server that missed, once more after the
// rest of the read set missed too: a read repair or resync may have moved
// the key onto it, from a server read later, while the read went by.
func (c *Client) recheck(o *op, first *server) (*memcache.Item, error) {
	item, err := first.mc.Get(o.key)
	switch {
	case o.unreachable(first, err) || errors.Is(err, memcache.ErrCacheMiss):
		return nil, memcache.ErrCacheMiss
	case err != nil:
		return nil, first.answer(err, o.key)
	case isTombstone(item):
		return nil, memcache.ErrCacheMiss
	}
	item.CasID = first.tagCAS(item.CasID)
	return item, nil
}
