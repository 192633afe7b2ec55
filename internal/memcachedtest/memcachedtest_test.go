package memcachedtest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// TestFlags checks the default tuning flags, that given flags replace them,
// and that Restart keeps them.
func TestFlags(t *testing.T) {
	check := func(t *testing.T, s *Server, maxBytes, threads int64) {
		t.Helper()
		st, err := Stats(s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if st["limit_maxbytes"] != maxBytes || st["threads"] != threads {
			t.Errorf("limit_maxbytes %d, threads %d; want %d, %d", st["limit_maxbytes"], st["threads"], maxBytes, threads)
		}
	}
	t.Run("default", func(t *testing.T) {
		check(t, Start(t), 64<<20, 2)
	})
	t.Run("given", func(t *testing.T) {
		s := Start(t, "-U", "0", "-m", "16", "-t", "1")
		check(t, s, 16<<20, 1)
		s.Stop()
		s.Restart(t)
		check(t, s, 16<<20, 1)
	})
}

// TestNutcracker checks that the proxy forwards to its servers, spreading
// keys over all three, and that Stop ends it. The keys are hashes, as
// ginsession's are: twemproxy's fnv1a_64 keeps only 32 bits, so keys that
// differ only in their last bytes ("k1", "k2") land next to each other on
// the ring.
func TestNutcracker(t *testing.T) {
	var addrs []string
	for range 3 {
		addrs = append(addrs, Start(t).Addr)
	}
	n := StartNutcracker(t, NutcrackerConfig{Servers: addrs})
	c := memcache.New(n.Addr)
	for i := range 100 {
		sum := sha256.Sum256([]byte(strconv.Itoa(i)))
		if err := c.Set(&memcache.Item{Key: hex.EncodeToString(sum[:]), Value: []byte("v")}); err != nil {
			t.Fatalf("Set through nutcracker: %v", err)
		}
	}
	for _, a := range addrs {
		st, err := Stats(a)
		if err != nil {
			t.Fatal(err)
		}
		if st["curr_items"] == 0 {
			t.Errorf("server %s holds no item of 100; config:\n%s", a, n.Config)
		}
	}
	n.Stop()
	if _, err := c.Get("absent"); err == nil || errors.Is(err, memcache.ErrCacheMiss) {
		t.Error("Get through a stopped nutcracker succeeded")
	}
	n.Stop() // again: no-op
}

// A configuration nutcracker refuses makes LaunchNutcracker fail at once
// with its log, rather than wait for an answer that never comes.
func TestNutcrackerBadConfig(t *testing.T) {
	if _, err := nutcrackerBinary(); err != nil && !Required() {
		t.Skip(err)
	}
	n, err := LaunchNutcracker(NutcrackerConfig{Servers: []string{Start(t).Addr}, Hash: "no-such-hash"})
	if err == nil {
		n.Stop()
		t.Fatal("nutcracker started with hash: no-such-hash")
	}
	if !strings.Contains(err.Error(), "exited at start") || !strings.Contains(err.Error(), "no-such-hash") {
		t.Errorf("error %v, want one saying it exited, with its log and configuration", err)
	}
	if _, err := LaunchNutcracker(NutcrackerConfig{}); err == nil || !strings.Contains(err.Error(), "at least one server") {
		t.Errorf("no servers: error %v", err)
	}
}

// A paused server answers nothing once Pause returns, and after Resume it
// answers again with the data it held.
func TestPauseResume(t *testing.T) {
	s := Start(t)
	c := memcache.New(s.Addr)
	if err := c.Set(&memcache.Item{Key: "k", Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	s.Pause(t)
	// A short timeout only makes the expected failure come sooner.
	impatient := memcache.New(s.Addr)
	impatient.Timeout = 100 * time.Millisecond
	if _, err := impatient.Get("k"); err == nil {
		t.Fatal("a paused server answered")
	}
	s.Resume(t)
	if it, err := c.Get("k"); err != nil || string(it.Value) != "v" {
		t.Fatalf("after Resume: %v, %v; want the value it held", it, err)
	}
	s.Pause(t)
	s.Stop() // a paused process is killed too
}
