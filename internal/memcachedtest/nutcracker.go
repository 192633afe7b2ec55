package memcachedtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// ErrNutcrackerNotInstalled is returned (wrapped) by LaunchNutcracker when
// there is no nutcracker binary.
var ErrNutcrackerNotInstalled = errors.New("nutcracker (twemproxy) not found in PATH or /usr/sbin (install with: apt-get install -y nutcracker)")

// nutcrackerPaths are where nutcracker is looked for after PATH: Debian
// installs it in /usr/sbin, which is not in an ordinary user's PATH.
var nutcrackerPaths = []string{"/usr/sbin/nutcracker", "/usr/local/sbin/nutcracker"}

// Defaults of NutcrackerConfig's zero fields.
const (
	// DefaultNutcrackerHash is twemproxy's own default key hash.
	DefaultNutcrackerHash = "fnv1a_64"
	// DefaultNutcrackerTimeout bounds each server connect and response.
	// twemproxy itself waits forever, so one hung server would hang every
	// request for its keys.
	DefaultNutcrackerTimeout = 2 * time.Second
	// DefaultServerRetryTimeout and DefaultServerFailureLimit are
	// twemproxy's own defaults.
	DefaultServerRetryTimeout = 30 * time.Second
	DefaultServerFailureLimit = 2
)

// NutcrackerConfig is the one pool a test nutcracker proxies: the settings
// of its YAML file that decide what a lost server does to sessions. The
// pool always uses ketama distribution and weight 1 for every server.
type NutcrackerConfig struct {
	// Servers are the memcached "host:port" addresses behind the proxy.
	Servers []string
	// Hash is the key hash: DefaultNutcrackerHash when empty; "murmur"
	// and twemproxy's other hashes work too.
	Hash string
	// AutoEjectHosts takes a server out of the ring after
	// ServerFailureLimit consecutive failures, for ServerRetryTimeout: its
	// keys go to the other servers meanwhile, and come back to it (with
	// whatever it still holds) afterwards.
	AutoEjectHosts bool
	// ServerFailureLimit is the number of consecutive failures that eject
	// a server (DefaultServerFailureLimit when zero); it matters only with
	// AutoEjectHosts.
	ServerFailureLimit int
	// ServerRetryTimeout is how long an ejected server stays out
	// (DefaultServerRetryTimeout when zero); it matters only with
	// AutoEjectHosts.
	ServerRetryTimeout time.Duration
	// Timeout bounds each connect to and response from a server
	// (DefaultNutcrackerTimeout when zero). Clients should wait longer
	// than this, so that they see twemproxy's error rather than their own
	// timeout.
	Timeout time.Duration
}

// yaml returns the configuration file for a pool listening on listen.
func (c NutcrackerConfig) yaml(listen string) string {
	hash := c.Hash
	if hash == "" {
		hash = DefaultNutcrackerHash
	}
	limit := c.ServerFailureLimit
	if limit == 0 {
		limit = DefaultServerFailureLimit
	}
	retry := c.ServerRetryTimeout
	if retry == 0 {
		retry = DefaultServerRetryTimeout
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultNutcrackerTimeout
	}
	var b strings.Builder
	fmt.Fprintf(&b, "ginsession:\n")
	fmt.Fprintf(&b, "  listen: %s\n", listen)
	fmt.Fprintf(&b, "  hash: %s\n", hash)
	fmt.Fprintf(&b, "  distribution: ketama\n")
	fmt.Fprintf(&b, "  timeout: %d\n", timeout.Milliseconds())
	fmt.Fprintf(&b, "  auto_eject_hosts: %t\n", c.AutoEjectHosts)
	fmt.Fprintf(&b, "  server_failure_limit: %d\n", limit)
	fmt.Fprintf(&b, "  server_retry_timeout: %d\n", retry.Milliseconds())
	fmt.Fprintf(&b, "  servers:\n")
	for _, s := range c.Servers {
		fmt.Fprintf(&b, "   - %s:1\n", s)
	}
	return b.String()
}

// Nutcracker is a twemproxy (nutcracker) process owned by the test binary,
// proxying memcached servers.
type Nutcracker struct {
	// Addr is the proxy's "host:port", where clients connect.
	Addr string
	// Config is the YAML file it runs with, for failure messages.
	Config string

	cmd      *exec.Cmd
	dir      string        // holds the configuration and the log
	exited   chan struct{} // closed when the process has exited
	stopOnce sync.Once
}

