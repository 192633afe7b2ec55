package memcluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// Resync (see Client): when a server rejoins it may have restarted empty,
// or it may have been cut off with its data and now hold old copies. Until
// a background resync is done, the server is syncing: reads ask it only
// after every other server missed, it is nobody's primary, and writes are
// copied to it as to a follower. The resync lists the keys of every other
// server with memcached's `lru_crawler metadump all` and, for each key
// whose home set the rejoined server belongs to, copies the item from the
// server that held the key's authority while it was away (the first other
// server of its order): live items with Add where it lacks them, over its
// own older copy with CompareAndSwap (never over a newer write or a
// tombstone), with their own absolute expiration (the dump gives it);
// tombstones with Set. Then it serves again, and a second pass deletes the
// handoff copies it took over, as read repair does.

// DefaultResyncRate is how many keys per second a resync lists when
// Options.ResyncRate is zero.
const DefaultResyncRate = 5000

// resyncBatch is how many keys a resync handles between two pauses.
const resyncBatch = 100

// resyncAttempts bounds how often a resync whose listing failed (a peer
// that stops answering midway) is tried again before the server serves
// its copies as they are.
const resyncAttempts = 5

// beginSync puts s, which a probe just found up, in phaseSyncing and counts
// the rejoin, so that a resync already running starts over; it reports
// whether it did: not when resync is off or the Client is closed.
func (c *Client) beginSync(s *server) bool {
	select {
	case <-c.closed:
		return false
	default:
	}
	if c.resyncRate < 0 {
		return false
	}
	s.rejoins.Add(1)
	s.phase.Store(phaseSyncing)
	return true
}

// startResync runs the resync of s, which beginSync marked, in the
// background, unless one is running: that one sees the new rejoin and
// starts over.
func (c *Client) startResync(s *server) {
	if s.resyncing.CompareAndSwap(false, true) {
		c.resyncs.Add(1)
		go c.runResync(s)
	}
}

// runResync is the resync of s: the first pass and the leftovers while s
// syncs, then the drain while it serves. It starts over whenever s rejoined
// again meanwhile, and tries a failed listing again up to resyncAttempts
// times, one DownBackoff apart.
func (c *Client) runResync(s *server) {
	defer c.resyncs.Done()
	for failures := 0; ; {
		gen := s.rejoins.Load()
		start := c.now()
		copied, err := c.resync(s, c.copyOnto)
		if err == nil {
			var dropped int
			dropped, err = c.dropLeftovers(s)
			copied += dropped
		}
		if err != nil {
			if failures++; !errors.Is(err, errClosed) && failures < resyncAttempts && c.pauseResync() {
				continue
			}
			s.phase.Store(phaseServing)
			c.logger.Warn("memcluster: resync stopped; the server serves its copies as they are, and what it lacks heals as it is read",
				"server", s.name, "copied", copied, "error", err)
			break
		}
		if s.rejoins.Load() != gen {
			continue // it went away and came back during the pass
		}
		took := c.now().Sub(start).Round(time.Millisecond)
		s.phase.CompareAndSwap(phaseSyncing, phaseDraining)
		cleaned, err := c.resync(s, c.dropHandoff)
		if s.rejoins.Load() != gen {
			continue
		}
		s.phase.CompareAndSwap(phaseDraining, phaseServing)
		if err != nil {
			c.logger.Warn("memcluster: resync could not clean up handoff copies", "server", s.name, "error", err)
		}
		c.logger.Info("memcluster: resync done", "server", s.name, "copied", copied, "took", took, "handoffs_dropped", cleaned)
		break
	}
	s.resyncing.Store(false)
	// A rejoin between the last check and the line above found this
	// resync still running: run it for that rejoin.
	if s.syncing() {
		c.startResync(s)
	}
}

// pauseResync waits one DownBackoff before a resync is tried again, and
// reports false when the Client was closed meanwhile.
func (c *Client) pauseResync() bool {
	select {
	case <-c.closed:
		return false
	case <-time.After(time.Duration(c.backoff)):
		return true
	}
}

