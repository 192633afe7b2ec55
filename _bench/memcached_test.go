package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"
)

// memcachedBin is the memcached binary started when MEMCACHED_ADDR is unset.
const memcachedBin = "/usr/bin/memcached"

// mcAddr is the memcached address every contender uses; skipReason is set
// instead when no memcached is available.
var (
	mcAddr     string
	skipReason string
)

// TestMain provides memcached for the whole run: MEMCACHED_ADDR if set,
// else a private memcached process on a free loopback port, stopped at exit.
func TestMain(m *testing.M) {
	stop, err := setupMemcached()
	if err != nil {
		skipReason = err.Error()
		fmt.Fprintln(os.Stderr, "bench: "+skipReason)
	}
	code := m.Run()
	if stop != nil {
		stop()
	}
	os.Exit(code)
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
	bin, err := exec.LookPath(memcachedBin)
	if err != nil {
		return nil, fmt.Errorf("memcached not found at %s (apt-get install memcached, or set MEMCACHED_ADDR=host:port): skipping", memcachedBin)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"-l", "127.0.0.1", "-p", fmt.Sprint(port), "-U", "0", "-t", "2", "-m", "1024"}
	attr, extra := memcachedAttr()
	cmd := exec.Command(bin, append(args, extra...)...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting memcached: %v", err)
	}
	stop = func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	if err := waitTCP(addr, 5*time.Second); err != nil {
		stop()
		return nil, err
	}
	mcAddr = addr
	return stop, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
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
			return errors.Join(fmt.Errorf("memcached at %s is not reachable: skipping", addr), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
