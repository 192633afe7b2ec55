package memcluster

import (
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// BenchmarkGetWarmUp measures what a warm-up window adds to a Get that
// hits the primary, against three local memcached processes with two
// replicas:
//
//	outside    no window open: the plain read (one round trip)
//	elsewhere  a window open for the one server outside the key's write
//	           set: the read checks the window and its write set, and asks
//	           nobody more
//	follower   a window open for the key's follower, which has the key:
//	           the read adds an Add, which stores nothing (two round trips)
//
// Compare ns/op and allocs/op of one run; the extra round trip is the cost
// of healing, paid only inside a window by keys whose write set holds the
// warming server.
func BenchmarkGetWarmUp(b *testing.B) {
	_, addrs := startServers(b, 3)
	key := testKey(4)
	for _, tc := range []struct {
		name string
		warm int // rank of the warming server in the key's order; -1 none
	}{{"outside", -1}, {"elsewhere", 2}, {"follower", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := New(addrs, Options{Replicas: 2, Timeout: time.Second, MaxIdleConns: 4, RepairTTL: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.Set(&memcache.Item{Key: key, Value: make([]byte, 160), Expiration: 3600}); err != nil {
				b.Fatal(err)
			}
			if tc.warm >= 0 {
				c.rejoined(c.servers[c.sel.rank(key, nil)[tc.warm]], false)
			}
			if _, err := c.Get(key); err != nil { // warm the connection pools
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Get(key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkReadWrite measures a session's read (Get hitting the primary)
// and write (CompareAndSwap of what was read, then the follower's copy)
// against three local memcached processes, with one and two replicas. Run
// it beside an older build of this package to compare: with Replicas 1
// both cost one round trip; with two, a write adds its follower's copy.
func BenchmarkReadWrite(b *testing.B) {
	_, addrs := startServers(b, 3)
	key := testKey(5)
	for _, replicas := range []int{1, 2} {
		c, err := New(addrs, Options{Replicas: replicas, Timeout: time.Second, MaxIdleConns: 4})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Set(&memcache.Item{Key: key, Value: make([]byte, 160), Expiration: 3600}); err != nil {
			b.Fatal(err)
		}
		b.Run("replicas="+string(rune('0'+replicas))+"/read", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Get(key); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("replicas="+string(rune('0'+replicas))+"/write", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				item, err := c.Get(key)
				if err != nil {
					b.Fatal(err)
				}
				if err := c.CompareAndSwap(item); err != nil {
					b.Fatal(err)
				}
			}
		})
		_ = c.Close()
	}
}
