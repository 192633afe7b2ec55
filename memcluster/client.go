package memcluster

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// Defaults for zero Options fields.
const (
	// DefaultDownBackoff is how long a server that could not be reached is
	// skipped when Options.DownBackoff is zero.
	DefaultDownBackoff = 5 * time.Second

	// DefaultRepairTTL is the expiration of read-repaired copies when
	// Options.RepairTTL is zero.
	DefaultRepairTTL = time.Minute
)

// MaxServers is the most servers New accepts: a server's position must fit
// the 8-bit tag it puts in CAS ids (see Client).
const MaxServers = 255

// Options configures a Client. The zero value of every field selects its
// default; negative values are refused, except for ResyncRate.
type Options struct {
	// Replicas is the number of servers each key is written to, from 1 (the
	// default) to the number of servers. With 2 or more a key survives the
	// loss of its primary server.
	Replicas int

	// Timeout is each server's socket read/write timeout (default
	// memcache.DefaultTimeout). A server that does not answer within it is
	// treated as down.
	Timeout time.Duration

	// MaxIdleConns is each server's idle-connection pool size (default
	// memcache.DefaultMaxIdleConns). Set it near the number of concurrent
	// requests, or connections are opened and closed under load.
	MaxIdleConns int

	// DownBackoff is how long a server that could not be reached is skipped
	// before one operation probes it again (default DefaultDownBackoff).
	DownBackoff time.Duration

	// RepairTTL is the expiration of the copy read repair makes on a key's
	// primary (default DefaultRepairTTL; at least one second), and the
	// length of a server's warm-up window after it rejoins (see Client).
	// memcached does not tell how long an item has left, so the copy cannot
	// keep the original's expiration: outside a window, an item may outlive
	// its own by up to RepairTTL (see Client). A shorter RepairTTL is the
	// safe side: a copy that expires early is repaired again from a
	// follower, or reads as a miss, which memcached allows at any time
	// (evictions). Set it to the longest expiration your items are written
	// with: the warm-up window then outlasts every item a restarted server
	// lacks. ginsession uses its IdleTimeout, whose expiration every
	// session write renews.
	RepairTTL time.Duration

	// CopyTTL is the expiration of the copy read repair makes on a key's
	// primary from another server's (default RepairTTL). memcached does
	// not tell how long an item has left, so the copy cannot keep the
	// original's end: a CopyTTL shorter than the original's makes the key
	// depend on the other copy once it runs out (a repair deletes a handoff
	// copy it replaced), a longer one lets the copy outlive the original.
	// ginsession sets it to its longest session life and checks each
	// record's own timestamps on every read.
	CopyTTL time.Duration

	// TombstoneTTL is how long Delete keeps a key deleted (default
	// DefaultTombstoneTTL): no copy of it can come back, from any server,
	// within that time (see Client). Set it to the longest expiration your
	// items are written with; DeleteFor sets it per call.
	TombstoneTTL time.Duration

	// ResyncRate is how many keys per second the resync of a rejoined
	// server copies (default DefaultResyncRate); a negative value turns
	// resync off, leaving the warm-up window alone to heal (see Client).
	ResyncRate int

	// TLS, when set, makes every connection to every server use TLS with
	// this configuration (memcached -Z); a client certificate in it
	// authenticates the Client to a memcached that requires one
	// (ssl_verify_mode=2). With an empty ServerName each server's host
	// name or IP address is verified. A failed handshake is a failed
	// operation: nothing falls back to plain TCP.
	TLS *tls.Config

	// Logger hears once when a server goes down and once when it rejoins
	// (one Warn and one Info record per outage); nil logs nothing. Log
	// records never contain keys.
	Logger *slog.Logger
}

