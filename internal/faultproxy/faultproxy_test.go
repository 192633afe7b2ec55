package faultproxy_test

import (
	"errors"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/internal/faultproxy"
	"github.com/ginsession/ginsession/internal/memcachedtest"
)

func TestModes(t *testing.T) {
	srv := memcachedtest.Start(t)
	p, err := faultproxy.Start(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := memcache.New(p.Addr)
	c.Timeout = 200 * time.Millisecond
	if err := c.Set(&memcache.Item{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatalf("pass: %v", err)
	}

	// Swallow: the pooled connection stalls until the client's timeout,
	// and the data is still there afterwards (a partition, not a crash).
	p.SetMode(faultproxy.Swallow)
	start := time.Now()
	if _, err := c.Get("k"); err == nil {
		t.Fatal("swallow: Get answered")
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("swallow: failed after %v, want a stall until the timeout", d)
	}
	p.SetMode(faultproxy.Pass)
	if it, err := c.Get("k"); err != nil || string(it.Value) != "v" {
		t.Fatalf("pass again: %v", err)
	}

	// Slow: answers later than the delay; beyond the timeout they fail.
	p.SetDelay(50 * time.Millisecond)
	p.SetMode(faultproxy.Slow)
	start = time.Now()
	if _, err := c.Get("k"); err != nil {
		t.Fatalf("slow: %v", err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("slow: answered after %v, want at least the delay", d)
	}
	p.SetDelay(300 * time.Millisecond)
	if _, err := c.Get("k"); err == nil {
		t.Fatal("slow past the timeout: Get answered")
	}
	p.SetMode(faultproxy.Pass)

	// A killed server: the client sees an error at once, not a stall.
	srv.Stop()
	if _, err := c.Get("k"); err == nil || errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("killed: %v", err)
	}
	srv.Restart(t)
	if _, err := c.Get("k"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("restarted empty: %v, want a miss", err)
	}
}
