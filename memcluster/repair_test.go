package memcluster

import (
	"errors"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

func TestRejoin(t *testing.T) {
	for _, replicas := range []int{1, 2} {
		t.Run("replicas="+strconv.Itoa(replicas), func(t *testing.T) {
			testRejoin(t, replicas)
		})
	}
}

// testRejoin stops a server, writes through the outage, restarts it
// (empty) and checks that it rejoins without losing what was written
// meanwhile: read repair copies it back.
func testRejoin(t *testing.T, replicas int) {
	procs, addrs := startServers(t, 3)
	logs := &syncBuffer{}
	c := newTestClient(t, addrs, Options{Replicas: replicas, Timeout: time.Second, MaxIdleConns: 8,
		DownBackoff: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	keys := testKeys(300)
	setAll(t, c, keys, "before")

	victim := procs[2]
	victim.Stop()
	setAll(t, c, keys, "during")
	var owned []int
	for i, k := range keys {
		mustGet(t, c, k, "during"+strconv.Itoa(i))
		if c.owners(k)[0] == victim.Addr {
			owned = append(owned, i)
		}
	}

	victim.Restart(t)
	probe := keys[owned[0]]
	waitFor(t, "the restarted server to rejoin", func() bool {
		checkErr(t, "probe set", probe, c.Set(&memcache.Item{Key: probe, Value: []byte("probe"), Expiration: 600}))
		return heldBy(t, victim.Addr, probe, "probe")
	})

	// What was written during the outage is still served while the
	// rejoined (empty) primary resyncs, and then it holds it too.
	for i, k := range keys {
		if k != probe {
			mustGet(t, c, k, "during"+strconv.Itoa(i))
		}
	}
	waitFor(t, "the resync", func() bool { return logs.count("resync done") > 0 })
	for _, i := range owned[1:] {
		if !heldBy(t, victim.Addr, keys[i], "during"+strconv.Itoa(i)) {
			t.Fatalf("key %d was not copied back onto its rejoined primary", i)
		}
	}
	// New writes for its keys land on it again, and CAS works there.
	for _, i := range owned {
		k := keys[i]
		item, err := c.Get(k)
		checkErr(t, "get", k, err)
		item.Value = []byte("after")
		checkErr(t, "cas after rejoin", k, c.CompareAndSwap(item))
		if !heldBy(t, victim.Addr, k, "after") {
			t.Fatalf("key %d: write after rejoin did not land on its primary", i)
		}
	}
	// Losing the primary again must not bring back the copies written
	// during the first outage: the resync deleted those outside the write
	// set, and the follower (replicas=2) has the latest value. (The probe
	// key was written to the primary without a read, so no repair saw its
	// handoff copy; ginsession always reads a session before writing it.)
	victim.Stop()
	for _, i := range owned[1:] {
		k := keys[i]
		item, err := c.Get(k)
		switch {
		case replicas == 1 && !errors.Is(err, memcache.ErrCacheMiss) && (err != nil || string(item.Value) != "after"):
			t.Fatalf("key %d after losing its primary again: %v %q, want a miss or the latest value, never an older one", i, err, itemValue(item))
		case replicas == 2 && (err != nil || string(item.Value) != "after"):
			t.Fatalf("key %d after losing its primary again: %v %q, want the follower's \"after\"", i, err, itemValue(item))
		}
	}
}

func TestRepairExpiration(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	c := &Client{now: func() time.Time { return now }}
	const thirtyDays = 30 * 24 * time.Hour
	cases := []struct {
		ttl  time.Duration
		want int32
	}{
		{time.Second, 1}, // the shortest New accepts
		{2*time.Second - 1, 1},
		{30 * time.Minute, 1800},
		{thirtyDays, 2592000},                     // the largest relative value
		{thirtyDays + time.Second, 1_902_592_001}, // absolute beyond it
	}
	for _, tc := range cases {
		c.repairTTL = tc.ttl
		if got := c.repairExpiration(); got != tc.want {
			t.Errorf("RepairTTL %v: expiration %d, want %d", tc.ttl, got, tc.want)
		}
	}
}

func TestRepairedCopyGetsRepairTTL(t *testing.T) {
	_, addrs := startServers(t, 2)
	c := newTestClient(t, addrs, Options{Replicas: 1, Timeout: time.Second, DownBackoff: time.Minute, RepairTTL: 2 * time.Second})
	key := testKey(5)
	primary := c.owners(key)[0]
	// Only the handoff holds the key (written while the primary was away).
	if err := direct(c.owners(key)[1]).Set(&memcache.Item{Key: key, Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	mustGet(t, c, key, "v")
	if !heldBy(t, primary, key, "v") {
		t.Fatal("Get did not repair the key onto its primary")
	}
	// The repaired copy expires: it was written with RepairTTL, not forever.
	waitFor(t, "the repaired copy to expire", func() bool { return !heldBy(t, primary, key, "v") })
}