// Client is a memcached client over several servers. Each key has a
// preference list: all servers in rendezvous order (see RendezvousSelector).
// Servers that fail are skipped for a backoff, which shifts each key to the
// next servers of its list. A Client is safe for concurrent use; its
// methods follow *memcache.Client's, sentinel errors included.
//
// Placement. The first R reachable servers of a key's list (R =
// Options.Replicas) form its write set; the first of them is the key's
// primary, the others its followers. The read set is the write set plus one
// more reachable server, the handoff, which holds the key's copy when its
// primary was away.
//
// Writes: primary decides. Add, Set and CompareAndSwap run on the primary
// (the first server of the read set that is not syncing) and its answer is
// returned, ErrNotStored and ErrCASConflict included. Only after it
// succeeds are the followers brought to the primary's value: each is read,
// the primary is read, and the primary's value is written with Add or
// CompareAndSwap on what the follower held, so that neither a copy of an
// older write nor anything over a tombstone lands. A follower that cannot
// be reached is marked down and replaced by the next reachable server;
// other follower answers are ignored. When the primary stops answering
// before that, the write is reported done only if every follower holds it
// (ErrUnconfirmed otherwise). A Set the primary refuses (a too-large item:
// memcached then drops the old value) deletes the other copies of the read
// set, as a single server would.
//
// Reads. Get asks the read set in order and the first answer wins, so a
// hit on the primary costs one round trip and a miss costs up to R+2 (the
// first server is asked again, in case a repair moved the key onto it). A
// tombstone is an answer: the key is deleted, and its tombstone is copied
// to the servers before it that missed. When the primary misses a key that
// a later server holds (the primary restarted empty and rejoined, or the
// key was written while it was away), Get copies the item back to the
// primary with Add (with Options.RepairTTL as its expiration) and returns
// the primary's copy.
//
// Delete. A deleted key is overwritten, not removed: DeleteFor writes a
// tombstone to every reachable server, and fails with ErrUnconfirmed when
// a server of the key's confirm set (its first max(R, 2) servers, up or
// not) cannot be reached. Every copy the client makes (replication,
// repair, warm-up healing, resync) uses Add or CompareAndSwap, which never
// replace a tombstone. Touch goes to the write set and leaves tombstones
// alone.
//
// Warm-up and resync. A server that rejoins may have restarted empty, or
// may have been cut off with its data and now hold old copies; a read that
// hits it does not tell. So from its rejoin the server is syncing: reads
// ask it only after every other server missed, it is nobody's primary, and
// every write is copied to it. A background resync (Options.ResyncRate
// keys per second) lists the keys of the other servers with memcached's
// lru_crawler metadump and, for each key whose home set it belongs to,
// copies the item from the server that decided the key while it was away
// (the first other server of its order), with its own expiration: where it
// lacks the key with Add, over its own older copy with CompareAndSwap,
// tombstones with Set. Then the server serves again and drains: a second
// pass, and every write it decides, delete the handoff copies it took
// over. If the listing fails (a memcached without the LRU crawler), the
// server serves its copies as they are. For Options.RepairTTL after the
// rejoin (its warm-up window), a Get that finds a key also copies it with
// Add to the servers of its write set that lack it, the syncing server
// included (the Add costs one more round trip). A copy made on a warming
// server lives at most until the end of its window. A restart the client
// does not notice (no operation failed against the server while it was
// down) is neither warmed up nor resynced.
//
// CAS ids. CAS ids belong to the server that issued them; Get returns them
// tagged with that server (the top 8 bits; memcached's own counter never
// gets there). CompareAndSwap always goes to the current primary: an item
// tagged by another server, because the primary changed since the Get,
// fails with ErrCASConflict without touching any server, so the caller
// re-reads and merges. Untagged ids (items not from this client) go to the
// primary as they are. A CompareAndSwap over a tombstone answers
// ErrCacheMiss, as memcached answers one of a deleted key.
//
// Failover. An operation that cannot reach a server (refused or reset
// connection, timeout, EOF: anything but a memcached answer) marks it down
// for the backoff and moves on to the next server at once, so a lost server
// fails no request by itself (the request that finds it down waits up to
// the socket timeout when the server hangs instead of refusing). Once the
// backoff has passed, one operation probes the server (everyone else keeps
// skipping it); it rejoins as soon as the probe answers and starts its
// warm-up window and resync. Answers to operations that were already in
// flight when it was marked down do not bring it back, so an outage is
// logged once (down) and once (rejoined). With no reachable server,
// operations fail with an error wrapping memcache.ErrNoServers.
//
// # Consistency model
//
// Terms: a key's home set is the first R servers of its rendezvous order;
// "down" covers a stopped server, one restarted empty, and one cut off by a
// partition (up, with its data, but unreachable for a while), which the
// client cannot tell apart while it lasts.
//
// Deletes (the guarantee sessions rely on). A DeleteFor that returned
// success wrote its tombstone to every server of the key's confirm set and
// every other server it could reach. Until the tombstone's life ends, no
// Get through any Client returns the key again — not by repair,
// replication, warm-up healing, resync, failover or a server that comes
// back with old data — unless a write of the key (Set, Add) replaced the
// tombstone on purpose, or two servers of the confirm set are lost (stop
// answering, or restart empty) while a server that was away at the delete
// still holds an old copy it did not drop on its return (its resync drops
// the copies of keys it is not home to). A DeleteFor that cannot reach a
// server of the confirm set fails with ErrUnconfirmed: with R = 1 that is
// the key's home server and the one after it, with R >= 2 its home
// servers. So with a server down, deletes of the keys it confirms fail
// until it is back: the price of never answering success for a delete
// that a returning server could undo.
//
// Reads and writes, all servers up: each key lives on its primary, which
// serializes Add and CompareAndSwap as one memcached does; a Get sees the
// last write the primary accepted. Followers may lag by one write.
//
// One server down (stopped, restarted empty, or cut off): its keys fail
// over to the next servers of their order. With R = 1 the keys it led are
// lost (reads miss) until it is back; with R >= 2 their follower serves the
// last acknowledged write: a write is acknowledged only once its followers
// hold it, or the primary's newer value (when the primary is lost before
// that can be shown, the write fails with ErrUnconfirmed). When the server
// rejoins, empty or with old data, it resyncs before it is read again, so
// what was written and deleted while it was away is neither lost nor
// undone.
//
// What is not guaranteed. Failover is per Client: two processes that see
// different servers down (an asymmetric partition) can accept writes of one
// key on two servers, and the resync then keeps the copy of the server
// that decided for this Client. With R = 1 a server that restarts empty
// loses the writes of the keys it led. A metadump is no snapshot: a key
// every peer's listing missed is copied back by the first read instead.
// Expirations are approximate across copies (each server's clock ticks on
// its own, and a copy of a value this Client did not write gets CopyTTL).
//
// Errors never contain keys. Health is per server and per Client.
type Client struct {
	sel       *RendezvousSelector
	servers   []*server // index-aligned with sel.addrs
	replicas  int       // R: servers each write goes to
	readWidth int       // servers a Get consults: R plus the handoff
	// confirmWidth is how many servers of a key's order a delete must
	// reach: R, and at least two, so that a copy left on a server that
	// was away stays unread until two servers fail.
	confirmWidth int
	backoff      int64         // nanoseconds a failed server is skipped
	repairTTL    time.Duration // at least a second; also the warm-up window
	tombTTL      time.Duration // Delete's tombstone life
	copyTTL      time.Duration // a read-repaired copy's life on the primary
	timeout      time.Duration // each server's socket timeout
	dial         dialFunc      // opens a server connection: TCP, or TLS with Options.TLS

	// resyncRate is the keys per second a resync copies; negative: off.
	resyncRate int
	// closed is closed by Close, which stops the resyncs and waits for
	// them (resyncs counts those running).
	closed    chan struct{}
	closeOnce sync.Once
	resyncs   sync.WaitGroup
	logger    *slog.Logger // never nil

	// warmUntil is the Unix time in nanoseconds when the last warm-up
	// window of any server ends (see warmup.go).
	warmUntil atomic.Int64

	// now is the clock used for backoffs and repair expirations; tests
	// replace it.
	now func() time.Time
}

