package ginsession

import (
	"fmt"
	"os"
	"testing"

	"github.com/ginsession/ginsession/internal/memcachedtest"
)

// sharedMemcachedAddr is the memcached server the integration tests use:
// MEMCACHED_ADDR when set, otherwise a process TestMain started.
var sharedMemcachedAddr string

// memcachedMissing explains why integration tests are skipped ("" when a
// server is available).
var memcachedMissing string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if addr := os.Getenv("MEMCACHED_ADDR"); addr != "" {
		sharedMemcachedAddr = addr
		return m.Run()
	}
	srv, err := memcachedtest.Launch("")
	if err != nil {
		if memcachedtest.Required() {
			fmt.Fprintf(os.Stderr, "ginsession tests: CI=true and no memcached: %v\n", err)
			return 1
		}
		memcachedMissing = err.Error()
		fmt.Fprintf(os.Stderr, "ginsession tests: integration tests skipped: %v\n", err)
		return m.Run()
	}
	defer srv.Stop()
	sharedMemcachedAddr = srv.Addr
	return m.Run()
}

// requireMemcached returns the shared server's address or skips the test
// when no memcached is installed (never under CI=true: TestMain fails then).
func requireMemcached(tb testing.TB) string {
	tb.Helper()
	if sharedMemcachedAddr == "" {
		tb.Skipf("no memcached: %s", memcachedMissing)
	}
	return sharedMemcachedAddr
}

// memcachedProc is a private memcached process that a test stops and
// restarts (see memcachedtest.Server).
type memcachedProc struct {
	srv  *memcachedtest.Server
	addr string // the server's address, the same across restarts
}

// startMemcached starts a private memcached for one test (fault tests kill
// and restart it); it is stopped when the test ends.
func startMemcached(tb testing.TB) *memcachedProc {
	tb.Helper()
	requireMemcached(tb)
	srv := memcachedtest.Start(tb)
	return &memcachedProc{srv: srv, addr: srv.Addr}
}

// stop kills the process and waits for it to exit.
func (p *memcachedProc) stop() { p.srv.Stop() }

// restart starts the process again, empty, on the same address after stop.
func (p *memcachedProc) restart(tb testing.TB) {
	tb.Helper()
	p.srv.Restart(tb)
}
