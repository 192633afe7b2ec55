package ginsession

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/internal/clientcontract"
)

// TestContract runs the Client contract (internal/clientcontract) against a
// real memcached process and against the memory client, with the real clock
// and with a fake clock where expiry would otherwise need waiting. A case
// that passes on memcached and fails on the memory client is a bug in
// memory.go. (memcluster runs the same table against a cluster.)
func TestContract(t *testing.T) {
	t.Run("memcached", func(t *testing.T) {
		t.Parallel()
		clientcontract.Run(t, func(t *testing.T) clientcontract.Client { return contractMemcached(t) })
	})
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		clientcontract.Run(t, func(*testing.T) clientcontract.Client { return NewMemoryClient() })
	})
	t.Run("memory-fakeclock", func(t *testing.T) {
		t.Parallel()
		clientcontract.RunFakeClock(t, func(_ *testing.T, now func() time.Time) clientcontract.Client {
			return newMemoryClient(now)
		})
	})
}

// contractMemcached returns a client of the shared memcached server.
func contractMemcached(t *testing.T) *memcache.Client {
	c := memcache.New(requireMemcached(t))
	c.MaxIdleConns = 32
	c.Timeout = 5 * time.Second // -race and 1 MiB values
	return c
}

// TestDefaultMaxSizeFits checks, on both stores, that a session of
// DefaultMaxSize bytes under a key as long as the default one
// ("ginsession:" + 43) and then some is stored, read back and replaced.
func TestDefaultMaxSizeFits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c Client) {
		k := uniquePrefix()
		k += strings.Repeat("k", 60-len(k))
		v := bytes.Repeat([]byte{0xa5}, DefaultMaxSize)
		if err := c.Add(&memcache.Item{Key: k, Value: v, Expiration: 60}); err != nil {
			t.Fatalf("Add of DefaultMaxSize (%d) bytes with a 60-byte key: %v", DefaultMaxSize, err)
		}
		it, err := c.Get(k)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !bytes.Equal(it.Value, v) {
			t.Fatalf("Get returned %d bytes, want the %d stored", len(it.Value), len(v))
		}
		it.Value[0] ^= 0xff
		if err := c.CompareAndSwap(it); err != nil {
			t.Fatalf("CompareAndSwap of DefaultMaxSize bytes: %v", err)
		}
	})
}
