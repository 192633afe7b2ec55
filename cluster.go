package ginsession

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// RendezvousSelector is a memcache.ServerSelector that spreads keys over
// servers by rendezvous (highest random weight) hashing: every server scores
// every key with a 64-bit hash of the pair, and a key belongs to the server
// with the highest score. Adding a server moves only the keys the new server
// now wins (about 1/n of them) and removing one moves only that server's
// keys, unlike gomemcache's default ServerList (CRC32 modulo n), which remaps
// most keys whenever the list changes.
//
// Servers are identified by their address string exactly as given, so every
// application instance must list the same strings; their order does not
// matter.
//
// Use it with memcache.NewFromSelector to build a plain *memcache.Client for
// Options.Client. It does not track server health: a Manager given several
// Options.Memcached servers uses the same hashing with failover and replicas
// instead. A RendezvousSelector is immutable and safe for concurrent use.
type RendezvousSelector struct {
	names []string   // addresses as configured, hashed into seeds
	addrs []net.Addr // resolved addresses, index-aligned with names
	seeds []uint64   // per-server hash seeds, index-aligned with names
}

// NewRendezvousSelector resolves servers ("host:port", or the path of a Unix
// socket) and returns a selector over them. It fails when the list is empty,
// when an address does not resolve, and when two entries name the same server.
func NewRendezvousSelector(servers ...string) (*RendezvousSelector, error) {
	if len(servers) == 0 {
		return nil, fmt.Errorf("ginsession: rendezvous selector: %w", memcache.ErrNoServers)
	}
	s := &RendezvousSelector{
		names: make([]string, len(servers)),
		addrs: make([]net.Addr, len(servers)),
		seeds: make([]uint64, len(servers)),
	}
	seen := make(map[string]string, len(servers))
	for i, name := range servers {
		addr, err := resolveServer(name)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[addr.String()]; dup {
			return nil, fmt.Errorf("ginsession: memcached servers %q and %q are the same server", prev, name)
		}
		seen[addr.String()] = name
		s.names[i], s.addrs[i], s.seeds[i] = name, addr, rendezvousHash(name)
	}
	return s, nil
}

// resolveServer resolves one server address the way gomemcache's ServerList
// does (TCP, or a Unix socket when it contains a slash), keeping its
// allocation-free net.Addr.
func resolveServer(name string) (net.Addr, error) {
	var list memcache.ServerList
	if err := list.SetServers(name); err != nil {
		return nil, fmt.Errorf("ginsession: memcached server %q: %w", name, err)
	}
	var addr net.Addr
	_ = list.Each(func(a net.Addr) error {
		addr = a
		return nil
	})
	return addr, nil
}

// PickServer returns the server with the highest score for key. It returns
// memcache.ErrNoServers only for a selector without servers.
func (s *RendezvousSelector) PickServer(key string) (net.Addr, error) {
	if len(s.addrs) == 0 {
		return nil, memcache.ErrNoServers
	}
	kh := rendezvousHash(key)
	best, bestScore := 0, rendezvousMix(kh^s.seeds[0])
	for i := 1; i < len(s.seeds); i++ {
		if sc := rendezvousMix(kh ^ s.seeds[i]); sc > bestScore {
			best, bestScore = i, sc
		}
	}
	return s.addrs[best], nil
}