// LaunchNutcracker starts nutcracker on a free loopback port in front of
// cfg.Servers and waits until it answers. The caller stops it with Stop.
// Use it where there is no testing.TB (TestMain); tests use
// StartNutcracker. The servers must be up: readiness is a Get through the
// proxy.
func LaunchNutcracker(cfg NutcrackerConfig) (*Nutcracker, error) {
	bin, err := nutcrackerBinary()
	if err != nil {
		return nil, err
	}
	if len(cfg.Servers) == 0 {
		return nil, errors.New("memcachedtest: nutcracker needs at least one server")
	}
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	// Each process needs its own stats port (twemproxy's default 22222
	// would collide between test binaries).
	stats, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	_, statsPort, _ := net.SplitHostPort(stats)
	dir, err := os.MkdirTemp("", "nutcracker-")
	if err != nil {
		return nil, fmt.Errorf("memcachedtest: %w", err)
	}
	attr, uid, gid := proxyAttr()
	if uid >= 0 {
		// The process runs as nobody and writes its log here.
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("memcachedtest: %w", err)
		}
	}
	n := &Nutcracker{Addr: addr, Config: cfg.yaml(addr), dir: dir, exited: make(chan struct{})}
	conf := filepath.Join(dir, "nutcracker.yml")
	if err := os.WriteFile(conf, []byte(n.Config), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("memcachedtest: %w", err)
	}
	// -o: Debian's build logs to /var/log/nutcracker by default.
	n.cmd = exec.Command(bin, "-c", conf, "-o", n.logPath(), "-a", "127.0.0.1", "-s", statsPort)
	n.cmd.SysProcAttr = attr
	if err := n.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("memcachedtest: start nutcracker: %w", err)
	}
	go func() {
		_ = n.cmd.Wait()
		close(n.exited)
	}()
	if err := n.waitReady(); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

// waitReady polls the proxy until a Get of a missing key answers a miss:
// twemproxy forwards the request, so this shows that it listens and
// reaches a server (memcache's Ping sends "version", which proves less).
func (n *Nutcracker) waitReady() error {
	c := memcache.New(n.Addr)
	deadline := time.Now().Add(startTimeout)
	var err error
	for {
		select {
		case <-n.exited:
			return fmt.Errorf("memcachedtest: nutcracker exited at start: %s\nconfiguration:\n%s", n.log(), n.Config)
		default:
		}
		if _, err = c.Get("memcachedtest:ready"); errors.Is(err, memcache.ErrCacheMiss) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("memcachedtest: nutcracker on %s did not answer within %v (last error: %v): %s", n.Addr, startTimeout, err, n.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// StartNutcracker starts a private nutcracker for one test, in front of
// cfg.Servers; it is stopped when the test ends. Without a nutcracker
// binary the test is skipped, or fails when the CI environment variable is
// "true".
func StartNutcracker(tb testing.TB, cfg NutcrackerConfig) *Nutcracker {
	tb.Helper()
	n, err := LaunchNutcracker(cfg)
	switch {
	case errors.Is(err, ErrNutcrackerNotInstalled) && !Required():
		tb.Skipf("memcachedtest: %v", err)
	case err != nil:
		tb.Fatalf("memcachedtest: %v", err)
	}
	tb.Cleanup(n.Stop)
	return n
}

// Stop kills the process and waits for it to exit, then removes its
// configuration and log. It may be called again.
func (n *Nutcracker) Stop() {
	n.stopOnce.Do(func() {
		_ = n.cmd.Process.Kill()
		<-n.exited
		os.RemoveAll(n.dir)
	})
}

// logPath is the file the process logs to.
func (n *Nutcracker) logPath() string { return filepath.Join(n.dir, "nutcracker.log") }

// log returns the end of the process's log, for failure messages.
func (n *Nutcracker) log() string {
	b, err := os.ReadFile(n.logPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const tail = 2000
	if len(b) > tail {
		b = b[len(b)-tail:]
	}
	return "log:\n" + string(b)
}

// nutcrackerBinary returns the path of the nutcracker binary.
func nutcrackerBinary() (string, error) {
	if bin, err := exec.LookPath("nutcracker"); err == nil {
		return bin, nil
	}
	for _, p := range nutcrackerPaths {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", ErrNutcrackerNotInstalled
}