// New returns a Client over servers ("host:port", or the path of a Unix
// socket; each listed once, in any order, the same strings on every
// application instance). It fails when the list is empty or longer than
// MaxServers, when an address does not resolve, when two entries name the
// same server, and when opts holds a negative value or more Replicas than
// servers. It does not contact the servers.
func New(servers []string, opts Options) (*Client, error) {
	switch {
	case len(servers) > MaxServers:
		return nil, fmt.Errorf("memcluster: at most %d servers (got %d)", MaxServers, len(servers))
	case opts.Replicas < 0 || opts.Replicas > len(servers):
		return nil, fmt.Errorf("memcluster: Replicas must be between 1 and the number of servers (%d), got %d", len(servers), opts.Replicas)
	case opts.Timeout < 0 || opts.MaxIdleConns < 0 || opts.DownBackoff < 0 || opts.RepairTTL < 0 || opts.TombstoneTTL < 0 || opts.CopyTTL < 0:
		return nil, errors.New("memcluster: Timeout, MaxIdleConns, DownBackoff, RepairTTL, CopyTTL and TombstoneTTL must not be negative")
	case opts.RepairTTL > 0 && opts.RepairTTL < time.Second:
		return nil, fmt.Errorf("memcluster: RepairTTL must be at least one second (memcached expirations are whole seconds), got %v", opts.RepairTTL)
	}
	sel, err := NewRendezvousSelector(servers...)
	if err != nil {
		return nil, err
	}
	replicas := max(opts.Replicas, 1)
	repairTTL := cmp.Or(opts.RepairTTL, DefaultRepairTTL)
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		timeout:      cmp.Or(opts.Timeout, memcache.DefaultTimeout),
		resyncRate:   cmp.Or(opts.ResyncRate, DefaultResyncRate),
		closed:       make(chan struct{}),
		sel:          sel,
		servers:      make([]*server, len(servers)),
		replicas:     replicas,
		readWidth:    min(replicas+1, len(servers)),
		confirmWidth: min(max(replicas, 2), len(servers)),
		backoff:      int64(cmp.Or(opts.DownBackoff, DefaultDownBackoff)),
		repairTTL:    repairTTL,
		tombTTL:      cmp.Or(opts.TombstoneTTL, DefaultTombstoneTTL),
		copyTTL:      max(cmp.Or(opts.CopyTTL, repairTTL), time.Second),
		dial:         dialer(opts.TLS),
		logger:       logger,
		now:          time.Now,
	}
	for i, addr := range sel.addrs {
		c.servers[i] = newServer(sel.names[i], i, addr, opts.Timeout, opts.MaxIdleConns, c.dial)
	}
	return c, nil
}

