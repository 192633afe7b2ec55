package memcluster

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// Resync (see Client): when a server rejoins, a background task lists the
// keys of every other server with memcached's `lru_crawler metadump all`
// and copies to the rejoined server the items whose home set it belongs
// to, so that keys nobody reads during the warm-up window are not left on
// a single server. Live items are copied with Add and their own absolute
// expiration (the dump gives it), so a newer write is never replaced;
// tombstones with Set, so a key deleted while the server was away stays
// deleted when the server came back with its old data.

// DefaultResyncRate is how many keys per second a resync copies when
// Options.ResyncRate is zero.
const DefaultResyncRate = 5000

// resyncBatch is how many keys a resync copies between two pauses.
const resyncBatch = 100

// startResync starts the resync of s, unless one is running or the Client
// is closed.
func (c *Client) startResync(s *server) {
	select {
	case <-c.closed:
		return
	default:
	}
	if c.resyncRate < 0 || !s.resyncing.CompareAndSwap(false, true) {
		return
	}
	c.resyncs.Add(1)
	go func() {
		defer c.resyncs.Done()
		defer s.resyncing.Store(false)
		start := c.now()
		copied, err := c.resync(s)
		if err != nil {
			c.logger.Warn("memcluster: resync stopped; the keys the server lacks heal as they are read",
				"server", s.name, "copied", copied, "error", err)
			return
		}
		c.logger.Info("memcluster: resync done", "server", s.name, "copied", copied,
			"took", c.now().Sub(start).Round(time.Millisecond))
	}()
}

// errClosed stops a resync when the Client is closed.
var errClosed = errors.New("memcluster: client closed")

// resync copies to s what its peers hold for s, returning how many items
// s stored.
func (c *Client) resync(s *server) (int, error) {
	copied := 0
	var buf [rankStack]int
	pause := time.Duration(int64(time.Second) * resyncBatch / int64(c.resyncRate))
	seen := 0
	for _, peer := range c.servers {
		if peer == s || peer.downUntil.Load() != 0 {
			continue
		}
		err := c.dumpKeys(peer, func(key string, exp int64) error {
			home := c.sel.rank(key, buf[:0])[:c.replicas]
			if !homeOf(home, s.index) {
				return nil
			}
			if c.copyForResync(peer, s, key, exp, !homeOf(home, peer.index)) {
				copied++
			}
			if seen++; seen%resyncBatch == 0 {
				select {
				case <-c.closed:
					return errClosed
				case <-time.After(pause):
				}
			}
			return nil
		})
		if err != nil {
			return copied, err
		}
	}
	return copied, nil
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

// copyForResync copies key from peer to s and reports whether s stored it:
// a tombstone with Set, a live item with Add and exp (an absolute Unix
// time from the dump; 0 never expires). A handoff copy (peer is not in the
// key's home set) that s took is then deleted if it is unchanged, as read
// repair does: kept, it would go stale and be served if s were lost again.
func (c *Client) copyForResync(peer, s *server, key string, exp int64, handoff bool) bool {
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
	if s.mc.Add(cp) != nil {
		return false
	}
	if handoff {
		gone := &memcache.Item{Key: key, Value: item.Value, Flags: item.Flags, Expiration: -1, CasID: item.CasID}
		_ = peer.mc.CompareAndSwap(gone)
	}
	return true
}

// dumpKeys lists the keys server p holds, with their absolute expiration
// (-1: none), calling fn for each, on a connection of its own.
func (c *Client) dumpKeys(p *server, fn func(key string, exp int64) error) error {
	conn, err := net.DialTimeout(p.addr.Network(), p.addr.String(), c.timeout)
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
