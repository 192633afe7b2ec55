package memcluster

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/internal/memcachedtest"
)

// waitRejoined writes a key led by addr until it lands there: the server
// at addr is back in service.
func waitRejoined(t *testing.T, c *Client, addr string) {
	t.Helper()
	var probe string
	for i := 10_000; ; i++ {
		if probe = testKey(i); c.owners(probe)[0] == addr {
			break
		}
	}
	waitFor(t, "the restarted server to rejoin", func() bool {
		checkErr(t, "probe set", probe, c.Set(&memcache.Item{Key: probe, Value: []byte("probe"), Expiration: 600}))
		return heldBy(t, addr, probe, "probe")
	})
}

// TestRollingRestartKeepsEveryKey restarts one server empty, reads every
// key once as requests would, then loses a second server for good: with
// two replicas, every key must survive. Keys that the second server leads
// and the restarted one follows are healed only by the warm-up window:
// their reads hit the primary.
func TestRollingRestartKeepsEveryKey(t *testing.T) {
	c, procs := startCluster(t, 3, 2, 50*time.Millisecond)
	a, b := procs[0], procs[1]
	keys := testKeys(300)
	setAll(t, c, keys, "v")
	followed := 0
	for _, k := range keys {
		if o := c.owners(k); o[0] == b.Addr && o[1] == a.Addr {
			followed++
		}
	}
	if followed == 0 {
		t.Fatal("no key is led by b and followed by a: the test would prove nothing")
	}

	a.Stop()
	a.Restart(t) // empty, same address
	waitRejoined(t, c, a.Addr)
	for i, k := range keys {
		mustGet(t, c, k, "v"+strconv.Itoa(i))
	}

	b.Stop()
	lost := 0
	for i, k := range keys {
		item, err := c.Get(k)
		checkErr(t, "get after losing a second server", k, err, memcache.ErrCacheMiss)
		if err != nil || string(item.Value) != "v"+strconv.Itoa(i) {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("rolling restart lost %d of %d keys (%d led by the second server and followed by the restarted one)", lost, len(keys), followed)
	}
}

// syncBuffer is a bytes.Buffer for loggers written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// count returns the number of lines that contain every one of parts.
func (b *syncBuffer) count(parts ...string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for line := range strings.Lines(b.buf.String()) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// TestKilledUnderLoadLogsOnce kills a server while 16 goroutines read and
// write, keeps the load on through several failed probes, restarts it and
// lets it rejoin: its log holds one "down" line and one "rejoined" line.
func TestKilledUnderLoadLogsOnce(t *testing.T) {
	procs, addrs := startServers(t, 3)
	logs := &syncBuffer{}
	c := newTestClient(t, addrs, Options{Replicas: 2, Timeout: time.Second, MaxIdleConns: 16,
		DownBackoff: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	keys := testKeys(64)
	setAll(t, c, keys, "v")
	victim := procs[0]

	var ops atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := keys[i%len(keys)]
				var err error
				if i%4 == 0 {
					err = c.Set(&memcache.Item{Key: k, Value: []byte("w"), Expiration: 600})
				} else {
					_, err = c.Get(k)
				}
				if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
					t.Errorf("under load: %v", err)
					return
				}
				ops.Add(1)
			}
		}()
	}
	waitFor(t, "load", func() bool { return ops.Load() > 2000 })
	victim.Stop()
	at := ops.Load()
	waitFor(t, "load through the outage", func() bool { return ops.Load() > at+5000 })
	time.Sleep(500 * time.Millisecond) // several backoffs: failed probes log nothing
	victim.Restart(t)
	server := "server=" + victim.Addr
	waitFor(t, "the rejoin", func() bool { return logs.count("rejoined", server) > 0 })
	at = ops.Load()
	waitFor(t, "load after the rejoin", func() bool { return ops.Load() > at+2000 })
	close(stop)
	wg.Wait()

	down, rejoined := logs.count("server down", server), logs.count("rejoined", server)
	if down != 1 || rejoined != 1 {
		t.Fatalf("one outage logged %d \"down\" and %d \"rejoined\" lines, want 1 each:\n%s", down, rejoined, logs.buf.String())
	}
}

// readGate holds back the next read of a connection until released.
type readGate struct {
	armed   atomic.Bool
	blocked chan struct{}
	release chan struct{}
}

// gatedConn is a connection whose reads wait at its gate while it is armed.
type gatedConn struct {
	net.Conn
	g *readGate
}

func (c gatedConn) Read(p []byte) (int, error) {
	if c.g.armed.CompareAndSwap(true, false) {
		c.g.blocked <- struct{}{}
		<-c.g.release
	}
	return c.Conn.Read(p)
}

