package memcluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// server is one memcached server of a Client, with its own connection pool
// and health (see health.go).
type server struct {
	name  string // address as configured: used in errors and logs
	index int    // position in Client.servers; tags CAS ids
	addr  net.Addr
	mc    *memcache.Client

	// phase is where the server is in the resync after its last rejoin
	// (a serverPhase; see resync.go).
	phase atomic.Uint32
	// rejoins counts the server's rejoins, so that a resync running when
	// it rejoins again starts over; resyncing is set while one runs.
	rejoins   atomic.Uint64
	resyncing atomic.Bool

	// downUntil is the Unix time in nanoseconds until which the server is
	// skipped; 0 while it is up.
	downUntil atomic.Int64

	// warmUntil is the Unix time in nanoseconds when the warm-up window
	// of its last rejoin ends (see warmup.go); 0 if it never rejoined.
	warmUntil atomic.Int64
}

// serverPhase is a server's place in the resync after a rejoin.
type serverPhase = uint32

const (
	// phaseServing: in normal service.
	phaseServing serverPhase = iota
	// phaseSyncing: from its rejoin until its resync has copied its peers'
	// newer items. Its own copies may be old (it may have been cut off with
	// its data), so reads ask it last and it is nobody's primary, while
	// writes are copied to it.
	phaseSyncing
	// phaseDraining: serving again while the resync deletes the handoff
	// copies it took over. A copy left behind would be served, stale, if
	// the server were lost again, so each write it decides also deletes
	// its key's handoff copy.
	phaseDraining
)

// syncing reports whether s is in phaseSyncing.
func (s *server) syncing() bool { return s.phase.Load() == phaseSyncing }

// newServer returns the server at addr, named name, at position index.
func newServer(name string, index int, addr net.Addr, timeout time.Duration, maxIdleConns int, dial dialFunc) *server {
	mc := memcache.NewFromSelector(fixedServer{addr})
	mc.DialContext = dial
	mc.Timeout = timeout
	mc.MaxIdleConns = maxIdleConns
	return &server{name: name, index: index, addr: addr, mc: mc}
}

// dialFunc opens a connection to a server, as memcache.Client.DialContext.
type dialFunc = func(ctx context.Context, network, address string) (net.Conn, error)

// dialer returns the dialFunc for Options.TLS: TLS with cfg when it is set,
// plain TCP otherwise.
func dialer(cfg *tls.Config) dialFunc {
	if cfg == nil {
		return (&net.Dialer{}).DialContext
	}
	return TLSDialer(cfg)
}

// fixedServer is the memcache.ServerSelector of one server's client.
type fixedServer struct{ addr net.Addr }

// PickServer returns the one server.
func (f fixedServer) PickServer(string) (net.Addr, error) { return f.addr, nil }

// Each calls fn with the one server.
func (f fixedServer) Each(fn func(net.Addr) error) error { return fn(f.addr) }

// set runs a plain Set on s.
func (s *server) set(item *memcache.Item) error { return s.mc.Set(item) }

// add runs Add on s. A tombstone does not count as a value: Add replaces
// it (with CompareAndSwap, so that a concurrent write still wins).
func (s *server) add(item *memcache.Item) error {
	err := s.mc.Add(item)
	if !errors.Is(err, memcache.ErrNotStored) {
		return err
	}
	cur, err := s.mc.Get(item.Key)
	switch {
	case errors.Is(err, memcache.ErrCacheMiss): // expired meanwhile
		return s.mc.Add(item)
	case err != nil:
		return err
	case !isTombstone(cur):
		return memcache.ErrNotStored
	}
	cp := *item
	cp.CasID = cur.CasID
	if err := s.mc.CompareAndSwap(&cp); !isRaceLost(err) {
		return err
	}
	return memcache.ErrNotStored
}

// isRaceLost reports whether a CompareAndSwap failed because the item
// changed or vanished since it was read.
func isRaceLost(err error) bool {
	return errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, memcache.ErrCacheMiss) ||
		errors.Is(err, memcache.ErrNotStored)
}

// putAttempts bounds the re-reads of server.put under concurrent writes.
const putAttempts = 3

// primaryLost is server.put's answer when the primary stopped answering
// before the copy could be checked against it.
type primaryLost struct{ err error }

func (e *primaryLost) Error() string {
	return "memcluster: primary lost during replication: " + e.err.Error()
}

