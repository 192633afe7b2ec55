package memcluster

import (
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

func TestServerHealthStates(t *testing.T) {
	var s server
	const backoff = int64(time.Second)
	now := int64(1_000_000_000_000)
	if s.available(now, backoff) != admitUp || s.markUp() {
		t.Fatal("a new server must be up")
	}
	if !s.markDown(now, backoff) || s.markDown(now, backoff) {
		t.Fatal("markDown must report only the up -> down transition")
	}
	if s.available(now+backoff-1, backoff) != admitNone {
		t.Fatal("available during the backoff")
	}
	if s.available(now+backoff, backoff) != admitProbe {
		t.Fatal("the first caller after the backoff must probe")
	}
	if s.available(now+backoff, backoff) != admitNone {
		t.Fatal("only one caller may probe")
	}
	if !s.markUp() || s.available(now+backoff, backoff) != admitUp {
		t.Fatal("a server that answered the probe must be up")
	}
}

func TestFailoverReplicas1(t *testing.T) {
	c, procs := startCluster(t, 3, 1, 50*time.Millisecond)
	keys := testKeys(300)
	setAll(t, c, keys, "v")

	victim := procs[1]
	victim.Stop()
	var lost []int
	for i, k := range keys {
		item, err := c.Get(k)
		checkErr(t, "get after the loss", k, err, memcache.ErrCacheMiss)
		owned := c.owners(k)[0] == victim.Addr
		switch {
		case owned && err == nil:
			t.Fatalf("key %d of the stopped server was found", i)
		case owned:
			lost = append(lost, i)
		case err != nil:
			t.Fatalf("key %d of a surviving server is missing", i)
		case string(item.Value) != "v"+strconv.Itoa(i):
			t.Fatalf("key %d = %q", i, item.Value)
		}
	}
	t.Logf("stopped server owned %d of %d keys", len(lost), len(keys))
	if len(lost) == 0 || len(lost) == len(keys) {
		t.Fatalf("the stopped server owned %d keys", len(lost))
	}

	// Writes for the lost keys land on each key's next server and read back.
	for _, i := range lost {
		k := keys[i]
		checkErr(t, "set after the loss", k, c.Set(&memcache.Item{Key: k, Value: []byte("w"), Expiration: 600}))
		mustGet(t, c, k, "w")
		if !heldBy(t, c.owners(k)[1], k, "w") {
			t.Fatalf("key %d did not land on its second server", i)
		}
	}
}

func TestReplicas2SurvivesLoss(t *testing.T) {
	// A backoff longer than the test keeps the dead server out for good: a
	// probe after a short backoff could make it primary again between a Get
	// and its CAS, which (as documented) answers ErrCASConflict.
	c, procs := startCluster(t, 3, 2, time.Minute)
	keys := testKeys(300)
	setAll(t, c, keys, "v")
	for i, k := range keys[:30] {
		owners := c.owners(k)
		if !heldBy(t, owners[0], k, "v"+strconv.Itoa(i)) || !heldBy(t, owners[1], k, "v"+strconv.Itoa(i)) {
			t.Fatalf("key %d is not on its two replicas", i)
		}
	}

	victim := procs[0]
	victim.Stop()
	for i, k := range keys {
		item := mustGet(t, c, k, "v"+strconv.Itoa(i))
		item.Value = []byte("c" + strconv.Itoa(i))
		checkErr(t, "cas after the loss", k, c.CompareAndSwap(item))
	}
	for i, k := range keys {
		mustGet(t, c, k, "c"+strconv.Itoa(i))
	}
}

func TestAllServersDown(t *testing.T) {
	c, procs := startCluster(t, 3, 2, time.Hour)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	c.now = func() time.Time { return time.Unix(0, clock.Load()) }
	key := testKey(7)
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("x")}))
	for _, p := range procs {
		p.Stop()
	}

	ops := map[string]func() error{
		"get":    func() error { _, err := c.Get(key); return err },
		"set":    func() error { return c.Set(&memcache.Item{Key: key, Value: []byte("y")}) },
		"add":    func() error { return c.Add(&memcache.Item{Key: key, Value: []byte("y")}) },
		"cas":    func() error { return c.CompareAndSwap(&memcache.Item{Key: key, Value: []byte("y"), CasID: 1}) },
		"delete": func() error { return c.Delete(key) },
		"touch":  func() error { return c.Touch(key, 60) },
	}
	for round := range 2 { // first failing I/O, then skipping servers in backoff
		toldWhy := 0                                                                   // errors that carry the failure met (the first op's)
		for _, name := range []string{"get", "set", "add", "cas", "delete", "touch"} { // get first: it meets the failure
			err := ops[name]()
			if !errors.Is(err, memcache.ErrNoServers) {
				t.Fatalf("round %d: %s with every server down: %v, want ErrNoServers", round, name, err)
			}
			checkErr(t, name, key, err, memcache.ErrNoServers)
			switch {
			case name == "delete": // fails closed with its own message (ErrUnconfirmed)
			case strings.Contains(err.Error(), "last failure"):
				toldWhy++
			case !strings.Contains(err.Error(), "servers in backoff"):
				t.Errorf("round %d: %s: %q says neither the last failure nor the backoff", round, name, err)
			}
		}
		if want := 1 - round; toldWhy < want || (round == 1 && toldWhy != 0) {
			t.Errorf("round %d: %d errors named the last failure, want %d", round, toldWhy, want)
		}
	}

	procs[0].Restart(t)
	clock.Add(int64(2 * time.Hour))
	waitFor(t, "service to resume", func() bool {
		err := c.Set(&memcache.Item{Key: key, Value: []byte("back")})
		checkErr(t, "set", key, err, memcache.ErrNoServers)
		return err == nil
	})
	mustGet(t, c, key, "back")
}

