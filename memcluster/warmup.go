package memcluster

import (
	"github.com/bradfitz/gomemcache/memcache"
)

// Warm-up windows (see Client): what a server that rejoins lacks is
// healed by the reads of the next RepairTTL.

// rejoined puts s, which a probe found up again, in its warm-up window,
// logs the rejoin and, when syncing (see beginSync), starts its resync.
func (c *Client) rejoined(s *server, syncing bool) {
	end := c.now().UnixNano() + int64(c.repairTTL)
	s.warmUntil.Store(end)
	for cur := c.warmUntil.Load(); cur < end && !c.warmUntil.CompareAndSwap(cur, end); cur = c.warmUntil.Load() {
	}
	c.logger.Info("memcluster: memcached server rejoined", "server", s.name, "warm_up", c.repairTTL)
	if syncing {
		c.startResync(s)
	}
}

// warming reports whether an operation that started at now (Unix
// nanoseconds) runs inside some server's warm-up window.
func (c *Client) warming(now int64) bool { return now < c.warmUntil.Load() }

// heal is Get's hit inside a warm-up window: holder answered item after
// the servers in missed (best first) missed it. It repairs the primary as
// Get always does, then copies the item with Add (never over a newer write
// or a tombstone; see copyExpiration for its life) to the rest of the
// key's write set that lacks it: the followers that answered a miss, and
// the followers after holder that are warming up, which are not read
// first: the Add stores nothing where the key is, so it costs one round
// trip. It returns what Get returns.
//
// A Delete that runs between the read and a copy cannot be undone by it:
// Delete writes a tombstone to every server of the key's read set, and an
// Add does not replace one.
func (c *Client) heal(o *op, missed []*server, holder *server, item *memcache.Item) (*memcache.Item, error) {
	got := item
	if len(missed) == 0 {
		item.CasID = holder.tagCAS(item.CasID)
	} else {
		var err error
		if got, err = c.repair(o, missed[0], holder, item, len(missed) >= c.replicas); err != nil {
			return nil, err
		}
	}
	for _, s := range missed[min(1, len(missed)):min(len(missed), c.replicas)] {
		c.addCopy(o, s, item)
	}
	// The write set after holder: the next reachable servers, without
	// probing those in backoff.
	for n := len(missed) + 1; n < c.replicas && o.pos < len(o.order); o.pos++ {
		s := c.servers[o.order[o.pos]]
		if s.downUntil.Load() != 0 || s.syncing() {
			continue
		}
		n++
		if o.now < s.warmUntil.Load() {
			c.addCopy(o, s, item)
		}
	}
	// A syncing home server lacks what it missed until its resync reaches
	// it: the read copies it now (Add: never over its own copy).
	for _, idx := range o.order[:c.replicas] {
		if s := c.servers[idx]; s != holder && s.syncing() && s.downUntil.Load() == 0 {
			c.addCopy(o, s, item)
		}
	}
	return got, nil
}

// addCopy adds item's value to s with copyExpiration, best-effort.
func (c *Client) addCopy(o *op, s *server, item *memcache.Item) {
	err := s.mc.Add(&memcache.Item{Key: o.key, Value: item.Value, Flags: item.Flags, Expiration: c.copyExpiration(s, o.now)})
	_ = o.unreachable(s, err)
}
