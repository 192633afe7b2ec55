package memcluster

import (
	"errors"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/internal/memcachedtest"
)

// buried reports whether the server at addr holds a tombstone of key.
func buried(t *testing.T, addr, key string) bool {
	t.Helper()
	item := heldItem(t, addr, key)
	return item != nil && isTombstone(item)
}

// TestDeleteBuriesEveryCopy: Delete leaves a tombstone on the key's two
// home servers and its handoff, with the life asked for, and the key reads
// as a miss.
func TestDeleteBuriesEveryCopy(t *testing.T) {
	c, _ := startCluster(t, 3, 2, time.Minute)
	key := testKey(40)
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 600}))
	checkErr(t, "delete", key, c.DeleteFor(key, 90*time.Second))
	for _, addr := range c.owners(key) {
		if !buried(t, addr, key) {
			t.Fatalf("server %s holds no tombstone", addr)
		}
		ttl, ok, err := memcachedtest.TTL(addr, key)
		if err != nil || !ok || ttl < 85 || ttl > 90 {
			t.Fatalf("tombstone TTL on %s = %d (held %v, %v), want about 90 s", addr, ttl, ok, err)
		}
	}
	if _, err := c.Get(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("get after delete: %v, want a miss", err)
	}
	if err := c.Delete(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("second delete: %v, want ErrCacheMiss (a tombstone is no value)", err)
	}
}

// TestReadBetweenDeletesDoesNotRepair: a read that runs after a Delete
// reached the primary and before it reached the follower finds the
// tombstone and must neither serve the follower's copy nor repair it.
func TestReadBetweenDeletesDoesNotRepair(t *testing.T) {
	c, _ := startCluster(t, 3, 2, time.Minute)
	key := testKey(41)
	owners := c.owners(key)
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 600}))
	if err := direct(owners[0]).Set(newTombstone(key, time.Now(), time.Minute)); err != nil {
		t.Fatal(err)
	}
	if item, err := c.Get(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("get between the deletes = %q, %v; want a miss", itemValue(item), err)
	}
	if !buried(t, owners[0], key) {
		t.Fatal("the follower's copy was repaired over the primary's tombstone")
	}
}

// TestReplicationDoesNotReplaceATombstone: a write that the primary
// accepted before a Delete reached it, and whose copy reaches the follower
// after the Delete's tombstone did, must leave the tombstone.
func TestReplicationDoesNotReplaceATombstone(t *testing.T) {
	c, _ := startCluster(t, 3, 2, time.Minute)
	key := testKey(42)
	owners := c.owners(key)
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("v1"), Expiration: 600}))
	item := mustGet(t, c, key, "v1")
	if err := direct(owners[1]).Set(newTombstone(key, time.Now(), time.Minute)); err != nil {
		t.Fatal(err)
	}
	item.Value = []byte("v2")
	checkErr(t, "cas", key, c.CompareAndSwap(item))
	if !buried(t, owners[1], key) {
		t.Fatal("replication replaced the follower's tombstone with a live copy")
	}
}

// TestDeleteFailsClosedWhileAHomeServerIsDown: with a home server down
// (it may come back with its data), Delete fails with ErrUnconfirmed and
// writes nothing, so the key stays as it was; once the server is back, the
// retry succeeds.
func TestDeleteFailsClosedWhileAHomeServerIsDown(t *testing.T) {
	c, procs := startCluster(t, 3, 2, time.Hour)
	key := testKey(43)
	owners := c.owners(key)
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 600}))
	var follower *memcachedtest.Server
	for _, p := range procs {
		if p.Addr == owners[1] {
			follower = p
		}
	}
	follower.Stop()
	for round := range 2 { // a failing I/O, then a server in backoff
		err := c.Delete(key)
		if !errors.Is(err, ErrUnconfirmed) || !errors.Is(err, memcache.ErrNoServers) {
			t.Fatalf("round %d: delete with a home server down: %v, want ErrUnconfirmed", round, err)
		}
		checkErr(t, "delete", key, err, ErrUnconfirmed)
	}
	if !heldBy(t, owners[0], key, "v") || buried(t, owners[2], key) {
		t.Fatal("a delete that failed changed what the servers hold")
	}
	mustGet(t, c, key, "v")

	follower.Restart(t)
	c.now = func() time.Time { return time.Now().Add(2 * time.Hour) } // past the backoff
	waitFor(t, "the delete to go through", func() bool {
		err := c.Delete(key)
		checkErr(t, "delete", key, err, ErrUnconfirmed, memcache.ErrCacheMiss)
		return err == nil
	})
	if _, err := c.Get(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("get after the delete: %v", err)
	}
}

