package memcluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// ErrUnconfirmed is returned (wrapped) when an operation cannot be
// confirmed on every server it must reach. Delete and DeleteFor return it,
// with memcache.ErrNoServers, when a server of the key's confirm set could
// not be reached, so the key might come back when that server does (it
// may have been cut off with its data, not restarted); the key's primary
// copy is then as it was: retry later. Add, Set and CompareAndSwap return
// it when the primary accepted the write but stopped answering before a
// follower held it: the write is then on no server that is read (the
// primary resyncs from its followers before it is read again), so the
// caller may read again and retry, as after a CAS conflict.
var ErrUnconfirmed = errors.New("memcluster: not confirmed by every server it must reach")

// DeleteFor deletes the key and keeps it deleted for life: it writes a
// tombstone (see tombstone.go) to every server of the key's confirm set
// (its home set, the first Options.Replicas servers of its rendezvous
// order, up or not; with Replicas 1 also the server after it, which reads
// fail over to when the one home server stops answering) and to every
// other reachable server, the primary last. It succeeds
// only when every server of the confirm set confirmed; one that cannot be
// reached fails it with ErrUnconfirmed, and the primary's copy, which
// reads are served from, is left as it was. It returns nil when some server held the
// key and memcache.ErrCacheMiss when none did.
//
// life must cover every copy of the key that may exist: the longest
// expiration it was written with. Within it, no read repair, replication,
// warm-up healing, failover or server coming back with old data can serve
// the key again (see Client for the exact conditions); a write of the key
// through this Client (Set, or Add) can.
func (c *Client) DeleteFor(key string, life time.Duration) error {
	if !ValidKey(key) {
		return memcache.ErrMalformedKey
	}
	var buf [rankStack]int
	o := c.begin(key, buf[:0])
	home := make([]*server, 0, rankStack)
	for _, idx := range o.order[:c.confirmWidth] {
		s := c.servers[idx]
		switch s.available(o.now, c.backoff) {
		case admitNone:
			o.releaseAll(home)
			return fmt.Errorf("%w: %w: server %s is down", ErrUnconfirmed, memcache.ErrNoServers, s.name)
		case admitProbe:
			o.probes[s.index/64] |= 1 << (s.index % 64)
		}
		home = append(home, s)
	}
	o.pos = c.confirmWidth
	// First ask every server what it holds, so that one out of reach
	// fails the delete before anything is written; then bury them, the
	// primary last: a delete that still fails midway leaves the copy
	// reads go to as it was.
	hit := false
	targets := home
	for i, s := range home {
		held, err := s.holds(key)
		if o.unreachable(s, err) {
			o.releaseAll(home[i+1:])
			return fmt.Errorf("%w: %w: %w", ErrUnconfirmed, memcache.ErrNoServers, o.lastErr)
		}
		if err != nil {
			return s.answer(err, key)
		}
		hit = hit || held
	}
	// Every other reachable server too, syncing or not: one of them held
	// the key's copy when servers before it were away, and a resync may
	// copy it back from there.
	for ; o.pos < len(o.order); o.pos++ {
		s := c.servers[o.order[o.pos]]
		if s.downUntil.Load() != 0 {
			continue
		}
		held, err := s.holds(key)
		if o.unreachable(s, err) {
			continue
		}
		if err != nil {
			return s.answer(err, key)
		}
		hit = hit || held
		targets = append(targets, s)
	}
	tomb := newTombstone(key, c.now(), life)
	for i := len(targets) - 1; i >= 0; i-- {
		s := targets[i]
		err := s.mc.Set(tomb)
		switch {
		case o.unreachable(s, err) && i < len(home):
			return fmt.Errorf("%w: %w: %w", ErrUnconfirmed, memcache.ErrNoServers, o.lastErr)
		case err != nil && !isUnreachable(err):
			return s.answer(err, key)
		}
	}
	if !hit {
		return memcache.ErrCacheMiss
	}
	return nil
}

// releaseAll hands back the probes o won on servers it will not contact.
func (o *op) releaseAll(servers []*server) {
	for _, s := range servers {
		o.release(s)
	}
}

// holds reports whether s holds a live item (not a tombstone) for key.
func (s *server) holds(key string) (bool, error) {
	cur, err := s.mc.Get(key)
	switch {
	case err == nil:
		return !isTombstone(cur), nil
	case errors.Is(err, memcache.ErrCacheMiss):
		return false, nil
	}
	return false, err
}

// spreadTombstone copies tomb, which a read found after the servers in
// missed answered a miss, to those servers with Add, best-effort: a home
// server that restarted empty gets the tombstone back instead of waiting
// for the key's other copies to be lost too.
func (c *Client) spreadTombstone(o *op, missed []*server, tomb *memcache.Item) {
	cp := tombstoneCopy(tomb, c.now())
	if cp == nil {
		return
	}
	for _, s := range missed {
		_ = o.unreachable(s, s.mc.Add(cp))
	}
}