// errClosed stops a resync when the Client is closed.
var errClosed = errors.New("memcluster: client closed")

// resyncStep handles one listed key of peer for the resync of s and
// reports whether it changed something; home is the key's home set and
// order its rendezvous order.
type resyncStep func(s, peer *server, key string, exp int64, home, order []int) bool

// resync runs step on every key the other servers list whose home set s
// belongs to, at c.resyncRate keys per second, and returns how many steps
// changed something.
func (c *Client) resync(s *server, step resyncStep) (int, error) {
	changed := 0
	var buf [rankStack]int
	pace := c.pacer()
	for _, peer := range c.servers {
		if peer == s || peer.downUntil.Load() != 0 {
			continue
		}
		err := c.dumpKeys(peer, func(key string, exp int64) error {
			order := c.sel.rank(key, buf[:0])
			if home := order[:c.replicas]; homeOf(home, s.index) && step(s, peer, key, exp, home, order) {
				changed++
			}
			return pace()
		})
		if err != nil {
			return changed, err
		}
	}
	return changed, nil
}

// pacer returns a function to call once per listed key: every resyncBatch
// keys it pauses so that a resync lists c.resyncRate keys per second, and
// it returns errClosed once the Client is closed.
func (c *Client) pacer() func() error {
	seen := 0
	pause := time.Duration(int64(time.Second) * resyncBatch / int64(c.resyncRate))
	return func() error {
		if seen++; seen%resyncBatch != 0 {
			return nil
		}
		select {
		case <-c.closed:
			return errClosed
		case <-time.After(pause):
			return nil
		}
	}
}

// dropLeftovers lists s's own keys while it syncs and deletes, if
// unchanged since read, its live copies of keys it is not home to while
// every server of their home set serves and holds the key: handoff copies of an earlier
// outage that no drain reached (s was away then). Kept, such a copy would
// be served, stale or even ended, once the key's home servers stop
// answering. It returns how many it deleted.
func (c *Client) dropLeftovers(s *server) (int, error) {
	dropped := 0
	var buf [rankStack]int
	pace := c.pacer()
	err := c.dumpKeys(s, func(key string, _ int64) error {
		home := c.sel.rank(key, buf[:0])[:c.replicas]
		if !homeOf(home, s.index) && c.allHold(home, key) {
			item, err := s.mc.Get(key)
			if err == nil && !isTombstone(item) {
				if s.expireIfUnchanged(item) == nil {
					dropped++
				}
			}
		}
		return pace()
	})
	return dropped, err
}

// allHold reports whether every server of home is up, not syncing, and
// holds key (live or a tombstone): only then is another copy a leftover.
func (c *Client) allHold(home []int, key string) bool {
	for _, idx := range home {
		p := c.servers[idx]
		if p.downUntil.Load() != 0 || p.syncing() {
			return false
		}
		if _, err := p.mc.Get(key); err != nil {
			return false
		}
	}
	return true
}

// homeOf reports whether server index idx is among home.
func homeOf(home []int, idx int) bool {
	for _, h := range home {
		if h == idx {
			return true
		}
	}
	return false
}

// authority returns the first server of order other than s that is up:
// the one that decided the key's writes while s was away.
func (c *Client) authority(s *server, order []int) *server {
	for _, idx := range order {
		if p := c.servers[idx]; p != s && p.downUntil.Load() == 0 && !p.syncing() {
			return p
		}
	}
	return nil
}

