package memcluster

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/internal/clientcontract"
)

// The Client satisfies the contract's client interface (and so
// ginsession.Client, which has the same method set).
var _ clientcontract.Client = (*Client)(nil)

func TestContract(t *testing.T) {
	// One three-server cluster for all cases: each case has its own keys
	// and its own Client (its own pools and health).
	_, addrs := startServers(t, 3)
	for _, replicas := range []int{1, 2} {
		t.Run("replicas="+strconv.Itoa(replicas), func(t *testing.T) {
			t.Parallel()
			clientcontract.Run(t, func(t *testing.T) clientcontract.Client {
				// A long timeout: -race and 1 MiB values. The shortest
				// RepairTTL: a 1-second item read while one replica has
				// expired and the other not yet is repaired onto the
				// primary, and must still expire within the case's wait.
				return newTestClient(t, addrs, Options{Replicas: replicas, Timeout: 5 * time.Second, MaxIdleConns: 32, RepairTTL: time.Second})
			})
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	many := make([]string, MaxServers+1)
	for i := range many {
		many[i] = "10.0." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250+1) + ":11211"
	}
	two := []string{"10.0.0.1:1", "10.0.0.2:1"}
	cases := []struct {
		name    string
		servers []string
		opts    Options
		want    string
	}{
		{"no servers", nil, Options{}, "no servers"},
		{"negative replicas", two, Options{Replicas: -1}, "Replicas"},
		{"too many replicas", two, Options{Replicas: 3}, "Replicas"},
		{"duplicate", []string{"10.0.0.1:1", "10.0.0.1:1"}, Options{}, "same server"},
		{"same server twice", []string{"10.0.0.1:1", "10.0.0.1:01"}, Options{}, "same server"},
		{"no port", []string{"10.0.0.1", "10.0.0.2:1"}, Options{}, "10.0.0.1"},
		{"negative timeout", two, Options{Timeout: -1}, "negative"},
		{"negative max idle conns", two, Options{MaxIdleConns: -1}, "negative"},
		{"negative backoff", two, Options{DownBackoff: -time.Second}, "negative"},
		{"negative repair TTL", two, Options{RepairTTL: -time.Second}, "negative"},
		{"negative copy TTL", two, Options{CopyTTL: -time.Second}, "negative"},
		{"negative tombstone TTL", two, Options{TombstoneTTL: -time.Second}, "negative"},
		{"sub-second repair TTL", two, Options{RepairTTL: time.Second - 1}, "RepairTTL must be at least one second"},
		{"too many servers", many, Options{}, "at most 255"},
	}
	for _, tc := range cases {
		_, err := New(tc.servers, tc.opts)
		if err == nil || !strings.HasPrefix(err.Error(), "memcluster: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one starting \"memcluster: \" and containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := New(many[:MaxServers], Options{}); err != nil {
		t.Errorf("MaxServers servers: %v", err)
	}
}

func TestNewDefaults(t *testing.T) {
	c, err := New([]string{"10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.backoff != int64(DefaultDownBackoff) || c.replicas != 1 || c.readWidth != 2 || c.repairTTL != DefaultRepairTTL || c.logger == nil {
		t.Errorf("zero Options: backoff %v, replicas %d, readWidth %d, repairTTL %v, logger %v",
			time.Duration(c.backoff), c.replicas, c.readWidth, c.repairTTL, c.logger)
	}
	c, err = New([]string{"10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"}, Options{Replicas: 3, DownBackoff: time.Minute, Timeout: time.Second, MaxIdleConns: 7, RepairTTL: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if c.backoff != int64(time.Minute) || c.replicas != 3 || c.readWidth != 3 || c.repairTTL != time.Second {
		t.Errorf("Replicas 3 of 3: backoff %v, replicas %d, readWidth %d (want the read set capped at the servers)",
			time.Duration(c.backoff), c.replicas, c.readWidth)
	}
	if mc := c.servers[2].mc; mc.Timeout != time.Second || mc.MaxIdleConns != 7 {
		t.Errorf("server client: Timeout %v, MaxIdleConns %d", mc.Timeout, mc.MaxIdleConns)
	}
}

func TestCASSemantics(t *testing.T) {
	c, _ := startCluster(t, 3, 2, 50*time.Millisecond)
	key := testKey(42)
	owners := c.owners(key)

	checkErr(t, "add", key, c.Add(&memcache.Item{Key: key, Value: []byte("v1"), Expiration: 600}))
	if err := c.Add(&memcache.Item{Key: key, Value: []byte("again")}); !errors.Is(err, memcache.ErrNotStored) {
		t.Fatalf("second Add: %v, want ErrNotStored", err)
	}
	if !heldBy(t, owners[0], key, "v1") || !heldBy(t, owners[1], key, "v1") || heldBy(t, owners[2], key, "v1") {
		t.Fatal("Add must land on the primary and the follower only")
	}

	item := mustGet(t, c, key, "v1")
	stale := *item
	item.Value = []byte("v2")
	checkErr(t, "cas", key, c.CompareAndSwap(item))
	if !heldBy(t, owners[1], key, "v2") {
		t.Fatal("the follower did not receive the CAS result")
	}
	stale.Value = []byte("lost")
	if err := c.CompareAndSwap(&stale); !errors.Is(err, memcache.ErrCASConflict) {
		t.Fatalf("stale CAS: %v, want ErrCASConflict", err)
	}

	// A CAS id issued by another server (the primary changed since the Get)
	// conflicts without touching the data.
	foreign := mustGet(t, c, key, "v2")
	foreign.CasID = c.servers[c.sel.rank(key, nil)[1]].tagCAS(foreign.CasID &^ (0xff << casTagShift))
	foreign.Value = []byte("foreign")
	if err := c.CompareAndSwap(foreign); !errors.Is(err, memcache.ErrCASConflict) {
		t.Fatalf("CAS with a follower's id: %v, want ErrCASConflict", err)
	}
	mustGet(t, c, key, "v2")

	checkErr(t, "touch", key, c.Touch(key, 600))
	checkErr(t, "delete", key, c.Delete(key))
	for _, o := range owners {
		if heldBy(t, o, key, "v2") {
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

func TestOversizedSetDropsCopies(t *testing.T) {
	c, _ := startCluster(t, 3, 2, 50*time.Millisecond)
	key := testKey(9)
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("small"), Expiration: 600}))
	err := c.Set(&memcache.Item{Key: key, Value: bytes.Repeat([]byte("x"), 1<<20+1)})
	if err == nil || errors.Is(err, memcache.ErrNoServers) {
		t.Fatalf("oversized set: %v, want memcached's refusal", err)
	}
	checkErr(t, "oversized set", key, err, err) // only checks the key is not leaked
	if _, err := c.Get(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("get after a refused set: %v, want ErrCacheMiss as on one server", err)
	}
	for _, o := range c.owners(key) {
		if heldBy(t, o, key, "small") {
			t.Fatalf("server %s kept the old value", o)
		}
	}
	if c.servers[0].available(time.Now().UnixNano(), c.backoff) != admitUp || c.servers[1].available(time.Now().UnixNano(), c.backoff) != admitUp {
		t.Fatal("a refused set must not mark servers down")
	}
}

func TestCloseKeepsClientUsable(t *testing.T) {
	c, _ := startCluster(t, 2, 2, time.Minute)
	key := testKey(3)
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("v")}))
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	mustGet(t, c, key, "v")
}
