package memcluster

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/internal/memcachedtest"
)

// resyncKeys is how many keys TestResyncHealsIdleKeys writes;
// MEMCLUSTER_RESYNC_KEYS changes it (the README's figure uses 10000).
func resyncKeys(t *testing.T) int {
	if v := os.Getenv("MEMCLUSTER_RESYNC_KEYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MEMCLUSTER_RESYNC_KEYS=%q", v)
		}
		return n
	}
	return 2000
}

// TestResyncHealsIdleKeys: a rolling restart with Replicas 2 restarts one
// server empty and then loses another. No key is read in between, so the
// warm-up window heals nothing: the resync must copy back every key the
// restarted server should hold, live items with their expiration and
// tombstones too, and then losing the second server loses no key and
// brings back no deleted one.
func TestResyncHealsIdleKeys(t *testing.T) {
	procs, addrs := startServers(t, 3)
	logs := &syncBuffer{}
	c := newTestClient(t, addrs, Options{Replicas: 2, Timeout: time.Second, MaxIdleConns: 8,
		DownBackoff: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	keys := testKeys(resyncKeys(t))
	setAll(t, c, keys, "v")
	deleted := keys[:len(keys)/10]
	for _, k := range deleted {
		checkErr(t, "delete", k, c.Delete(k))
	}

	restarted, lost := procs[0], procs[1]
	restarted.Stop()
	restarted.Restart(t)
	// A copy a read repair made before the resync: the same value, but
	// only RepairTTL to live. The resync must give it the original's end.
	var repaired string
	for i, k := range keys[len(deleted):] {
		if o := c.owners(k); o[0] == restarted.Addr || o[1] == restarted.Addr {
			repaired = k
			if err := direct(restarted.Addr).Set(&memcache.Item{Key: k, Value: []byte("v" + strconv.Itoa(i+len(deleted))), Expiration: 5}); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	probes := 0
	waitFor(t, "the resync to finish", func() bool {
		// Writes of new keys notice the restart and probe the server back.
		probes++
		_ = c.Set(&memcache.Item{Key: testKey(-probes), Value: []byte("p")})
		return logs.count("resync done") > 0
	})
	logs.mu.Lock()
	for line := range strings.Lines(logs.buf.String()) {
		if strings.Contains(line, "resync done") {
			t.Logf("%d keys: %s", len(keys), line)
		}
	}
	logs.mu.Unlock()
	for _, k := range keys[len(deleted):] {
		if owners := c.owners(k); (owners[0] != restarted.Addr && owners[1] != restarted.Addr) || k == repaired {
			continue
		}
		ttl, ok, err := memcachedtest.TTL(restarted.Addr, k)
		if err != nil || !ok || ttl <= 0 || ttl > 600 {
			t.Fatalf("a resynced copy: %d s left (held %v, %v), want the original's (at most 600)", ttl, ok, err)
		}
		break
	}
	if ttl, ok, err := memcachedtest.TTL(restarted.Addr, repaired); err != nil || !ok || ttl <= 5 {
		t.Fatalf("a repaired copy after the resync: %d s left (held %v, %v), want the original's (about 600)", ttl, ok, err)
	}

	lost.Stop()
	for i, k := range keys[len(deleted):] {
		mustGet(t, c, k, "v"+strconv.Itoa(i+len(deleted)))
	}
	for _, k := range deleted {
		if item, err := c.Get(k); err == nil {
			t.Fatalf("a deleted key came back after the rolling restart: %q", item.Value)
		}
	}
}

// TestResyncReplacesWhatAServerCutOffMissed: a server cut off with its
// data (marked down, as a partition does, but never restarted) misses
// writes and deletes. When it rejoins, no read serves its old copies, and
// its resync replaces them with the newer values and the tombstones.
func TestResyncReplacesWhatAServerCutOffMissed(t *testing.T) {
	_, addrs := startServers(t, 3)
	logs := &syncBuffer{}
	c := newTestClient(t, addrs, Options{Replicas: 2, Timeout: time.Second, MaxIdleConns: 8,
		DownBackoff: time.Hour, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	keys := testKeys(300)
	setAll(t, c, keys, "old")

	cut := c.servers[0]
	cut.markDown(time.Now().UnixNano(), c.backoff) // unreachable for a while, data kept
	setAll(t, c, keys, "new")
	deleted := keys[:30]
	for _, k := range deleted {
		checkErr(t, "delete", k, c.Delete(k), ErrUnconfirmed)
	}
	cut.downUntil.Store(time.Now().UnixNano()) // the backoff is over: the next operation probes it
	for i, k := range keys[len(deleted):] {
		mustGet(t, c, k, "new"+strconv.Itoa(i+len(deleted)))
	}
	waitFor(t, "the resync", func() bool { return logs.count("resync done") > 0 })
	for i, k := range keys[len(deleted):] {
		mustGet(t, c, k, "new"+strconv.Itoa(i+len(deleted)))
		if o := c.owners(k); (o[0] == cut.name || o[1] == cut.name) && !heldBy(t, cut.name, k, "new"+strconv.Itoa(i+len(deleted))) {
			var held []string
			for _, a := range o {
				it, err := direct(a).Get(k)
				held = append(held, a+"="+itemValue(it)+fmt.Sprint(err))
			}
			t.Fatalf("key %d: the rejoined server %s still holds its old copy: %v\n%s", i+len(deleted), cut.name, held, logs.String())
		}
	}
}

// TestLeftoverOnAServerAwayAtADeleteIsNotServed: a server that was away
// when a key was deleted, and holds an old handoff copy of it, drops that
// copy while it resyncs: when the key's home servers stop answering later,
// reads fail over to it and must find nothing.
func TestLeftoverOnAServerAwayAtADeleteIsNotServed(t *testing.T) {
	_, addrs := startServers(t, 3)
	logs := &syncBuffer{}
	c := newTestClient(t, addrs, Options{Replicas: 2, Timeout: time.Second, MaxIdleConns: 8,
		DownBackoff: time.Hour, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	key := testKey(50)
	rank := c.sel.rank(key, nil)
	away := c.servers[rank[2]]
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 600}))
	if err := direct(away.name).Set(&memcache.Item{Key: key, Value: []byte("old"), Expiration: 600}); err != nil {
		t.Fatal(err) // a copy from an earlier outage of a home server
	}
	away.markDown(time.Now().UnixNano(), c.backoff)
	checkErr(t, "delete", key, c.Delete(key))

	away.downUntil.Store(time.Now().UnixNano()) // its backoff is over
	probes := 0
	waitFor(t, "the resync of the server that was away", func() bool {
		probes++
		_, _ = c.Get(testKey(1000 + probes)) // some read probes it back
		return logs.count("resync done") > 0
	})
	for _, idx := range rank[:2] { // both home servers stop answering
		c.servers[idx].markDown(time.Now().UnixNano(), c.backoff)
	}
	if item, err := c.Get(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("get with the home servers away: %q, %v; want a miss (the key was deleted)", itemValue(item), err)
	}
}

// TestReplicas1DeleteNeedsTheServerReadsFailOverTo: with Replicas 1 a
// delete must also reach the server after the key's home, which reads
// fail over to when the home server stops answering: while it is away the
// delete fails, and writes nothing.
func TestReplicas1DeleteNeedsTheServerReadsFailOverTo(t *testing.T) {
	c, _ := startCluster(t, 3, 1, time.Hour)
	key := testKey(51)
	rank := c.sel.rank(key, nil)
	checkErr(t, "set", key, c.Set(&memcache.Item{Key: key, Value: []byte("v"), Expiration: 600}))
	c.servers[rank[1]].markDown(time.Now().UnixNano(), c.backoff)
	if err := c.Delete(key); !errors.Is(err, ErrUnconfirmed) {
		t.Fatalf("delete with the failover server away: %v, want ErrUnconfirmed", err)
	}
	mustGet(t, c, key, "v")
	c.servers[rank[1]].downUntil.Store(0)
	checkErr(t, "delete", key, c.Delete(key))
	c.servers[rank[0]].markDown(time.Now().UnixNano(), c.backoff)
	if _, err := c.Get(key); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("get after the delete with the home server away: %v, want a miss", err)
	}
}
