package main

import (
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// memcachedBin is where Debian's memcached package installs the server.
const memcachedBin = "/usr/bin/memcached"

// startMemcached starts a private memcached on a free loopback port and
// returns its address; the process is killed when the test ends. Without
// memcached the test is skipped, or fails under CI=true.
func startMemcached(t *testing.T) string {
	t.Helper()
	return launchMemcached(t, freeAddr(t)).addr
}

// memcachedProc is a memcached process owned by a test.
type memcachedProc struct {
	addr string
	cmd  *exec.Cmd
}

// launchMemcached starts memcached on addr, waits until it answers and
// registers its cleanup.
func launchMemcached(t *testing.T, addr string) *memcachedProc {
	t.Helper()
	bin := memcachedBin
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("memcached"); err != nil {
			missing(t, "memcached is not installed (apt-get install -y memcached)")
		}
	}
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-l", host, "-p", port, "-U", "0", "-m", "16", "-t", "1"}
	attr, extra := memcachedAttr()
	cmd := exec.Command(bin, append(args, extra...)...)
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start memcached: %v", err)
	}
	p := &memcachedProc{addr: addr, cmd: cmd}
	t.Cleanup(p.stop)
	c := memcache.New(addr)
	c.Timeout = time.Second
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("memcached on %s did not answer within 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// stop kills the process and waits for it; calling it twice is harmless.
func (p *memcachedProc) stop() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// missing skips the test, or fails it when CI=true (CI must run everything).
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true: %s", why)
	}
	t.Skip(why)
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
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