// Delete deletes the key for Options.TombstoneTTL: see DeleteFor.
func (c *Client) Delete(key string) error {
	return c.DeleteFor(key, c.tombTTL)
}

// Touch sets the key's expiration on its write set. It succeeds when at
// least one server held the key and returns memcache.ErrCacheMiss when none
// did; a tombstone counts as not holding it and is left as it is.
func (c *Client) Touch(key string, seconds int32) error {
	return c.onEach(key, c.replicas, func(s *server) error {
		item, err := s.mc.Get(key)
		if err == nil && isTombstone(item) {
			return memcache.ErrCacheMiss
		}
		if err != nil {
			return err
		}
		return s.mc.Touch(key, seconds)
	})
}

// onEach runs fn on the first width reachable servers of key. It returns an
// unexpected answer if any server gave one, else nil if any server held the
// key, else memcache.ErrCacheMiss.
func (c *Client) onEach(key string, width int, fn func(*server) error) error {
	if !ValidKey(key) {
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

// Close stops the resyncs running in the background, waiting for them, and
// closes the idle connections of every server. The Client stays usable:
// later operations open new connections, and no server is resynced.
func (c *Client) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	c.resyncs.Wait()
	var errs []error
	for _, s := range c.servers {
		if err := s.mc.Close(); err != nil {
			errs = append(errs, fmt.Errorf("memcluster: close %s: %w", s.name, err))
		}
	}
	return errors.Join(errs...)
}

// owners returns the addresses of key's servers in rendezvous order,
// ignoring health: the first is its primary while every server is up.
func (c *Client) owners(key string) []string {
	order := c.sel.rank(key, nil)
	names := make([]string, len(order))
	for i, idx := range order {
		names[i] = c.sel.names[idx]
	}
	return names
}
