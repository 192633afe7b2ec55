package memcluster

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/internal/clientcontract"
	"github.com/ginsession/ginsession/internal/memcachedtest"
)

// testKey returns a key shaped like a ginsession key (prefix +
// base64url(SHA-256)).
func testKey(i int) string {
	sum := sha256.Sum256([]byte("cluster-test-" + strconv.Itoa(i)))
	return "ginsession:" + base64.RawURLEncoding.EncodeToString(sum[:])
}

// testKeys returns n session-shaped keys.
func testKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = testKey(i)
	}
	return keys
}

// startServers starts n private memcached processes, stopped when the test
// ends.
func startServers(t testing.TB, n int) ([]*memcachedtest.Server, []string) {
	t.Helper()
	procs := make([]*memcachedtest.Server, n)
	addrs := make([]string, n)
	for i := range procs {
		procs[i] = memcachedtest.Start(t)
		addrs[i] = procs[i].Addr
	}
	return procs, addrs
}

// startCluster starts n private memcached processes and a Client over them.
func startCluster(t *testing.T, n, replicas int, backoff time.Duration) (*Client, []*memcachedtest.Server) {
	t.Helper()
	procs, addrs := startServers(t, n)
	return newTestClient(t, addrs, Options{Replicas: replicas, Timeout: time.Second, MaxIdleConns: 8, DownBackoff: backoff}), procs
}

// newTestClient returns New(servers, opts), closed when the test ends.
func newTestClient(t *testing.T, servers []string, opts Options) *Client {
	t.Helper()
	c, err := New(servers, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// direct returns a plain client for one server, to look behind the
// cluster client's back.
func direct(addr string) *memcache.Client {
	mc := memcache.New(addr)
	mc.Timeout = time.Second
	return mc
}

// heldItem returns the item the server at addr holds for key, or nil.
func heldItem(t *testing.T, addr, key string) *memcache.Item {
	t.Helper()
	item, err := direct(addr).Get(key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	if err != nil {
		t.Fatalf("direct get on %s: %v", addr, err)
	}
	return item
}

// heldBy reports whether the server at addr holds key with value want.
func heldBy(t *testing.T, addr, key, want string) bool {
	t.Helper()
	item := heldItem(t, addr, key)
	return item != nil && string(item.Value) == want
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline. It asserts an outcome, never a duration.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkErr fails the test for an error that is neither nil nor one of the
// allowed sentinels, or that leaks the key.
func checkErr(t *testing.T, op, key string, err error, allowed ...error) {
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

// mustGet reads key through c and checks its value.
func mustGet(t *testing.T, c clientcontract.Client, key, want string) *memcache.Item {
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

// setAll stores value+index under every key through c.
func setAll(t *testing.T, c clientcontract.Client, keys []string, value string) {
	t.Helper()
	for i, k := range keys {
		err := c.Set(&memcache.Item{Key: k, Value: []byte(value + strconv.Itoa(i)), Expiration: 600})
		checkErr(t, "set", k, err)
	}
}

// itemValue returns item's value, or "" for nil.
func itemValue(item *memcache.Item) string {
	if item == nil {
		return ""
	}
	return string(item.Value)
}

// increment adds one to the decimal counter at key with Get and
// CompareAndSwap, re-reading on conflicts and unconfirmed writes as a
// session commit does.
func increment(c clientcontract.Client, key string) error {
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
		if !errors.Is(err, memcache.ErrCASConflict) && !errors.Is(err, ErrUnconfirmed) {
			return err
		}
	}
	return errors.New("too many CAS conflicts")
}