// dialCounter counts connection attempts.
type dialCounter struct {
	n atomic.Int64
	d net.Dialer
}

// DialContext dials and counts.
func (d *dialCounter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.n.Add(1)
	return d.d.DialContext(ctx, network, addr)
}

func TestBackoffProbesOnceAndRejoins(t *testing.T) {
	_, addrs := startServers(t, 1)
	live := addrs[0]
	deadAddr, err := memcachedtest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{} // the resync logs from its own goroutine
	c := newTestClient(t, []string{deadAddr, live}, Options{Timeout: time.Second, MaxIdleConns: 4, DownBackoff: time.Minute,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	c.now = func() time.Time { return time.Unix(0, clock.Load()) }
	dialer := &dialCounter{}
	dead := c.servers[0]
	dead.mc.DialContext = dialer.DialContext

	var key string
	for i := 0; ; i++ {
		if key = testKey(i); c.owners(key)[0] == deadAddr {
			break
		}
	}
	set := func(v string) {
		t.Helper()
		checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte(v), Expiration: 600}))
	}

	set("a") // fails over at once: no request fails
	if dialer.n.Load() != 1 || !heldBy(t, live, key, "a") {
		t.Fatalf("dials %d; the write must fail over to the live server", dialer.n.Load())
	}
	for range 5 {
		set("b")
	}
	if dialer.n.Load() != 1 {
		t.Fatalf("a server in backoff was dialed %d times", dialer.n.Load()-1)
	}
	clock.Add(int64(time.Minute))
	set("c")
	set("d")
	if dialer.n.Load() != 2 {
		t.Fatalf("after the backoff: %d dials, want exactly one probe", dialer.n.Load()-1)
	}

	memcachedtest.StartAt(t, deadAddr)
	clock.Add(int64(time.Minute))
	set("e")
	if !heldBy(t, deadAddr, key, "e") {
		t.Fatal("the recovered server did not rejoin after its backoff")
	}
	mustGet(t, c, key, "e")
	out := logs.String()
	if !strings.Contains(out, "memcached server down") || !strings.Contains(out, "memcached server rejoined") {
		t.Errorf("logs miss the down/rejoined transitions:\n%s", out)
	}
	if strings.Contains(out, key) {
		t.Errorf("logs leak the key:\n%s", out)
	}
}

func TestConcurrentCountersAcrossFailover(t *testing.T) {
	c, procs := startCluster(t, 3, 2, 20*time.Millisecond)
	const workers, increments = 4, 150
	keys := testKeys(workers)
	for _, k := range keys {
		checkErr(t, "add", k, c.Add(&memcache.Item{Key: k, Value: []byte("0"), Expiration: 600}))
	}
	var victim *memcachedtest.Server
	for _, p := range procs {
		if p.Addr == c.owners(keys[0])[0] {
			victim = p
		}
	}

	// Workers count up concurrently; the primary of keys[0] is killed while
	// they run, and restarted (empty) while they wait at the gate.
	var done atomic.Int64
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for _, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range increments {
				if i == increments/2 {
					<-gate
				}
				if err := increment(c, k); err != nil {
					t.Errorf("increment: %v", err)
					return
				}
				done.Add(1)
			}
		}()
	}
	waitFor(t, "some increments", func() bool { return done.Load() >= 40 })
	victim.Stop()
	waitFor(t, "the workers at the gate", func() bool { return done.Load() == workers*increments/2 })
	victim.Restart(t)
	waitFor(t, "the restarted server to rejoin", func() bool {
		_, err := c.Get(keys[0])
		checkErr(t, "get", keys[0], err)
		return heldBy(t, victim.Addr, keys[0], strconv.Itoa(increments/2))
	})
	close(gate)
	wg.Wait()

	for _, k := range keys {
		mustGet(t, c, k, strconv.Itoa(increments))
	}
}
