package ginsession

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// clusterTestKey returns a key shaped like a session key (prefix +
// base64url(SHA-256)).
func clusterTestKey(i int) string {
	sum := sha256.Sum256([]byte("cluster-test-" + strconv.Itoa(i)))
	return DefaultKeyPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// clusterTestKeys returns n session-shaped keys.
func clusterTestKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = clusterTestKey(i)
	}
	return keys
}

// startCluster starts n private memcached processes and a clusterClient over
// them.
func startCluster(t *testing.T, n, replicas int, backoff time.Duration) (*clusterClient, []*memcachedProc) {
	t.Helper()
	procs := make([]*memcachedProc, n)
	addrs := make([]string, n)
	for i := range procs {
		procs[i] = startMemcached(t)
		addrs[i] = procs[i].addr
	}
	c, err := newClusterClient(addrs, replicas, time.Second, 8, backoff)
	if err != nil {
		t.Fatalf("newClusterClient: %v", err)
	}
	return c, procs
}

// clusterDirect returns a plain client for one server, to look behind the
// cluster client's back.
func clusterDirect(addr string) *memcache.Client {
	mc := memcache.New(addr)
	mc.Timeout = time.Second
	return mc
}

// clusterHeldBy reports whether the server at addr holds key with value want.
func clusterHeldBy(t *testing.T, addr, key, want string) bool {
	t.Helper()
	item, err := clusterDirect(addr).Get(key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return false
	}
	if err != nil {
		t.Fatalf("direct get on %s: %v", addr, err)
	}
	return string(item.Value) == want
}

// clusterWaitFor polls cond until it holds, failing the test after a generous
// deadline. It asserts an outcome, never a duration.
func clusterWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkClusterErr fails the test for an error that is neither nil nor one
// of the allowed sentinels, or that leaks the key.
func checkClusterErr(t *testing.T, op, key string, err error, allowed ...error) {
	t.Helper()
	if err == nil {
		return
	}
	if strings.Contains(err.Error(), key) {
		t.Fatalf("%s: error leaks the key: %v", op, err)
	}
	for _, a := range allowed {
		if errors.Is(err, a) {
			return
		}
	}
	t.Fatalf("%s: unexpected error: %v", op, err)
}

// clusterMustGet reads key through c and checks its value.
func clusterMustGet(t *testing.T, c Client, key, want string) *memcache.Item {
	t.Helper()
	item, err := c.Get(key)
	if err != nil {
		t.Fatalf("get: %v (want %q)", err, want)
	}
	if string(item.Value) != want {
		t.Fatalf("get = %q, want %q", item.Value, want)
	}
	return item
}

// clusterSetAll stores value+index under every key through c.
func clusterSetAll(t *testing.T, c Client, keys []string, value string) {
	t.Helper()
	for i, k := range keys {
		err := c.Set(&memcache.Item{Key: k, Value: []byte(value + strconv.Itoa(i)), Expiration: 600})
		checkClusterErr(t, "set", k, err)
	}
}

func TestRendezvousSpreadAndMovement(t *testing.T) {
	three := []string{"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"}
	four := append(append([]string(nil), three...), "10.0.0.4:11211")
	sel3, err := NewRendezvousSelector(three...)
	if err != nil {
		t.Fatal(err)
	}
	sel4, err := NewRendezvousSelector(four...)
	if err != nil {
		t.Fatal(err)
	}
	reversed, err := NewRendezvousSelector(three[2], three[1], three[0])
	if err != nil {
		t.Fatal(err)
	}

	const n = 10000
	counts := map[string]int{}
	moved := 0
	for i := range n {
		key := clusterTestKey(i)
		a3, _ := sel3.PickServer(key)
		a4, _ := sel4.PickServer(key)
		ar, _ := reversed.PickServer(key)
		counts[a3.String()]++
		if ar.String() != a3.String() {
			t.Fatalf("server order changed the owner of key %d: %s vs %s", i, a3, ar)
		}
		if a4.String() != a3.String() {
			moved++
			if a4.String() != four[3] {
				t.Fatalf("key %d moved from %s to %s, not to the new server", i, a3, a4)
			}
		}
	}
	for _, s := range three {
		if share := float64(counts[s]) / n; share < 0.9/3 || share > 1.1/3 {
			t.Errorf("server %s owns %.3f of the keys, want 1/3 ± 10%%", s, share)
		}
	}
	fraction := float64(moved) / n
	t.Logf("3 servers: %v; 3 -> 4 servers moved %d of %d keys (%.2f%%, ideal 25%%)", counts, moved, n, 100*fraction)
	if fraction > 0.30 {
		t.Errorf("3 -> 4 servers moved %.3f of the keys, want <= 0.30", fraction)
	}
}