// TestInFlightAnswerDoesNotRejoin kills a server while a read it already
// answered is in flight, and lets that answer arrive after another
// operation marked the server down: the old answer must not put the
// server back in service (nor log it as rejoined).
func TestInFlightAnswerDoesNotRejoin(t *testing.T) {
	procs, addrs := startServers(t, 2)
	logs := &syncBuffer{}
	c := newTestClient(t, addrs, Options{Timeout: time.Second, DownBackoff: time.Minute, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	victim := procs[0]
	var led []string
	for i := 0; len(led) < 2; i++ {
		if k := testKey(i); c.owners(k)[0] == victim.Addr {
			led = append(led, k)
		}
	}
	checkErr(t, "set", led[0], c.Set(&memcache.Item{Key: led[0], Value: []byte("v"), Expiration: 600}))
	s := c.servers[c.sel.rank(led[0], nil)[0]]
	gate := &readGate{blocked: make(chan struct{}), release: make(chan struct{})}
	var d net.Dialer
	s.mc.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		return gatedConn{Conn: conn, g: gate}, err
	}
	_ = s.mc.Close()

	before := commands(t, victim.Addr)
	gate.armed.Store(true)
	done := make(chan error, 1)
	go func() { _, err := c.Get(led[0]); done <- err }()
	<-gate.blocked
	waitFor(t, "memcached to answer the read", func() bool { return commands(t, victim.Addr) > before })
	victim.Stop()
	if _, err := c.Get(led[1]); !errors.Is(err, memcache.ErrCacheMiss) { // fails over
		t.Fatalf("get with the server dead: %v", err)
	}
	close(gate.release)
	if err := <-done; err != nil {
		t.Fatalf("the in-flight read: %v", err)
	}
	if s.downUntil.Load() == 0 || logs.count("rejoined") != 0 || logs.count("server down") != 1 {
		t.Fatalf("an answer sent before the server died put it back in service:\n%s", logs.buf.String())
	}
}

// TestOnlyTheProbeRejoins checks the rule behind logging once: an answer
// to an operation admitted before the server was marked down (in flight
// when it died) does not put it back; the probe's answer does.
func TestOnlyTheProbeRejoins(t *testing.T) {
	logs := &syncBuffer{}
	c, err := New([]string{"10.0.0.1:1", "10.0.0.2:1"}, Options{DownBackoff: time.Minute, RepairTTL: time.Hour,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	c.now = func() time.Time { return time.Unix(0, clock.Load()) }
	key := testKey(1)
	s := c.servers[c.sel.rank(key, nil)[0]]

	inFlight := c.begin(key, nil)
	failing := c.begin(key, nil)
	if inFlight.next() != s || failing.next() != s {
		t.Fatal("both operations must start on the primary")
	}
	if !failing.unreachable(s, net.ErrClosed) {
		t.Fatal("a closed connection must count as unreachable")
	}
	inFlight.unreachable(s, nil) // its answer arrives after the failure
	if s.downUntil.Load() == 0 || c.warming(clock.Load()) {
		t.Fatal("an answer to an operation admitted before the server was marked down put it back in service")
	}
	clock.Add(int64(time.Minute))
	probe := c.begin(key, nil)
	if probe.next() != s || !probe.probing(s) {
		t.Fatal("after the backoff the next operation must probe the server")
	}
	probe.unreachable(s, memcache.ErrCacheMiss)
	if s.downUntil.Load() != 0 || !c.warming(clock.Load()) || s.warmUntil.Load() != clock.Load()+int64(time.Hour) {
		t.Fatalf("the probe's answer must rejoin the server and open its window (warm until %d, now %d)", s.warmUntil.Load(), clock.Load())
	}
	if n, m := logs.count("server down"), logs.count("rejoined"); n != 1 || m != 1 {
		t.Fatalf("%d down and %d rejoined lines, want 1 each", n, m)
	}
}

func TestCopyExpiration(t *testing.T) {
	const rejoin = int64(1_900_000_000) * int64(time.Second)
	c := &Client{repairTTL: time.Minute, now: func() time.Time { return time.Unix(0, rejoin) }}
	s := &server{}
	if got := c.copyExpiration(s, rejoin); got != 60 {
		t.Fatalf("never rejoined: %d, want the repair TTL", got)
	}
	s.warmUntil.Store(rejoin + int64(time.Minute))
	sec := int64(time.Second)
	cases := []struct {
		at   int64
		want int32
	}{
		{rejoin - sec, 60},       // started before the rejoin: capped at the repair TTL
		{rejoin, 60},             // the whole window left
		{rejoin + 55*sec, 5},     // 5 s left
		{rejoin + 55*sec + 1, 4}, // rounded down
		{rejoin + 60*sec - 1, 1}, // under a second left: one, memcached's granularity
		{rejoin + 60*sec, 60},    // the window is over
	}
	for _, tc := range cases {
		if got := c.copyExpiration(s, tc.at); got != tc.want {
			t.Errorf("%v after the rejoin: %d, want %d", time.Duration(tc.at-rejoin), got, tc.want)
		}
	}
}

// commands returns the number of key commands the server at addr has
// served.
func commands(t *testing.T, addr string) int64 {
	t.Helper()
	st, err := memcachedtest.Stats(addr)
	if err != nil {
		t.Fatal(err)
	}
	return st["cmd_get"] + st["cmd_set"] + st["cmd_touch"] + st["delete_hits"] + st["delete_misses"]
}

// TestWarmUpWindow checks what a read costs and does before, inside and
// after a follower's warm-up window.
func TestWarmUpWindow(t *testing.T) {
	c, _ := startCluster(t, 3, 2, time.Minute)
	c.repairTTL = time.Minute
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	c.now = func() time.Time { return time.Unix(0, clock.Load()) }
	key := testKey(2)
	owners, rank := c.owners(key), c.sel.rank(key, nil)
	follower := owners[1]
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 600}))
	restarted := func() { // the follower comes back empty
		if err := direct(follower).Delete(key); err != nil {
			t.Fatal(err)
		}
	}
	// readAlone reads the key and reports whether the follower was left
	// alone: not asked, and still without the key.
	readAlone := func() bool {
		before := commands(t, follower)
		mustGet(t, c, key, "v")
		return commands(t, follower) == before && !heldBy(t, follower, key, "v")
	}

	restarted()
	if !readAlone() {
		t.Fatal("outside any window a read that hits the primary must not touch the follower")
	}

	c.rejoined(c.servers[rank[1]], false)
	clock.Add(int64(55 * time.Second))
	mustGet(t, c, key, "v")
	ttl, ok, err := memcachedtest.TTL(follower, key)
	if err != nil || !ok || ttl < 1 || ttl > 5 {
		t.Fatalf("inside the window: copy on the follower %v, TTL %d (%v), want one living at most the 5 s left", ok, ttl, err)
	}
	if err := c.Set(&memcache.Item{Key: key, Value: []byte("new"), Expiration: 600}); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, key, "new")
	if !heldBy(t, follower, key, "new") {
		t.Fatal("a copy made inside the window overwrote a newer write")
	}
	if err := c.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 600}); err != nil {
		t.Fatal(err)
	}

	restarted()
	clock.Add(int64(5 * time.Second)) // the window is over
	if !readAlone() {
		t.Fatal("after the window a read that hits the primary must not touch the follower")
	}
}

