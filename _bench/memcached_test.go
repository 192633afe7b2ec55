package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/ginsession/ginsession/internal/memcachedtest"
)

// memcachedFlags are the tuning flags of the memcached the tests start: no
// UDP, two worker threads, 1 GB of item memory (room for every session the
// benchmarks make).
var memcachedFlags = []string{"-U", "0", "-t", "2", "-m", "1024"}

// mcAddr is the memcached address every contender uses; skipReason is set
// instead when no memcached is available.
var (
	mcAddr     string
	skipReason string
)

// TestMain provides memcached for the whole run: MEMCACHED_ADDR if set,
// else a private memcached process on a free loopback port, stopped at exit.
// Without memcached the tests and benchmarks that need it skip, or the run
// fails when CI=true (memcachedtest.Required).
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	stop, err := setupMemcached()
	if err != nil {
		if memcachedtest.Required() {
			fmt.Fprintf(os.Stderr, "bench: CI=true and no memcached: %v\n", err)
			return 1
		}
		skipReason = err.Error() + ": skipping"
		fmt.Fprintln(os.Stderr, "bench: "+skipReason)
	}
	if stop != nil {
		defer stop()
	}
	return m.Run()
}

// need skips tb when no memcached is available.
func need(tb testing.TB) {
	tb.Helper()
	if skipReason != "" {
		tb.Skip(skipReason)
	}
}

// setupMemcached sets mcAddr, starting memcached when needed, and returns
// the function that stops it (nil when nothing was started).
func setupMemcached() (stop func(), err error) {
	if addr := os.Getenv("MEMCACHED_ADDR"); addr != "" {
		mcAddr = addr
		return nil, waitTCP(addr, 2*time.Second)
	}
	srv, err := memcachedtest.Launch("", memcachedFlags...)
	if errors.Is(err, memcachedtest.ErrNotInstalled) {
		return nil, fmt.Errorf("%w (or set MEMCACHED_ADDR=host:port)", err)
	}
	if err != nil {
		return nil, err
	}
	mcAddr = srv.Addr
	return srv.Stop, nil
}

// waitTCP waits until addr accepts TCP connections.
func waitTCP(addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("memcached at %s is not reachable", addr), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
