package memcluster

import (
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/internal/memcachedtest"
)

// TestWarmUpHealsOnlyTheKeysWriteSet: with three servers and Replicas 2, a
// read inside a server's warm-up window of a key whose write set does not
// include that server sends nothing to it.
func TestWarmUpHealsOnlyTheKeysWriteSet(t *testing.T) {
	c, _ := startCluster(t, 3, 2, time.Minute)
	key := testKey(60)
	rank := c.sel.rank(key, nil)
	outside := c.servers[rank[2]]
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 600}))
	c.rejoined(outside, false)
	ops := func() int64 {
		st, err := memcachedtest.Stats(outside.name)
		if err != nil {
			t.Fatal(err)
		}
		return st["cmd_get"] + st["cmd_set"] + st["cmd_touch"] + st["delete_hits"] + st["delete_misses"]
	}
	before := ops()
	for range 5 {
		mustGet(t, c, key, "v")
	}
	if n := ops() - before; n != 0 {
		t.Fatalf("reads sent %d commands to a warming server outside the key's write set", n)
	}
	// Control: the key's follower warming gets the Add that heals it.
	follower := c.servers[rank[1]]
	c.rejoined(follower, false)
	st, err := memcachedtest.Stats(follower.name)
	if err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, key, "v")
	st2, err := memcachedtest.Stats(follower.name)
	if err != nil {
		t.Fatal(err)
	}
	if st2["cmd_set"] == st["cmd_set"] {
		t.Fatal("control: a read did not heal the warming follower")
	}
}
