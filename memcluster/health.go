package memcluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// op walks one key's servers in rendezvous order for one operation,
// skipping servers in backoff and marking down those it cannot reach.
type op struct {
	c       *Client
	key     string
	order   []int // server indexes, best first
	pos     int   // next position in order
	now     int64 // Unix nanoseconds when the operation started
	lastErr error // the last failure to reach a server

	// probes marks (by server index) the servers this operation was
	// admitted to as their probe after a backoff: only a probe's answer
	// puts a server back in service.
	probes [(MaxServers + 63) / 64]uint64
}

// begin starts an operation on key; buf is scratch space for its order.
func (c *Client) begin(key string, buf []int) op {
	return op{c: c, key: key, order: c.sel.rank(key, buf), now: c.now().UnixNano()}
}

// next returns the next server of the order that is neither in backoff nor
// syncing, or nil when there is none left.
func (o *op) next() *server {
	for {
		if s := o.nextUp(); s == nil || !s.syncing() {
			return s
		}
	}
}

// nextUp returns the next server of the order that is not in backoff,
// syncing or not, or nil when there is none left.
func (o *op) nextUp() *server {
	for o.pos < len(o.order) {
		s := o.c.servers[o.order[o.pos]]
		o.pos++
		switch s.available(o.now, o.c.backoff) {
		case admitProbe:
			o.probes[s.index/64] |= 1 << (s.index % 64)
			return s
		case admitUp:
			return s
		}
	}
	return nil
}

// release hands s's probe, if o was admitted to it without contacting it
// (a CAS id from another server), to the next operation at once: kept, it
// would leave s out for another backoff, and under a write-heavy load a
// rejoining server could miss probe after probe.
func (o *op) release(s *server) {
	if o.probing(s) {
		s.downUntil.CompareAndSwap(o.now+o.c.backoff, o.now)
	}
}

// probing reports whether o was admitted to s as its probe.
func (o *op) probing(s *server) bool {
	return o.probes[s.index/64]&(1<<(s.index%64)) != 0
}

// unreachable reports whether err means s could not be reached. Such a
// server is marked down and the operation should move on to the next one.
// Any other outcome, memcached's miss, not-stored and conflict answers
// included, shows the server is up; when o is the probe of a server that
// is down, that answer puts it back in service and opens its warm-up
// window. Answers to operations admitted before the server was marked
// down (in flight when it died) are old news and change nothing: each
// outage logs one "down" and one "rejoined".
func (o *op) unreachable(s *server, err error) bool {
	if !isUnreachable(err) {
		if o.probing(s) {
			// Syncing before it is up: no read may use its old copies.
			syncing := o.c.beginSync(s)
			if s.markUp() {
				o.c.rejoined(s, syncing)
			} else if syncing {
				o.c.startResync(s)
			}
		}
		return false
	}
	o.lastErr = s.answer(err, o.key)
	if !s.markDown(o.c.now().UnixNano(), o.c.backoff) {
		return true
	}
	_ = s.mc.Close() // pooled connections are dead too: rejoin on fresh ones
	o.c.logger.Warn("memcluster: memcached server down; failing over",
		"server", s.name, "backoff", time.Duration(o.c.backoff), "error", o.lastErr)
	return true
}

// noServer returns the error of an operation that found no server to answer.
func (o *op) noServer() error {
	if o.lastErr != nil {
		return fmt.Errorf("memcluster: %w; last failure: %w", memcache.ErrNoServers, o.lastErr)
	}
	return fmt.Errorf("memcluster: %w (all %d servers in backoff after failures)", memcache.ErrNoServers, len(o.c.servers))
}

// isUnreachable reports whether err means the server could not be reached
// or stopped answering: a network error (refused, reset, timeout), a connect
// timeout, or a connection closed mid-answer. memcached's own answers
// (misses, SERVER_ERROR...) are not.
func isUnreachable(err error) bool {
	if err == nil {
		return false
	}
	var netErr net.Error
	var connectErr *memcache.ConnectTimeoutError
	return errors.As(err, &netErr) || errors.As(err, &connectErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// admission is available's answer.
type admission uint8

const (
	admitNone  admission = iota // in backoff, or another caller probes it
	admitUp                     // up: use it
	admitProbe                  // down, backoff over: this caller probes it
)

// available tells whether an operation starting at now may use s. A
// server in backoff is skipped; once the backoff has passed, exactly one
// caller wins the right to probe it (the backoff restarts for the others)
// and the probe's outcome marks it up or down again.
func (s *server) available(now, backoff int64) admission {
	until := s.downUntil.Load()
	switch {
	case until == 0:
		return admitUp
	case now >= until && s.downUntil.CompareAndSwap(until, now+backoff):
		return admitProbe
	}
	return admitNone
}

// markDown skips s until now+backoff and reports whether it was up before.
func (s *server) markDown(now, backoff int64) bool {
	return s.downUntil.Swap(max(now+backoff, 1)) == 0
}

// markUp puts s back in service and reports whether it was down before.
// Only a probe's answer may call it (see op.unreachable).
func (s *server) markUp() bool {
	return s.downUntil.Load() != 0 && s.downUntil.Swap(0) != 0
}