// put brings s, a follower, up to the primary's value after a write the
// primary accepted (item): it reads s, then the primary, and where s lacks
// the primary's value writes it with Add, or with CompareAndSwap on what
// it read, so that a newer copy or a tombstone reaching s in between is
// never replaced. The primary's value is item's, or a newer write's that
// includes it; a newer value gets copyExp, since its own expiration is not
// known here. It stops when s holds a tombstone or the primary's value.
func (s *server) put(item *memcache.Item, primary *server, copyExp int32) error {
	for range putAttempts {
		cur, err := s.mc.Get(item.Key)
		missing := errors.Is(err, memcache.ErrCacheMiss)
		if err != nil && !missing {
			return err
		}
		latest, perr := primary.mc.Get(item.Key)
		switch {
		case isUnreachable(perr):
			return &primaryLost{perr}
		case perr != nil || isTombstone(latest):
			return nil // deleted or gone meanwhile: nothing to copy
		case !missing && (isTombstone(cur) || sameValue(cur, latest)):
			return nil
		}
		cp := &memcache.Item{Key: item.Key, Value: latest.Value, Flags: latest.Flags, Expiration: item.Expiration}
		if !sameValue(latest, item) {
			cp.Expiration = copyExp
		}
		if missing {
			err = s.mc.Add(cp)
		} else {
			cp.CasID = cur.CasID
			err = s.mc.CompareAndSwap(cp)
		}
		if !isRaceLost(err) {
			return err
		}
	}
	return nil
}

// expireIfUnchanged removes item, as s returned it from a Get, if it is
// unchanged since: a CompareAndSwap that expires it, so that a write that
// landed meanwhile is kept.
func (s *server) expireIfUnchanged(item *memcache.Item) error {
	return s.mc.CompareAndSwap(&memcache.Item{Key: item.Key, Value: item.Value, Flags: item.Flags, Expiration: -1, CasID: item.CasID})
}

// sameValue reports whether a and b hold the same value and flags.
func sameValue(a, b *memcache.Item) bool {
	return a.Flags == b.Flags && bytes.Equal(a.Value, b.Value)
}

// errForeignCAS is returned by server.cas for a CAS id another server
// issued; the server was not contacted.
var errForeignCAS = errors.New("memcluster: CAS id from another server")

// cas runs CompareAndSwap on s with item's CAS id untagged, or returns
// errForeignCAS without contacting s when another server issued the id.
func (s *server) cas(item *memcache.Item) error {
	id, ok := s.untagCAS(item.CasID)
	if !ok {
		return errForeignCAS
	}
	cp := *item
	cp.CasID = id
	err := s.mc.CompareAndSwap(&cp)
	if errors.Is(err, memcache.ErrCASConflict) {
		// A tombstone replaced the item read: the key is gone, as
		// memcached answers a CompareAndSwap of a deleted key.
		if cur, gerr := s.mc.Get(item.Key); gerr == nil && isTombstone(cur) {
			return memcache.ErrCacheMiss
		}
	}
	return err
}

// casTagShift places a server's tag (index+1) in the top 8 bits of the CAS
// ids it issues. memcached's CAS counter starts at 1 and grows by one per
// write, so it never reaches those bits.
const casTagShift = 56

// tagCAS marks a CAS id issued by s.
func (s *server) tagCAS(id uint64) uint64 {
	if id>>casTagShift != 0 {
		return id // cannot happen with memcached; left untouched
	}
	return id | uint64(s.index+1)<<casTagShift
}

// untagCAS returns the id to send to s and whether s issued it. Untagged
// ids are sent as they are.
func (s *server) untagCAS(id uint64) (uint64, bool) {
	switch id >> casTagShift {
	case 0:
		return id, true
	case uint64(s.index + 1):
		return id & (1<<casTagShift - 1), true
	}
	return 0, false
}

// answer returns err, memcached's answer or failure for key on s, fit for
// the caller: gomemcache's sentinels as they are, anything else wrapped with
// the server's address and without the key.
func (s *server) answer(err error, key string) error {
	switch {
	case errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotStored),
		errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrMalformedKey):
		return err
	case strings.Contains(err.Error(), key):
		err = errors.New(strings.ReplaceAll(err.Error(), key, "[key]"))
	}
	return fmt.Errorf("memcluster: server %s: %w", s.name, err)
}