// Each calls f with every server, in the order given to
// NewRendezvousSelector, and stops at the first error f returns.
func (s *RendezvousSelector) Each(f func(net.Addr) error) error {
	for _, a := range s.addrs {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}

// rankStack is how many servers rank orders without allocating.
const rankStack = 16

// rank appends to dst (normally empty, with capacity rankStack on the
// caller's stack) the indexes of all servers ordered by descending score for
// key: the key's owner first, then its failover order.
func (s *RendezvousSelector) rank(key string, dst []int) []int {
	var stack [rankStack]uint64
	scores := stack[:0]
	if len(s.seeds) > rankStack {
		scores = make([]uint64, 0, len(s.seeds))
	}
	kh := rendezvousHash(key)
	dst = dst[:0]
	for i, seed := range s.seeds { // insertion sort: n is small
		sc := rendezvousMix(kh ^ seed)
		scores, dst = append(scores, sc), append(dst, i)
		j := len(scores) - 1
		for ; j > 0 && scores[j-1] < sc; j-- {
			scores[j], dst[j] = scores[j-1], dst[j-1]
		}
		scores[j], dst[j] = sc, i
	}
	return dst
}

// rendezvousHash is 64-bit FNV-1a over s followed by rendezvousMix, which
// spreads FNV's weakly mixed last bytes over all bits. It does not allocate.
func rendezvousHash(s string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return rendezvousMix(h)
}

// rendezvousMix is MurmurHash3's 64-bit finalizer: a bijection whose every
// output bit depends on every input bit. A server's score for a key is
// rendezvousMix(keyHash ^ serverSeed).
func rendezvousMix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// maxClusterServers is the most servers a clusterClient takes: a server's
// index+1 must fit the 8-bit tag it puts in CAS ids.
const maxClusterServers = 255

// clusterClient is the Client a Manager uses when Options.Memcached lists
// several servers. Each key has a preference list: all servers in rendezvous
// order (see RendezvousSelector). Servers that fail are skipped for a backoff,
// which shifts each key to the next servers of its list.
//
// Placement. The first R reachable servers of a key's list (R = replicas)
// form its write set; the first of them is the key's primary, the others its
// followers. The read set is the write set plus one more reachable server,
// the handoff, which holds the key's copy when its primary was away.
//
// Writes: primary decides. Add, Set and CompareAndSwap run on the primary
// alone and its answer is returned, ErrNotStored and ErrCASConflict included.
// Only after it succeeds do the followers receive a plain Set of the same
// item, best-effort: a follower that cannot be reached is marked down and
// replaced by the next reachable server; other follower answers are ignored.
// A Set the primary refuses (a too-large item: memcached then drops the old
// value) deletes the other copies of the read set, as a single server would.
// Two writes that race on one key may leave a follower one version behind
// the primary until the next write.
//
// Reads. Get asks the read set in order and the first hit wins, so a hit on
// the primary costs one round trip and a miss costs up to R+1. When the
// primary misses a key that a later server of the read set holds (the
// primary restarted empty and rejoined, or the key was written while it was
// away), Get copies the item back to the primary with Add (repairTTL sets its
// expiration) and returns the primary's copy.
//
// CAS ids. CAS ids belong to the server that issued them; Get returns them
// tagged with that server (the top 8 bits; memcached's own counter never
// gets there). CompareAndSwap always goes to the current primary: an item
// tagged by another server, because the primary changed since the Get, fails
// with ErrCASConflict without touching any server, so the caller re-reads and
// merges. Untagged ids (items not from this client) go to the primary as is.
//
// Delete and Touch. Delete goes to the whole read set and Touch to the write
// set; each succeeds when at least one server held the key and returns
// ErrCacheMiss when none did.
//
// Failover. An operation that cannot reach a server (refused or reset
// connection, timeout, EOF: anything but a memcached answer) marks it down
// for the backoff and moves on to the next server at once, so a lost server
// fails no request by itself (the request that finds it down waits up to the
// socket timeout when the server hangs instead of refusing). Once the backoff has passed, one operation
// probes the server (everyone else keeps skipping it); it rejoins as soon as
// it answers. With no reachable server, operations fail with an error
// wrapping memcache.ErrNoServers.
//
// Consistency limits. After losing its primary a key is served from its
// follower (the last replicated version) or, with R = 1, is lost. A server
// that was marked down but kept its data (a timeout, a network partition)
// comes back with what it had when it left: changes made while it was away
// are lost for the keys it leads, and a key deleted while it was away can
// come back. Both are bounded by the item's memcached expiration (the idle
// timeout, for sessions) and by the session record's own timestamps; a
// restarted memcached comes back empty and has neither problem. The client
// never flushes a server.
//
// Errors never contain keys. Health is per server and per clusterClient.
type clusterClient struct {
	sel       *RendezvousSelector
	servers   []*clusterServer // index-aligned with sel.addrs
	replicas  int              // R: servers each write goes to
	readWidth int              // servers a Get or Delete consults: R plus the handoff
	backoff   int64            // nanoseconds a failed server is skipped

	// now is the clock used for backoffs; tests replace it.
	now func() time.Time

	// repairTTL is the memcached expiration given to copies Get makes on a
	// primary that missed a key; 0 means none (the session record's own
	// timestamps still end it). NewManager should set it to IdleTimeout.
	repairTTL time.Duration

	// logger, when set, hears when a server goes down and when it rejoins.
	// NewManager should set it to Options.Logger.
	logger *slog.Logger
}

// clusterServer is one memcached server of a clusterClient, with its own
// connection pool and health.
type clusterServer struct {
	name  string // address as configured: used in errors and logs
	index int    // position in clusterClient.servers; tags CAS ids
	mc    *memcache.Client

	// downUntil is the Unix time in nanoseconds until which the server is
	// skipped; 0 while it is up.
	downUntil atomic.Int64
}

// newClusterClient returns a Client spreading keys over servers by rendezvous
// hashing, writing each to replicas servers and failing over past servers
// that cannot be reached, which are then skipped for downBackoff (default
// DefaultDownBackoff). timeout and maxIdleConns configure each server's
// *memcache.Client.
func newClusterClient(servers []string, replicas int, timeout time.Duration, maxIdleConns int, downBackoff time.Duration) (*clusterClient, error) {
	switch {
	case len(servers) > maxClusterServers:
		return nil, fmt.Errorf("ginsession: at most %d memcached servers (got %d)", maxClusterServers, len(servers))
	case replicas < 1 || replicas > len(servers):
		return nil, fmt.Errorf("ginsession: replicas must be between 1 and the number of memcached servers (%d), got %d", len(servers), replicas)
	case timeout < 0 || downBackoff < 0:
		return nil, errors.New("ginsession: memcached timeout and down backoff must not be negative")
	}
	if downBackoff == 0 {
		downBackoff = DefaultDownBackoff
	}
	sel, err := NewRendezvousSelector(servers...)
	if err != nil {
		return nil, err
	}
	c := &clusterClient{
		sel:       sel,
		servers:   make([]*clusterServer, len(servers)),
		replicas:  replicas,
		readWidth: min(replicas+1, len(servers)),
		backoff:   int64(downBackoff),
		now:       time.Now,
	}
	for i, addr := range sel.addrs {
		mc := memcache.NewFromSelector(fixedServer{addr})
		mc.Timeout = timeout
		mc.MaxIdleConns = maxIdleConns
		c.servers[i] = &clusterServer{name: sel.names[i], index: i, mc: mc}
	}
	return c, nil
}

// fixedServer is the memcache.ServerSelector of one server's client.
type fixedServer struct{ addr net.Addr }

// PickServer returns the one server.
func (f fixedServer) PickServer(string) (net.Addr, error) { return f.addr, nil }

// Each calls fn with the one server.
func (f fixedServer) Each(fn func(net.Addr) error) error { return fn(f.addr) }

// Get returns the item from the first server of the key's read set that has
// it (see clusterClient), or memcache.ErrCacheMiss.
func (c *clusterClient) Get(key string) (*memcache.Item, error) {
	if !legalMemcachedKey(key) {
		return nil, memcache.ErrMalformedKey
	}
	var buf [rankStack]int
	o := c.begin(key, buf[:0])
	var primary *clusterServer // the first server that answered
	for answered := 0; answered < c.readWidth; {
		s := o.next()
		if s == nil {
			break
		}
		item, err := s.mc.Get(key)
		if o.unreachable(s, err) {
			continue
		}
		answered++
		switch {
		case err == nil && primary == nil:
			item.CasID = s.tagCAS(item.CasID)
			return item, nil
		case err == nil:
			// A holder past the first replicas servers that answered is
			// outside the key's write set: its copy is a handoff.
			return c.repair(&o, primary, s, item, answered > c.replicas), nil
		case errors.Is(err, memcache.ErrCacheMiss):
			if primary == nil {
				primary = s
			}
		default:
			return nil, s.answer(err, key)
		}
	}
	if primary == nil {
		return nil, o.noServer()
	}
	return nil, memcache.ErrCacheMiss
}

// repair copies item, which holder had and primary missed, to primary with
// Add (so a concurrent write wins) and returns the primary's copy, whose CAS
// id lets the caller's CompareAndSwap succeed. If that fails it returns the
// holder's item. A handoff copy (written while better-ranked servers were
// away; later writes skip it) is then deleted if it is unchanged since the
// Get, best-effort: kept, it would go stale and be served, and repaired
// back, if the primary were lost again.
func (c *clusterClient) repair(o *clusterOp, primary, holder *clusterServer, item *memcache.Item, handoff bool) *memcache.Item {
	cp := &memcache.Item{Key: o.key, Value: item.Value, Flags: item.Flags, Expiration: c.repairExpiration()}
	err := primary.mc.Add(cp)
	if !o.unreachable(primary, err) && (err == nil || errors.Is(err, memcache.ErrNotStored)) {
		got, err := primary.mc.Get(o.key)
		if !o.unreachable(primary, err) && err == nil {
			if handoff { // delete it only if unchanged: a CAS that expires it
				gone := &memcache.Item{Key: o.key, Value: item.Value, Flags: item.Flags, Expiration: -1, CasID: item.CasID}
				_ = o.unreachable(holder, holder.mc.CompareAndSwap(gone))
			}
			got.CasID = primary.tagCAS(got.CasID)
			return got
		}
	}
	item.CasID = holder.tagCAS(item.CasID)
	return item
}

// repairExpiration returns the memcached expiration for a repaired copy.
func (c *clusterClient) repairExpiration() int32 {
	secs := int64(c.repairTTL / time.Second)
	if secs <= 0 {
		return 0
	}
	return memcachedExpiration(c.now(), secs)
}

// Set stores item on the key's primary, then on its followers. When the
// primary refuses it (a too-large item), memcached has dropped the primary's
// old value, and Set drops the other copies too.
func (c *clusterClient) Set(item *memcache.Item) error {
	return c.write(item, (*clusterServer).set, true)
}

// Add stores item on the key's primary if it has no value for the key
// (memcache.ErrNotStored otherwise), then on its followers.
func (c *clusterClient) Add(item *memcache.Item) error {
	return c.write(item, (*clusterServer).add, false)
}

// CompareAndSwap replaces the item on the key's primary if it is unchanged
// since the Get that returned item.CasID (memcache.ErrCASConflict otherwise,
// also when that Get was answered by another server; ErrCacheMiss or
// ErrNotStored when the item is gone), then stores it on the followers.
func (c *clusterClient) CompareAndSwap(item *memcache.Item) error {
	return c.write(item, (*clusterServer).cas, false)
}

// errForeignCAS is returned by clusterServer.cas for a CAS id another server
// issued; the server was not contacted.
var errForeignCAS = errors.New("ginsession: CAS id from another memcached server")

// write runs store on the key's primary, failing over past servers that
// cannot be reached, and returns its answer; after a success it copies the
// item to the followers. With dropOnError, a primary's answer other than
// success deletes the key from the rest of the read set.
func (c *clusterClient) write(item *memcache.Item, store func(*clusterServer, *memcache.Item) error, dropOnError bool) error {
	if item == nil || !legalMemcachedKey(item.Key) {
		return memcache.ErrMalformedKey
	}
	var buf [rankStack]int
	o := c.begin(item.Key, buf[:0])
	for s := o.next(); s != nil; s = o.next() {
		err := store(s, item)
		if err == errForeignCAS {
			return memcache.ErrCASConflict
		}
		if o.unreachable(s, err) {
			continue
		}
		if err != nil {
			if dropOnError {
				c.dropCopies(&o)
			}
			return s.answer(err, item.Key)
		}
		c.replicate(&o, item)
		return nil
	}
	return o.noServer()
}

// dropCopies deletes o's key from the rest of its read set, best-effort.
// memcached drops a key's value when a Set of it fails (a too-large item):
// the copies must go too, or Get would serve the old value and repair it
// onto the primary.
func (c *clusterClient) dropCopies(o *clusterOp) {
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

// replicate stores item with a plain Set on the next R-1 reachable servers
// of o, best-effort.
func (c *clusterClient) replicate(o *clusterOp, item *memcache.Item) {
	for copies := 1; copies < c.replicas; {
		s := o.next()
		if s == nil {
			return
		}
		if err := s.mc.Set(item); !o.unreachable(s, err) {
			copies++
		}
	}
}

// Delete removes the key from its read set. It succeeds when at least one
// server held the key and returns memcache.ErrCacheMiss when none did.
func (c *clusterClient) Delete(key string) error {
	return c.onEach(key, c.readWidth, func(s *clusterServer) error { return s.mc.Delete(key) })
}

// Touch sets the key's expiration on its write set. It succeeds when at
// least one server held the key and returns memcache.ErrCacheMiss when none
// did.
func (c *clusterClient) Touch(key string, seconds int32) error {
	return c.onEach(key, c.replicas, func(s *clusterServer) error { return s.mc.Touch(key, seconds) })
}

// onEach runs fn on the first width reachable servers of key. It returns an
// unexpected answer if any server gave one, else nil if any server held the
// key, else memcache.ErrCacheMiss.
func (c *clusterClient) onEach(key string, width int, fn func(*clusterServer) error) error {
	if !legalMemcachedKey(key) {
		return memcache.ErrMalformedKey
	}
	var buf [rankStack]int
	o := c.begin(key, buf[:0])
	answered, hit := 0, false
	var failure error
	for answered < width {
		s := o.next()
		if s == nil {
			break
		}
		err := fn(s)
		if o.unreachable(s, err) {
			continue
		}
		answered++
		switch {
		case err == nil:
			hit = true
		case !errors.Is(err, memcache.ErrCacheMiss) && failure == nil:
			failure = s.answer(err, key)
		}
	}
	switch {
	case answered == 0:
		return o.noServer()
	case failure != nil:
		return failure
	case hit:
		return nil
	}
	return memcache.ErrCacheMiss
}

// owners returns the addresses of key's servers in rendezvous order,
// ignoring health: the first is its primary while every server is up.
func (c *clusterClient) owners(key string) []string {
	order := c.sel.rank(key, nil)
	names := make([]string, len(order))
	for i, idx := range order {
		names[i] = c.sel.names[idx]
	}
	return names
}

// clusterOp walks one key's servers in rendezvous order for one operation,
// skipping servers in backoff and marking down those it cannot reach.
type clusterOp struct {
	c       *clusterClient
	key     string
	order   []int // server indexes, best first
	pos     int   // next position in order
	now     int64 // Unix nanoseconds when the operation started
	lastErr error // the last failure to reach a server
}

// begin starts an operation on key; buf is scratch space for its order.
func (c *clusterClient) begin(key string, buf []int) clusterOp {
	return clusterOp{c: c, key: key, order: c.sel.rank(key, buf), now: c.now().UnixNano()}
}

// next returns the next server of the order that is not in backoff, or nil
// when there is none left.
func (o *clusterOp) next() *clusterServer {
	for o.pos < len(o.order) {
		s := o.c.servers[o.order[o.pos]]
		o.pos++
		if s.available(o.now, o.c.backoff) {
			return s
		}
	}
	return nil
}

// unreachable reports whether err means s could not be reached. Such a
// server is marked down and the operation should move on to the next one.
// Any other outcome, memcached's miss, not-stored and conflict answers
// included, shows the server is up.
func (o *clusterOp) unreachable(s *clusterServer, err error) bool {
	if !isUnreachable(err) {
		if s.markUp() && o.c.logger != nil {
			o.c.logger.Info("ginsession: memcached server rejoined", "server", s.name)
		}
		return false
	}
	o.lastErr = s.answer(err, o.key)
	if !s.markDown(o.c.now().UnixNano(), o.c.backoff) {
		return true
	}
	_ = s.mc.Close() // pooled connections are dead too: rejoin on fresh ones
	if o.c.logger != nil {
		o.c.logger.Warn("ginsession: memcached server down; failing over", "server", s.name, "backoff", time.Duration(o.c.backoff), "error", o.lastErr)
	}
	return true
}

// noServer returns the error of an operation that found no server to answer.
func (o *clusterOp) noServer() error {
	if o.lastErr != nil {
		return fmt.Errorf("ginsession: memcached: %w; last failure: %w", memcache.ErrNoServers, o.lastErr)
	}
	return fmt.Errorf("ginsession: memcached: %w (all %d servers in backoff after failures)", memcache.ErrNoServers, len(o.c.servers))
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

// available reports whether an operation starting at now may use s. A
// server in backoff is skipped; once the backoff has passed, exactly one
// caller wins the right to probe it (the backoff restarts for the others)
// and the probe's outcome marks it up or down again.
func (s *clusterServer) available(now, backoff int64) bool {
	until := s.downUntil.Load()
	if until == 0 {
		return true
	}
	if now < until {
		return false
	}
	return s.downUntil.CompareAndSwap(until, now+backoff)
}

// markDown skips s until now+backoff and reports whether it was up before.
func (s *clusterServer) markDown(now, backoff int64) bool {
	return s.downUntil.Swap(max(now+backoff, 1)) == 0
}

// markUp puts s back in service and reports whether it was down before.
func (s *clusterServer) markUp() bool {
	return s.downUntil.Load() != 0 && s.downUntil.Swap(0) != 0
}

// answer returns err, memcached's answer or failure for key on s, fit for
// the caller: gomemcache's sentinels as they are, anything else wrapped with
// the server's address and without the key.
func (s *clusterServer) answer(err error, key string) error {
	switch {
	case errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotStored),
		errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrMalformedKey):
		return err
	case strings.Contains(err.Error(), key):
		err = errors.New(strings.ReplaceAll(err.Error(), key, "[key]"))
	}
	return fmt.Errorf("ginsession: memcached %s: %w", s.name, err)
}

// set runs a plain Set on s.
func (s *clusterServer) set(item *memcache.Item) error { return s.mc.Set(item) }

// add runs Add on s.
func (s *clusterServer) add(item *memcache.Item) error { return s.mc.Add(item) }

// cas runs CompareAndSwap on s with item's CAS id untagged, or returns
// errForeignCAS without contacting s when another server issued the id.
func (s *clusterServer) cas(item *memcache.Item) error {
	id, ok := s.untagCAS(item.CasID)
	if !ok {
		return errForeignCAS
	}
	cp := *item
	cp.CasID = id
	return s.mc.CompareAndSwap(&cp)
}

// casTagShift places a server's tag (index+1) in the top 8 bits of the CAS
// ids it issues. memcached's CAS counter starts at 1 and grows by one per
// write, so it never reaches those bits.
const casTagShift = 56

// tagCAS marks a CAS id issued by s.
func (s *clusterServer) tagCAS(id uint64) uint64 {
	if id>>casTagShift != 0 {
		return id // cannot happen with memcached; left untouched
	}
	return id | uint64(s.index+1)<<casTagShift
}

// untagCAS returns the id to send to s and whether s issued it. Untagged
// ids are sent as they are.
func (s *clusterServer) untagCAS(id uint64) (uint64, bool) {
	switch id >> casTagShift {
	case 0:
		return id, true
	case uint64(s.index + 1):
		return id & (1<<casTagShift - 1), true
	}
	return 0, false
}

// legalMemcachedKey reports whether key is a valid memcached key: 1 to 250
// bytes without spaces or control characters.
func legalMemcachedKey(key string) bool {
	if key == "" || len(key) > 250 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] == 0x7f {
			return false
		}
	}
	return true
}