// addHook is a connection that runs before once, just before the first
// "add" command it sends.
type addHook struct {
	net.Conn
	once   *sync.Once
	before func()
}

func (h addHook) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte("add ")) {
		h.once.Do(h.before)
	}
	return h.Conn.Write(p)
}

// TestWarmUpCopyDoesNotUndoADelete deletes the key (a logout) between the
// read and the copy to a warming follower: the copy must not bring it back.
func TestWarmUpCopyDoesNotUndoADelete(t *testing.T) {
	c, _ := startCluster(t, 2, 2, time.Minute)
	key := testKey(3)
	owners, rank := c.owners(key), c.sel.rank(key, nil)
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 600}))
	if err := direct(owners[1]).Delete(key); err != nil { // restarted empty
		t.Fatal(err)
	}
	follower := c.servers[rank[1]]
	c.rejoined(follower, false)
	var once sync.Once
	var d net.Dialer
	follower.mc.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		return addHook{Conn: conn, once: &once, before: func() {
			// The Delete's tombstones, written as DeleteFor does, the
			// follower's first: the copy's Add is on its way to it.
			tomb := newTombstone(key, time.Now(), time.Minute)
			for _, addr := range []string{owners[1], owners[0]} {
				if err := direct(addr).Set(tomb); err != nil {
					t.Errorf("tombstone on %s: %v", addr, err)
				}
			}
		}}, err
	}
	_ = follower.mc.Close()

	mustGet(t, c, key, "v") // read before the delete
	if heldBy(t, owners[1], key, "v") {
		t.Fatal("the copy made after a concurrent delete was left on the follower")
	}
	if _, err := c.Get(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("get after the delete: %v, want a miss", err)
	}
}

// TestForeignCASDoesNotSpendTheProbe: a CompareAndSwap admitted as the
// probe of a server that is coming back, with a CAS id from another server,
// fails without contacting it; the next operation must probe it instead of
// leaving it out for another backoff.
func TestForeignCASDoesNotSpendTheProbe(t *testing.T) {
	c, _ := startCluster(t, 2, 1, time.Minute)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	c.now = func() time.Time { return time.Unix(0, clock.Load()) }
	key := testKey(6)
	rank := c.sel.rank(key, nil)
	primary, other := c.servers[rank[0]], c.servers[rank[1]]
	primary.markDown(clock.Load(), c.backoff)
	clock.Add(c.backoff)

	foreign := &memcache.Item{Key: key, Value: []byte("v"), CasID: other.tagCAS(1)}
	if err := c.CompareAndSwap(foreign); !errors.Is(err, memcache.ErrCASConflict) {
		t.Fatalf("CAS with another server's id: %v, want ErrCASConflict", err)
	}
	if _, err := c.Get(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("get: %v", err)
	}
	if primary.downUntil.Load() != 0 {
		t.Fatal("the CAS spent the probe without contacting the server: it stays out for another backoff")
	}
}
