package memcluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/internal/memcachedtest"
	"github.com/ginsession/ginsession/internal/tlstest"
)

// With Options.TLS every connection is TLS, the resync's key listing
// included: three memcached servers that speak only TLS and require a
// client certificate serve writes with Replicas 2, and a server restarted
// empty gets its keys back from the resync.
func TestTLSClusterResyncs(t *testing.T) {
	ca := tlstest.NewCA(t, "cluster")
	server, client := ca.Server(t, "memcached"), ca.Client(t, "memcluster")
	cfg := &tls.Config{RootCAs: ca.Pool, Certificates: []tls.Certificate{client.TLS}}
	procs := make([]*memcachedtest.Server, 3)
	addrs := make([]string, 3)
	for i := range procs {
		procs[i] = memcachedtest.StartTLS(t, memcachedtest.TLS{CertFile: server.CertFile, KeyFile: server.KeyFile, ClientCAFile: ca.File, Ready: cfg})
		addrs[i] = procs[i].Addr
	}
	logs := &syncBuffer{}
	c := newTestClient(t, addrs, Options{Replicas: 2, Timeout: time.Second, TLS: cfg,
		DownBackoff: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	keys := testKeys(200)
	setAll(t, c, keys, "v")

	restarted := procs[0]
	restarted.Stop()
	restarted.Restart(t)
	probes := 0
	waitFor(t, "the resync over TLS to finish", func() bool {
		probes++
		_ = c.Set(&memcache.Item{Key: testKey(-probes), Value: []byte("p")})
		return logs.count("resync done") > 0
	})
	tlsDirect := memcache.New(restarted.Addr)
	tlsDirect.DialContext = TLSDialer(cfg)
	held, owned := 0, 0
	for _, k := range keys {
		if o := c.owners(k); o[0] != restarted.Addr && o[1] != restarted.Addr {
			continue
		}
		owned++
		if _, err := tlsDirect.Get(k); err == nil {
			held++
		}
	}
	if owned == 0 || held != owned {
		t.Errorf("after the resync the restarted server holds %d of its %d keys", held, owned)
	}
	for i, k := range keys {
		mustGet(t, c, k, "v"+strconv.Itoa(i))
	}
}

// A refused handshake is marked ErrTLS: a plain-TCP memcached, and a TLS
// one whose certificate the client does not trust.
func TestTLSDialerMarksRefusals(t *testing.T) {
	ca, rogue := tlstest.NewCA(t, "good"), tlstest.NewCA(t, "rogue")
	server := ca.Server(t, "memcached")
	secure := memcachedtest.StartTLS(t, memcachedtest.TLS{CertFile: server.CertFile, KeyFile: server.KeyFile, Ready: &tls.Config{RootCAs: ca.Pool}})
	plain := memcachedtest.Start(t)
	for _, tc := range []struct {
		name, addr string
		pool       *tls.Config
	}{
		{"plain memcached", plain.Addr, &tls.Config{RootCAs: ca.Pool}},
		{"nil config, plain memcached", plain.Addr, nil},
		{"nil config (system roots), test CA's server", secure.Addr, nil},
		{"untrusted server certificate", secure.Addr, &tls.Config{RootCAs: rogue.Pool}},
	} {
		mc := memcache.New(tc.addr)
		mc.DialContext = TLSDialer(tc.pool)
		if err := mc.Set(&memcache.Item{Key: "k", Value: []byte("v")}); !errors.Is(err, ErrTLS) {
			t.Errorf("%s: Set = %v, want ErrTLS", tc.name, err)
		}
	}
	mc := memcache.New(secure.Addr)
	mc.DialContext = TLSDialer(&tls.Config{RootCAs: ca.Pool})
	if err := mc.Set(&memcache.Item{Key: "k", Value: []byte("v")}); err != nil {
		t.Errorf("Set over TLS: %v", err)
	}
}

// tlsAnswering runs a TLS server (the test CA's certificate for 127.0.0.1)
// that answers every line it reads with reply, or nothing when reply is "".
func tlsAnswering(t *testing.T, ca *tlstest.CA, reply string) string {
	t.Helper()
	pair := ca.Server(t, "127.0.0.1")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair.TLS}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				for {
					if _, err := r.ReadString('\n'); err != nil {
						return
					}
					if reply != "" {
						_, _ = conn.Write([]byte(reply))
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// A TLS server that is not memcached, or does not answer, is refused with
// ErrTLS: the version round trip checks the answer, within the dial's
// deadline or, without one, memcache.DefaultTimeout.
func TestTLSDialerChecksTheVersionAnswer(t *testing.T) {
	ca := tlstest.NewCA(t, "version")
	dial := TLSDialer(&tls.Config{RootCAs: ca.Pool})
	if _, err := dial(context.Background(), "tcp", tlsAnswering(t, ca, "ERROR\r\n")); !errors.Is(err, ErrTLS) || !strings.Contains(err.Error(), `"ERROR"`) {
		t.Errorf("a server answering ERROR: %v, want ErrTLS naming the answer", err)
	}
	if _, err := dial(context.Background(), "tcp", tlsAnswering(t, ca, "")); !errors.Is(err, ErrTLS) {
		t.Errorf("a server that never answers, dialled without a deadline: %v, want ErrTLS", err)
	}
	conn, err := dial(context.Background(), "tcp", tlsAnswering(t, ca, "VERSION 1.6.0\r\n"))
	if err != nil {
		t.Fatalf("a server answering VERSION: %v", err)
	}
	conn.Close()
}
