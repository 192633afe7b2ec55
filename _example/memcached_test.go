package main

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginsession/ginsession/internal/memcachedtest"
)

// memcachedFlags keep each test's memcached small: no UDP, 16 MB of item
// memory, one worker thread.
var memcachedFlags = []string{"-U", "0", "-m", "16", "-t", "1"}

// startMemcached starts a private memcached on a free loopback port; the
// process is killed when the test ends (memcachedtest.Start). Without
// memcached the test is skipped, or fails under CI=true.
func startMemcached(t *testing.T) *memcachedtest.Server {
	t.Helper()
	return memcachedtest.Start(t, memcachedFlags...)
}

// missing skips the test, or fails it when CI=true (CI must run everything).
func missing(t *testing.T, why string) {
	t.Helper()
	if memcachedtest.Required() {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := memcachedtest.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// testSecret is a fixed 48-byte cookie secret for tests.
const testSecret = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"

// testConfig returns a config for the app on memcached at addr.
func testConfig(t *testing.T, addr string) config {
	t.Helper()
	return config{
		addr:      "127.0.0.1:0",
		memcached: []string{addr},
		idle:      30 * time.Minute,
		secret:    testSecret,
		logger:    testLogger(t),
	}
}

// testLogger returns a logger that writes to the test log until the test
// ends (and is silent after, so late log lines cannot panic).
func testLogger(t *testing.T) *slog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, nil))
}

// testWriter sends each write to t.Log.
type testWriter struct {
	mu   sync.Mutex
	t    *testing.T
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}