// copyOnto is the first pass: it copies key, which peer listed, from the
// key's authority to s (see the top of this file) and reports whether s
// stored it. exp is an absolute Unix time from the dump (-1: none). A
// metadump is no snapshot (an item that moves between memcached's LRU
// queues while it runs can be left out), so a key another peer lists is
// copied from the authority all the same: it is missed only when every
// peer's dump missed it.
func (c *Client) copyOnto(s, _ *server, key string, exp int64, _, order []int) bool {
	peer := c.authority(s, order)
	if peer == nil {
		return false
	}
	// s first: a write copied to s after this read changes its CAS id, so
	// the copy below cannot replace it with the older value read next.
	cur, curErr := s.mc.Get(key)
	item, err := peer.mc.Get(key)
	if err != nil {
		return false
	}
	if isTombstone(item) {
		cp := tombstoneCopy(item, c.now())
		return cp != nil && s.mc.Set(cp) == nil
	}
	switch {
	case exp < 0:
		exp = 0
	case exp <= c.now().Unix():
		return false
	}
	cp := &memcache.Item{Key: key, Value: item.Value, Flags: item.Flags, Expiration: int32(min(exp, 1<<31-1))}
	switch err := curErr; {
	case errors.Is(err, memcache.ErrCacheMiss):
		return s.mc.Add(cp) == nil
	case err != nil || isTombstone(cur):
		return false
	case cur.Flags == cp.Flags && bytes.Equal(cur.Value, cp.Value):
		// The same value, perhaps from a read repair or a warm-up copy,
		// which live at most RepairTTL: give it the original's end.
		_ = s.mc.Touch(key, cp.Expiration)
		return false
	}
	cp.CasID = cur.CasID
	return s.mc.CompareAndSwap(cp) == nil
}

// dropHandoff is the second pass: a handoff copy (peer is outside the
// key's home set) of a key that s now holds is deleted from peer if it is
// unchanged since read, as read repair does: kept, it would go stale and be served if
// s were lost again.
func (c *Client) dropHandoff(s, peer *server, key string, _ int64, home, _ []int) bool {
	if homeOf(home, peer.index) {
		return false
	}
	theirs, err := peer.mc.Get(key)
	if err != nil || isTombstone(theirs) {
		return false
	}
	// s serves the key again and took every write since its first pass:
	// whatever it holds is at least as new as the handoff copy.
	if held, err := s.holds(key); err != nil || !held {
		return false
	}
	return peer.expireIfUnchanged(theirs) == nil
}

// dumpKeys lists the keys server p holds, with their absolute expiration
// (-1: none), calling fn for each, on a connection of its own.
func (c *Client) dumpKeys(p *server, fn func(key string, exp int64) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	conn, err := c.dial(ctx, p.addr.Network(), p.addr.String())
	cancel()
	if err != nil {
		return fmt.Errorf("memcluster: list keys of %s: %w", p.name, err)
	}
	defer conn.Close()
	deadline := func() { _ = conn.SetDeadline(time.Now().Add(10 * c.timeout)) }
	deadline()
	if _, err := conn.Write([]byte("lru_crawler metadump all\r\n")); err != nil {
		return fmt.Errorf("memcluster: list keys of %s: %w", p.name, err)
	}
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("memcluster: list keys of %s: %w", p.name, err)
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "END":
			return nil
		case !strings.HasPrefix(line, "key="):
			return fmt.Errorf("memcluster: list keys of %s: memcached answered %q", p.name, line)
		}
		key, exp, ok := parseDumpLine(line)
		if !ok {
			continue
		}
		if err := fn(key, exp); err != nil {
			return err
		}
		deadline()
	}
}

// parseDumpLine reads the key and expiration of one metadump line,
// "key=<url-escaped key> exp=<unix or -1> la=... cas=... ...".
func parseDumpLine(line string) (key string, exp int64, ok bool) {
	var haveKey, haveExp bool
	for _, field := range strings.Fields(line) {
		name, val, _ := strings.Cut(field, "=")
		var err error
		switch name {
		case "key":
			key, err = url.PathUnescape(val)
			haveKey = err == nil && ValidKey(key)
		case "exp":
			exp, err = strconv.ParseInt(val, 10, 64)
			haveExp = err == nil
		}
	}
	return key, exp, haveKey && haveExp
}

// dropHandoffCopy is a write's part of the drain (see phaseDraining): it
// deletes, if unchanged since read, the live copy of o's key on the next
// server after the ones the write went to, its handoff.
func (c *Client) dropHandoffCopy(o *op) {
	h := o.next()
	if h == nil {
		return
	}
	item, err := h.mc.Get(o.key)
	if o.unreachable(h, err) || err != nil || isTombstone(item) {
		return
	}
	_ = o.unreachable(h, h.expireIfUnchanged(item))
}