// TestTombstoneHealsAnEmptyPrimary: a primary that restarted empty after a
// Delete gets the tombstone back from the follower on the next read, so
// losing the follower later does not forget the delete.
func TestTombstoneHealsAnEmptyPrimary(t *testing.T) {
	c, _ := startCluster(t, 3, 2, time.Minute)
	key := testKey(44)
	owners := c.owners(key)
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 600}))
	checkErr(t, "delete", key, c.Delete(key))
	if err := direct(owners[0]).Delete(key); err != nil { // restarted empty
		t.Fatal(err)
	}
	if _, err := c.Get(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("get: %v, want a miss", err)
	}
	if !buried(t, owners[0], key) {
		t.Fatal("the primary did not get the tombstone back")
	}
}

// TestAddAndSetReplaceATombstone: the key can be written again on purpose,
// as after a memcached delete.
func TestAddAndSetReplaceATombstone(t *testing.T) {
	c, _ := startCluster(t, 3, 2, time.Minute)
	key := testKey(45)
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 600}))
	checkErr(t, "delete", key, c.Delete(key))
	checkErr(t, "add", key, c.Add(&memcache.Item{Key: key, Value: []byte("again"), Expiration: 600}))
	mustGet(t, c, key, "again")
	if err := c.Add(&memcache.Item{Key: key, Value: []byte("x")}); !errors.Is(err, memcache.ErrNotStored) {
		t.Fatalf("add over a live value: %v, want ErrNotStored", err)
	}
}

// TestTombstoneCopyKeepsItsEnd: a tombstone's copy ends when it does.
func TestTombstoneCopyKeepsItsEnd(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	tomb := newTombstone("k", now, 90*time.Second+time.Millisecond)
	if !isTombstone(tomb) || tomb.Expiration != 91 {
		t.Fatalf("tombstone %+v, want expiration 91", tomb)
	}
	if cp := tombstoneCopy(tomb, now.Add(60*time.Second)); cp == nil || cp.Expiration != 31 || !isTombstone(cp) {
		t.Fatalf("copy 60 s later: %+v, want expiration 31", cp)
	}
	if cp := tombstoneCopy(tomb, now.Add(91*time.Second)); cp != nil {
		t.Fatalf("copy after its end: %+v, want none", cp)
	}
	if long := newTombstone("k", now, 40*24*time.Hour); long.Expiration != int32(now.Unix()+40*24*3600) {
		t.Fatalf("a 40-day tombstone's expiration %d is not an absolute time", long.Expiration)
	}
	for _, item := range []*memcache.Item{
		{Value: tomb.Value}, // flags missing
		{Flags: TombstoneFlags, Value: tomb.Value[1:]},
		{Flags: TombstoneFlags, Value: append([]byte("x"), tomb.Value[1:]...)},
	} {
		if isTombstone(item) {
			t.Fatalf("%+v reads as a tombstone", item)
		}
	}
}

// TestLateCopyOfAnOlderWriteDoesNotRegressAFollower: the copy of a write
// the primary has since replaced, arriving late at a follower that holds
// the newer value, must change nothing.
func TestLateCopyOfAnOlderWriteDoesNotRegressAFollower(t *testing.T) {
	c, _ := startCluster(t, 3, 2, time.Minute)
	key := testKey(46)
	rank := c.sel.rank(key, nil)
	primary, follower := c.servers[rank[0]], c.servers[rank[1]]
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("v2"), Expiration: 600}))
	older := &memcache.Item{Key: key, Value: []byte("v1"), Expiration: 600}
	if err := follower.put(older, primary, 600); err != nil {
		t.Fatal(err)
	}
	if !heldBy(t, follower.name, key, "v2") {
		t.Fatal("a late copy of an older write replaced the follower's newer value")
	}
	// Where the follower lacks the key, it gets the primary's newer value,
	// which includes the older write, not the older value itself.
	if err := direct(follower.name).Delete(key); err != nil {
		t.Fatal(err)
	}
	if err := follower.put(older, primary, 600); err != nil {
		t.Fatal(err)
	}
	if !heldBy(t, follower.name, key, "v2") {
		t.Fatal("a late copy of an older write did not bring the follower to the primary's value")
	}
}
