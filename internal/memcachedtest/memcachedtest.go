// Package memcachedtest starts private memcached processes for tests: on a
// free loopback port, as nobody when the tests run as root, and killed with
// the test binary even when it crashes. Tests use it to run against a real
// server and to stop, restart, pause and resume one mid-test, and to put a
// nutcracker (twemproxy) in front of several.
package memcachedtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// ErrNotInstalled is returned (wrapped) by Launch when there is no
// memcached binary in PATH.
var ErrNotInstalled = errors.New("memcached not found in PATH (install with: apt-get install -y memcached)")

// startTimeout bounds how long Launch waits for a new server to answer.
const startTimeout = 10 * time.Second

// defaultFlags are the tuning flags a server gets when the caller passes
// none: no UDP, 64 MB of item memory, two worker threads.
var defaultFlags = []string{"-U", "0", "-m", "64", "-t", "2"}

// Server is a memcached process owned by the test binary.
type Server struct {
	// Addr is the server's "host:port"; it stays the same across Restart.
	Addr  string
	flags []string
	dial  dialFunc // how the readiness check connects: plain TCP or TLS
	cmd   *exec.Cmd
}

// dialFunc is a memcache.Client's DialContext; nil dials plain TCP.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// Launch starts memcached on addr ("" picks a free loopback port) and waits
// until it answers. The caller stops it with Stop. Use it where there is no
// testing.TB (TestMain); tests use Start.
//
// flags, when given, replace the default tuning flags "-U 0 -m 64 -t 2"
// (for example "-U", "0", "-t", "2", "-m", "1024" for a larger cache);
// -l and -p always come from addr. Restart reuses them.
func Launch(addr string, flags ...string) (*Server, error) {
	return launch(addr, nil, flags)
}

// launch is Launch with the readiness check connecting through dial.
func launch(addr string, dial dialFunc, flags []string) (*Server, error) {
	bin, err := exec.LookPath("memcached")
	if err != nil {
		return nil, ErrNotInstalled
	}
	if addr == "" {
		if addr, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("memcachedtest: address %q: %w", addr, err)
	}
	if len(flags) == 0 {
		flags = defaultFlags
	}
	flags = slices.Clone(flags)
	args := append([]string{"-l", host, "-p", port}, flags...)
	attr, extra := procAttr()
	cmd := exec.Command(bin, append(args, extra...)...)
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("memcachedtest: start memcached: %w", err)
	}
	s := &Server{Addr: addr, flags: flags, dial: dial, cmd: cmd}
	deadline := time.Now().Add(startTimeout)
	ping := memcache.New(addr)
	ping.DialContext = dial
	for {
		if err := ping.Ping(); err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("memcachedtest: memcached on %s did not answer within %v", addr, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Start starts a private memcached for one test on a free loopback port;
// it is stopped when the test ends. Without a memcached binary the test is
// skipped, or fails when the CI environment variable is "true". flags, when
// given, replace the default tuning flags (see Launch).
func Start(tb testing.TB, flags ...string) *Server {
	tb.Helper()
	return StartAt(tb, "", flags...)
}

// StartAt is Start on addr ("" picks a free loopback port), for a test that
// brings up a server where it expects one to be missing.
func StartAt(tb testing.TB, addr string, flags ...string) *Server {
	tb.Helper()
	s, err := Launch(addr, flags...)
	return owned(tb, s, err)
}

// owned hands a launched server to the test: stopped when it ends; a
// missing memcached skips the test (fails it under CI), another launch
// error fails it.
func owned(tb testing.TB, s *Server, err error) *Server {
	tb.Helper()
	switch {
	case errors.Is(err, ErrNotInstalled) && !Required():
		tb.Skipf("memcachedtest: %v", err)
	case err != nil:
		tb.Fatalf("memcachedtest: %v", err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// Required reports whether a missing memcached must fail the tests rather
// than skip them: when the CI environment variable is "true".
func Required() bool { return os.Getenv("CI") == "true" }

// Stop kills the process (as a crash would: no graceful shutdown) and waits
// for it to exit. It may be called again, also after Restart.
func (s *Server) Stop() {
	if s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// Restart starts the process again, empty, on the same address and with
// the same flags after Stop. The test's cleanup stops it as well.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	n, err := launch(s.Addr, s.dial, s.flags)
	if err != nil {
		tb.Fatalf("memcachedtest: restart: %v", err)
	}
	s.cmd = n.cmd
}

// Pause freezes the process (SIGSTOP) and returns once it has stopped: it
// keeps its connections and its data but answers nothing, as a hung host
// does, until Resume. Stop kills a paused process too.
func (s *Server) Pause(tb testing.TB) {
	tb.Helper()
	s.signal(tb, "pause", pause)
}

// Resume lets a paused process carry on (SIGCONT), with the data it held.
func (s *Server) Resume(tb testing.TB) {
	tb.Helper()
	s.signal(tb, "resume", resume)
}

// signal applies send to the running process, failing the test when it
// cannot.
func (s *Server) signal(tb testing.TB, what string, send func(*os.Process) error) {
	tb.Helper()
	if s.cmd.Process == nil || s.cmd.ProcessState != nil {
		tb.Fatalf("memcachedtest: %s: the server on %s is not running", what, s.Addr)
	}
	if err := send(s.cmd.Process); err != nil {
		tb.Fatalf("memcachedtest: %s the server on %s: %v", what, s.Addr, err)
	}
}

// FreeAddr returns a loopback address with a port nobody listens on.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("memcachedtest: %w", err)
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}