func TestRendezvousRemovalMovesOnlyThatServersKeys(t *testing.T) {
	sel3, _ := NewRendezvousSelector("10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211")
	sel2, _ := NewRendezvousSelector("10.0.0.1:11211", "10.0.0.3:11211")
	for i := range 2000 {
		key := clusterTestKey(i)
		before, _ := sel3.PickServer(key)
		after, _ := sel2.PickServer(key)
		if before.String() != "10.0.0.2:11211" && before.String() != after.String() {
			t.Fatalf("key %d moved from %s to %s though its server stayed", i, before, after)
		}
		// The failover order is the same ranking: the second choice on
		// three servers is the owner once the first is gone.
		order := sel3.rank(key, nil)
		if before.String() == "10.0.0.2:11211" && sel3.addrs[order[1]].String() != after.String() {
			t.Fatalf("key %d: second choice %s, owner without the first %s", i, sel3.addrs[order[1]], after)
		}
	}
}

func TestRendezvousRankDoesNotAllocate(t *testing.T) {
	sel, _ := NewRendezvousSelector("10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211", "10.0.0.4:11211")
	key := clusterTestKey(1)
	allocs := testing.AllocsPerRun(100, func() {
		var buf [rankStack]int
		if order := sel.rank(key, buf[:0]); len(order) != 4 {
			t.Fatal("short order")
		}
		if _, err := sel.PickServer(key); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("rank + PickServer allocate %v times per call, want 0", allocs)
	}
}

func TestRendezvousSelectorEach(t *testing.T) {
	sel, _ := NewRendezvousSelector("10.0.0.1:11211", "10.0.0.2:11211")
	var got []string
	if err := sel.Each(func(a net.Addr) error { got = append(got, a.String()); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "10.0.0.1:11211,10.0.0.2:11211" {
		t.Errorf("Each visited %v", got)
	}
	stop := errors.New("stop")
	if err := sel.Each(func(net.Addr) error { return stop }); err != stop {
		t.Errorf("Each returned %v, want the callback's error", err)
	}
	if _, err := (&RendezvousSelector{}).PickServer("k"); !errors.Is(err, memcache.ErrNoServers) {
		t.Errorf("empty selector: %v, want ErrNoServers", err)
	}
}

func TestNewClusterClientRejectsBadConfig(t *testing.T) {
	many := make([]string, maxClusterServers+1)
	for i := range many {
		many[i] = "10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250+1) + ":11211"
	}
	cases := []struct {
		name     string
		servers  []string
		replicas int
		backoff  time.Duration
	}{
		{"no servers", nil, 1, 0},
		{"zero replicas", []string{"10.0.0.1:1", "10.0.0.2:1"}, 0, 0},
		{"too many replicas", []string{"10.0.0.1:1", "10.0.0.2:1"}, 3, 0},
		{"duplicate", []string{"10.0.0.1:1", "10.0.0.1:1"}, 1, 0},
		{"same server twice", []string{"10.0.0.1:1", "10.0.0.1:01"}, 1, 0},
		{"no port", []string{"10.0.0.1", "10.0.0.2:1"}, 1, 0},
		{"negative backoff", []string{"10.0.0.1:1", "10.0.0.2:1"}, 1, -time.Second},
		{"too many servers", many, 1, 0},
	}
	for _, tc := range cases {
		if _, err := newClusterClient(tc.servers, tc.replicas, time.Second, 2, tc.backoff); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	c, err := newClusterClient([]string{"10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"}, 3, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.backoff != int64(DefaultDownBackoff) || c.readWidth != 3 || c.replicas != 3 {
		t.Errorf("backoff %v, readWidth %d, replicas %d", time.Duration(c.backoff), c.readWidth, c.replicas)
	}
	var _ Client = c
}

func TestClusterServerHealthStates(t *testing.T) {
	var s clusterServer
	const backoff = int64(time.Second)
	now := int64(1_000_000_000_000)
	if !s.available(now, backoff) || s.markUp() {
		t.Fatal("a new server must be up")
	}
	if !s.markDown(now, backoff) || s.markDown(now, backoff) {
		t.Fatal("markDown must report only the up -> down transition")
	}
	if s.available(now+backoff-1, backoff) {
		t.Fatal("available during the backoff")
	}
	if !s.available(now+backoff, backoff) {
		t.Fatal("the first caller after the backoff must probe")
	}
	if s.available(now+backoff, backoff) {
		t.Fatal("only one caller may probe")
	}
	if !s.markUp() || !s.available(now+backoff, backoff) {
		t.Fatal("a server that answered the probe must be up")
	}
}

func TestClusterCASIDsAreTaggedPerServer(t *testing.T) {
	a, b := &clusterServer{index: 0}, &clusterServer{index: 4}
	id := a.tagCAS(12345)
	if raw, ok := a.untagCAS(id); !ok || raw != 12345 {
		t.Fatalf("untag own id: %d %v", raw, ok)
	}
	if _, ok := b.untagCAS(id); ok {
		t.Fatal("another server accepted a foreign CAS id")
	}
	if raw, ok := b.untagCAS(777); !ok || raw != 777 {
		t.Fatal("untagged ids must pass through")
	}
}

func TestClusterCASSemantics(t *testing.T) {
	c, _ := startCluster(t, 3, 2, 50*time.Millisecond)
	key := clusterTestKey(42)
	owners := c.owners(key)

	checkClusterErr(t, "add", key, c.Add(&memcache.Item{Key: key, Value: []byte("v1"), Expiration: 600}))
	if err := c.Add(&memcache.Item{Key: key, Value: []byte("again")}); !errors.Is(err, memcache.ErrNotStored) {
		t.Fatalf("second Add: %v, want ErrNotStored", err)
	}
	if !clusterHeldBy(t, owners[0], key, "v1") || !clusterHeldBy(t, owners[1], key, "v1") || clusterHeldBy(t, owners[2], key, "v1") {
		t.Fatal("Add must land on the primary and the follower only")
	}

	item := clusterMustGet(t, c, key, "v1")
	stale := *item
	item.Value = []byte("v2")
	checkClusterErr(t, "cas", key, c.CompareAndSwap(item))
	if !clusterHeldBy(t, owners[1], key, "v2") {
		t.Fatal("the follower did not receive the CAS result")
	}
	stale.Value = []byte("lost")
	if err := c.CompareAndSwap(&stale); !errors.Is(err, memcache.ErrCASConflict) {
		t.Fatalf("stale CAS: %v, want ErrCASConflict", err)
	}

	// A CAS id issued by another server (the primary changed since the Get)
	// conflicts without touching the data.
	foreign := clusterMustGet(t, c, key, "v2")
	foreign.CasID = c.servers[c.sel.rank(key, nil)[1]].tagCAS(foreign.CasID &^ (0xff << casTagShift))
	foreign.Value = []byte("foreign")
	if err := c.CompareAndSwap(foreign); !errors.Is(err, memcache.ErrCASConflict) {
		t.Fatalf("CAS with a follower's id: %v, want ErrCASConflict", err)
	}
	clusterMustGet(t, c, key, "v2")

	checkClusterErr(t, "touch", key, c.Touch(key, 600))
	checkClusterErr(t, "delete", key, c.Delete(key))
	for _, o := range owners {
		if clusterHeldBy(t, o, key, "v2") {
			t.Fatalf("server %s still holds the deleted key", o)
		}
	}
	if _, err := c.Get(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("get after delete: %v", err)
	}
	if err := c.Delete(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("second delete: %v, want ErrCacheMiss", err)
	}
	if err := c.Touch(key, 60); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("touch of a missing key: %v, want ErrCacheMiss", err)
	}
	if err := c.CompareAndSwap(item); !errors.Is(err, memcache.ErrCacheMiss) && !errors.Is(err, memcache.ErrNotStored) {
		t.Fatalf("CAS of a deleted key: %v, want ErrCacheMiss or ErrNotStored", err)
	}
	if _, err := c.Get("bad key"); !errors.Is(err, memcache.ErrMalformedKey) {
		t.Fatalf("malformed key: %v", err)
	}
	if err := c.Set(nil); !errors.Is(err, memcache.ErrMalformedKey) {
		t.Fatalf("nil item: %v", err)
	}
}

func TestClusterOversizedSetDropsCopies(t *testing.T) {
	c, _ := startCluster(t, 3, 2, 50*time.Millisecond)
	key := clusterTestKey(9)
	checkClusterErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("small"), Expiration: 600}))
	err := c.Set(&memcache.Item{Key: key, Value: bytes.Repeat([]byte("x"), 1<<20+1)})
	if err == nil || errors.Is(err, memcache.ErrNoServers) {
		t.Fatalf("oversized set: %v, want memcached's refusal", err)
	}
	checkClusterErr(t, "oversized set", key, err, err) // only checks the key is not leaked
	if _, err := c.Get(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("get after a refused set: %v, want ErrCacheMiss as on one server", err)
	}
	for _, o := range c.owners(key) {
		if clusterHeldBy(t, o, key, "small") {
			t.Fatalf("server %s kept the old value", o)
		}
	}
	if !c.servers[0].available(time.Now().UnixNano(), c.backoff) || !c.servers[1].available(time.Now().UnixNano(), c.backoff) {
		t.Fatal("a refused set must not mark servers down")
	}
}

func TestClusterFailoverReplicas1(t *testing.T) {
	c, procs := startCluster(t, 3, 1, 50*time.Millisecond)
	keys := clusterTestKeys(300)
	clusterSetAll(t, c, keys, "v")

	victim := procs[1]
	victim.stop()
	var lost []int
	for i, k := range keys {
		item, err := c.Get(k)
		checkClusterErr(t, "get after the loss", k, err, memcache.ErrCacheMiss)
		owned := c.owners(k)[0] == victim.addr
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
		checkClusterErr(t, "set after the loss", k, c.Set(&memcache.Item{Key: k, Value: []byte("w"), Expiration: 600}))
		clusterMustGet(t, c, k, "w")
		if !clusterHeldBy(t, c.owners(k)[1], k, "w") {
			t.Fatalf("key %d did not land on its second server", i)
		}
	}
}

func TestClusterReplicas2SurvivesLoss(t *testing.T) {
	// A backoff longer than the test keeps the dead server out for good: a
	// probe after a short backoff could make it primary again between a Get
	// and its CAS, which (as documented) answers ErrCASConflict.
	c, procs := startCluster(t, 3, 2, time.Minute)
	keys := clusterTestKeys(300)
	clusterSetAll(t, c, keys, "v")
	for i, k := range keys[:30] {
		owners := c.owners(k)
		if !clusterHeldBy(t, owners[0], k, "v"+strconv.Itoa(i)) || !clusterHeldBy(t, owners[1], k, "v"+strconv.Itoa(i)) {
			t.Fatalf("key %d is not on its two replicas", i)
		}
	}

	victim := procs[0]
	victim.stop()
	for i, k := range keys {
		item := clusterMustGet(t, c, k, "v"+strconv.Itoa(i))
		item.Value = []byte("c" + strconv.Itoa(i))
		checkClusterErr(t, "cas after the loss", k, c.CompareAndSwap(item))
	}
	for i, k := range keys {
		clusterMustGet(t, c, k, "c"+strconv.Itoa(i))
	}
}

func TestClusterRejoin(t *testing.T) {
	for _, replicas := range []int{1, 2} {
		t.Run("replicas="+strconv.Itoa(replicas), func(t *testing.T) {
			testClusterRejoin(t, replicas)
		})
	}
}

// testClusterRejoin stops a server, writes through the outage, restarts it
// (empty) and checks that it rejoins without losing what was written
// meanwhile.
func testClusterRejoin(t *testing.T, replicas int) {
	c, procs := startCluster(t, 3, replicas, 50*time.Millisecond)
	keys := clusterTestKeys(300)
	clusterSetAll(t, c, keys, "before")

	victim := procs[2]
	victim.stop()
	clusterSetAll(t, c, keys, "during")
	var owned []int
	for i, k := range keys {
		clusterMustGet(t, c, k, "during"+strconv.Itoa(i))
		if c.owners(k)[0] == victim.addr {
			owned = append(owned, i)
		}
	}

	victim.restart(t)
	probe := keys[owned[0]]
	clusterWaitFor(t, "the restarted server to rejoin", func() bool {
		checkClusterErr(t, "probe set", probe, c.Set(&memcache.Item{Key: probe, Value: []byte("probe"), Expiration: 600}))
		return clusterHeldBy(t, victim.addr, probe, "probe")
	})

	// What was written during the outage is still served, and read repair
	// copies it back to the rejoined (empty) primary.
	for i, k := range keys {
		if k != probe {
			clusterMustGet(t, c, k, "during"+strconv.Itoa(i))
		}
	}
	for _, i := range owned[1:] {
		if !clusterHeldBy(t, victim.addr, keys[i], "during"+strconv.Itoa(i)) {
			t.Fatalf("key %d was not repaired onto its rejoined primary", i)
		}
	}
	// New writes for its keys land on it again, and CAS works there.
	for _, i := range owned {
		k := keys[i]
		item, err := c.Get(k)
		checkClusterErr(t, "get", k, err)
		item.Value = []byte("after")
		checkClusterErr(t, "cas after rejoin", k, c.CompareAndSwap(item))
		if !clusterHeldBy(t, victim.addr, k, "after") {
			t.Fatalf("key %d: write after rejoin did not land on its primary", i)
		}
	}
	// Losing the primary again must not bring back the copies written
	// during the first outage: read repair deleted those outside the write
	// set, and the follower (replicas=2) has the latest value. (The probe
	// key was written to the primary without a read, so no repair saw its
	// handoff copy; ginsession always reads a session before writing it.)
	victim.stop()
	for _, i := range owned[1:] {
		k := keys[i]
		item, err := c.Get(k)
		switch {
		case replicas == 1 && !errors.Is(err, memcache.ErrCacheMiss):
			t.Fatalf("key %d after losing its primary again: %v %q, want a miss (its only copy is gone)", i, err, itemValue(item))
		case replicas == 2 && (err != nil || string(item.Value) != "after"):
			t.Fatalf("key %d after losing its primary again: %v %q, want the follower's \"after\"", i, err, itemValue(item))
		}
	}
}

// itemValue returns item's value, or "" for nil.
func itemValue(item *memcache.Item) string {
	if item == nil {
		return ""
	}
	return string(item.Value)
}

func TestClusterAllServersDown(t *testing.T) {
	c, procs := startCluster(t, 3, 2, time.Hour)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	c.now = func() time.Time { return time.Unix(0, clock.Load()) }
	key := clusterTestKey(7)
	checkClusterErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("x")}))
	for _, p := range procs {
		p.stop()
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
		for name, op := range ops {
			err := op()
			if !errors.Is(err, memcache.ErrNoServers) {
				t.Fatalf("round %d: %s with every server down: %v, want ErrNoServers", round, name, err)
			}
			checkClusterErr(t, name, key, err, memcache.ErrNoServers)
		}
	}

	procs[0].restart(t)
	clock.Add(int64(2 * time.Hour))
	clusterWaitFor(t, "service to resume", func() bool {
		err := c.Set(&memcache.Item{Key: key, Value: []byte("back")})
		checkClusterErr(t, "set", key, err, memcache.ErrNoServers)
		return err == nil
	})
	clusterMustGet(t, c, key, "back")
}

