package ginsession

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
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
	proc, err := launchMemcached("")
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintf(os.Stderr, "ginsession tests: CI=true and no memcached: %v\n", err)
			return 1
		}
		memcachedMissing = err.Error()
		fmt.Fprintf(os.Stderr, "ginsession tests: integration tests skipped: %v (install with: apt-get install -y memcached)\n", err)
		return m.Run()
	}
	defer proc.stop()
	sharedMemcachedAddr = proc.addr
	return m.Run()
}

// memcachedProc is a memcached process the tests own.
type memcachedProc struct {
	addr string
	cmd  *exec.Cmd
}

// launchMemcached starts memcached on addr ("" picks a free loopback port)
// and waits until it answers.
func launchMemcached(addr string) (*memcachedProc, error) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		return nil, fmt.Errorf("memcached not found in PATH")
	}
	if addr == "" {
		addr, err = freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
	}
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-l", host, "-p", port, "-U", "0", "-m", "64", "-t", "2"}
	attr, extra := memcachedAttr()
	cmd := exec.Command(bin, append(args, extra...)...)
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start memcached: %w", err)
	}
	p := &memcachedProc{addr: addr, cmd: cmd}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := memcache.New(addr)
		if err := c.Ping(); err == nil {
			return p, nil
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("memcached on %s did not answer within 10s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills the process and waits for it to exit.
func (p *memcachedProc) stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// freeLoopbackAddr returns a loopback address with a port nobody listens on.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
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

// startMemcached starts a private memcached for one test (fault tests kill
// and restart it); it is stopped when the test ends.
func startMemcached(tb testing.TB) *memcachedProc {
	tb.Helper()
	requireMemcached(tb)
	p, err := launchMemcached("")
	if err != nil {
		tb.Fatalf("start memcached: %v", err)
	}
	tb.Cleanup(p.stop)
	return p
}

// restart starts the process again on the same address after stop.
func (p *memcachedProc) restart(tb testing.TB) {
	tb.Helper()
	q, err := launchMemcached(p.addr)
	if err != nil {
		tb.Fatalf("restart memcached: %v", err)
	}
	p.cmd = q.cmd
}