// clusterDialCounter counts connection attempts.
type clusterDialCounter struct {
	n atomic.Int64
	d net.Dialer
}

// DialContext dials and counts.
func (d *clusterDialCounter) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.n.Add(1)
	return d.d.DialContext(ctx, network, addr)
}

func TestClusterBackoffProbesOnceAndRejoins(t *testing.T) {
	live := startMemcached(t)
	deadAddr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	c, err := newClusterClient([]string{deadAddr, live.addr}, 1, time.Second, 4, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	c.now = func() time.Time { return time.Unix(0, clock.Load()) }
	var logs logBuffer
	c.logger = slog.New(slog.NewTextHandler(&logs, nil))
	dialer := &clusterDialCounter{}
	dead := c.servers[0]
	dead.mc.DialContext = dialer.DialContext

	var key string
	for i := 0; ; i++ {
		if key = clusterTestKey(i); c.owners(key)[0] == deadAddr {
			break
		}
	}
	set := func(v string) {
		t.Helper()
		checkClusterErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte(v), Expiration: 600}))
	}

	set("a") // fails over at once: no request fails
	if dialer.n.Load() != 1 || !clusterHeldBy(t, live.addr, key, "a") {
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

	proc, err := launchMemcached(deadAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proc.stop)
	clock.Add(int64(time.Minute))
	set("e")
	if !clusterHeldBy(t, deadAddr, key, "e") {
		t.Fatal("the recovered server did not rejoin after its backoff")
	}
	clusterMustGet(t, c, key, "e")
	out := logs.String()
	if !strings.Contains(out, "memcached server down") || !strings.Contains(out, "memcached server rejoined") {
		t.Errorf("logs miss the down/rejoined transitions:\n%s", out)
	}
	if strings.Contains(out, key) {
		t.Errorf("logs leak the key:\n%s", out)
	}
}

func TestClusterConcurrentCountersAcrossFailover(t *testing.T) {
	c, procs := startCluster(t, 3, 2, 20*time.Millisecond)
	const workers, increments = 4, 150
	keys := clusterTestKeys(workers)
	for _, k := range keys {
		checkClusterErr(t, "add", k, c.Add(&memcache.Item{Key: k, Value: []byte("0"), Expiration: 600}))
	}
	var victim *memcachedProc
	for _, p := range procs {
		if p.addr == c.owners(keys[0])[0] {
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
				if err := clusterIncrement(c, k); err != nil {
					t.Errorf("increment: %v", err)
					return
				}
				done.Add(1)
			}
		}()
	}
	clusterWaitFor(t, "some increments", func() bool { return done.Load() >= 40 })
	victim.stop()
	clusterWaitFor(t, "the workers at the gate", func() bool { return done.Load() == workers*increments/2 })
	victim.restart(t)
	clusterWaitFor(t, "the restarted server to rejoin", func() bool {
		_, err := c.Get(keys[0])
		checkClusterErr(t, "get", keys[0], err)
		return clusterHeldBy(t, victim.addr, keys[0], strconv.Itoa(increments/2))
	})
	close(gate)
	wg.Wait()

	for _, k := range keys {
		clusterMustGet(t, c, k, strconv.Itoa(increments))
	}
}

// clusterIncrement adds one to the decimal counter at key with Get and
// CompareAndSwap, re-reading on conflicts as the session commit does.
func clusterIncrement(c Client, key string) error {
	for range 100 {
		item, err := c.Get(key)
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		n, err := strconv.Atoi(string(item.Value))
		if err != nil {
			return err
		}
		item.Value = []byte(strconv.Itoa(n + 1))
		err = c.CompareAndSwap(item)
		if !errors.Is(err, memcache.ErrCASConflict) {
			return err
		}
	}
	return errors.New("too many CAS conflicts")
}

func TestClusterErrorsOmitKeys(t *testing.T) {
	// A server that answers every get with a malformed line echoing the key,
	// which gomemcache quotes in its error.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					f := strings.Fields(line)
					if len(f) < 2 {
						return
					}
					fmt.Fprintf(conn, "VALUE %s notanumber 1\r\n", f[1])
				}
			}()
		}
	}()
	live := startMemcached(t)
	c, err := newClusterClient([]string{l.Addr().String(), live.addr}, 1, time.Second, 2, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var key string
	for i := 0; ; i++ {
		if key = clusterTestKey(i); c.owners(key)[0] == l.Addr().String() {
			break
		}
	}
	_, err = c.Get(key)
	if err == nil || strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Fatalf("garbage answer: error %v, want one naming the server and not the key", err)
	}
	if !c.servers[0].available(time.Now().UnixNano(), c.backoff) {
		t.Fatal("a server that answers (badly) must not be marked down")
	}
}

func ExampleNewRendezvousSelector() {
	sel, err := NewRendezvousSelector("10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211")
	if err != nil {
		panic(err)
	}
	// A plain gomemcache client with rendezvous placement (no failover).
	client := memcache.NewFromSelector(sel)
	client.Timeout = 200 * time.Millisecond
	client.MaxIdleConns = DefaultMaxIdleConns
	_ = Options{Client: client, Secret: "use at least 32 random bytes here, from a secret store"}

	addr, _ := sel.PickServer("ginsession:some-key")
	fmt.Println(addr)
	// Output: 10.0.0.2:11211
}
