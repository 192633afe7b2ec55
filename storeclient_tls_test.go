package ginsession

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/internal/memcachedtest"
	"github.com/ginsession/ginsession/internal/tlstest"
)

// tlsPKI is a CA with one server and one client certificate.
type tlsPKI struct {
	ca             *tlstest.CA
	server, client tlstest.Pair
}

func newTLSPKI(t *testing.T, name string) tlsPKI {
	ca := tlstest.NewCA(t, name)
	return tlsPKI{ca: ca, server: ca.Server(t, name+"-memcached"), client: ca.Client(t, name+"-ginsession")}
}

// clientConfig trusts the CA and presents the client certificate.
func (p tlsPKI) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: p.ca.Pool, Certificates: []tls.Certificate{p.client.TLS}}
}

// startTLSMemcached starts n memcached servers that speak only TLS with
// pki's server certificate and require a client certificate from it.
func startTLSMemcached(t *testing.T, pki tlsPKI, n int) []string {
	requireMemcached(t)
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = memcachedtest.StartTLS(t, memcachedtest.TLS{
			CertFile: pki.server.CertFile, KeyFile: pki.server.KeyFile,
			ClientCAFile: pki.ca.File, Ready: pki.clientConfig(),
		}).Addr
	}
	return addrs
}

// tlsApp is a Gin app whose sessions live on addrs, reached with cfg.
type tlsApp struct {
	engine *gin.Engine
	logs   *logBuffer
	events *eventLog
}

func newTLSApp(t *testing.T, addrs []string, cfg *tls.Config) *tlsApp {
	a := &tlsApp{engine: gin.New(), logs: &logBuffer{}, events: &eventLog{}}
	replicas := min(len(addrs), 2)
	m, err := NewManager(Options{Secret: testSecret, Memcached: addrs, Replicas: replicas, TLS: cfg,
		Timeout: 2 * time.Second, Observe: a.events.observe, Logger: slog.New(slog.NewTextHandler(a.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	a.engine.Use(m.Handler())
	a.engine.GET("/login", func(c *gin.Context) {
		if Login(c, "alice") == nil {
			c.String(http.StatusOK, "logged in")
		}
	})
	a.engine.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, "me=%s", User(c)) })
	return a
}

// request runs one GET with an optional session cookie.
func (a *tlsApp) request(target, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: cookie})
	}
	rec := httptest.NewRecorder()
	a.engine.ServeHTTP(rec, req)
	return rec
}

// A session makes the round trip over mutual TLS: to one memcached, and to
// three with Replicas 2, where each copy is on a TLS server (read back with
// a TLS client of its own).
func TestTLSSessionRoundTrip(t *testing.T) {
	pki := newTLSPKI(t, "good")
	for _, n := range []int{1, 3} {
		addrs := startTLSMemcached(t, pki, n)
		a := newTLSApp(t, addrs, pki.clientConfig())
		rec := a.request("/login", "")
		ck := sessionCookie(rec, DefaultCookieName)
		if rec.Code != http.StatusOK || ck == nil {
			t.Fatalf("%d servers: login over TLS: %d %q", n, rec.Code, rec.Body)
		}
		if rec := a.request("/me", ck.Value); rec.Body.String() != "me=alice" {
			t.Errorf("%d servers: /me over TLS = %d %q, want me=alice", n, rec.Code, rec.Body)
		}
		key := storageKey(DefaultKeyPrefix, ck.Value[:idLen])
		copies := 0
		for _, addr := range addrs {
			direct := memcache.New(addr)
			direct.DialContext = (&tls.Dialer{Config: pki.clientConfig()}).DialContext
			if _, err := direct.Get(key); err == nil {
				copies++
			}
		}
		if want := min(n, 2); copies != want {
			t.Errorf("%d servers: the session is on %d servers, want %d", n, copies, want)
		}
	}
}

// Every way the TLS handshake can be refused fails closed: the
// ErrorHandler answers, no cookie goes out, the log line names the
// certificate problem rather than a timeout and Observe hears FailureTLS; nothing falls back to plain
// TCP (a TLS client meeting a plain memcached stores nothing there).
func TestTLSRefusalsFailClosed(t *testing.T) {
	pki := newTLSPKI(t, "good")
	rogue := newTLSPKI(t, "rogue")
	single := startTLSMemcached(t, pki, 1)
	cluster := startTLSMemcached(t, pki, 3)
	plain := startMemcached(t)
	noCert := &tls.Config{RootCAs: pki.ca.Pool}
	wrongCA := &tls.Config{RootCAs: rogue.ca.Pool, Certificates: []tls.Certificate{pki.client.TLS}}
	foreignCert := &tls.Config{RootCAs: pki.ca.Pool, Certificates: []tls.Certificate{rogue.client.TLS}}
	for _, tc := range []struct {
		name  string
		addrs []string
		cfg   *tls.Config
		log   string // what the log line must say
	}{
		{"no client certificate", single, noCert, "certificate"},
		{"no client certificate, cluster", cluster, noCert, "certificate"},
		{"client certificate from another CA", single, foreignCert, "certificate"},
		{"server certificate from the wrong CA", single, wrongCA, "certificate signed by unknown authority"},
		{"server certificate from the wrong CA, cluster", cluster, wrongCA, "certificate signed by unknown authority"},
		{"plain memcached", []string{plain.addr}, pki.clientConfig(), "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTLSApp(t, tc.addrs, tc.cfg)
			rec := a.request("/login", "")
			if rec.Code != http.StatusServiceUnavailable || sessionCookie(rec, DefaultCookieName) != nil {
				t.Errorf("login: %d %q, cookie %v; want the ErrorHandler's 503 and no cookie", rec.Code, rec.Body, rec.Header().Values("Set-Cookie"))
			}
			if got := a.events.take(EventStoreError); len(got) != 1 || got[0].Failure != FailureTLS {
				t.Errorf("store errors observed: %v, want one FailureTLS", got)
			}
			logs := a.logs.String()
			if !strings.Contains(logs, tc.log) || strings.Contains(logs, "timeout") {
				t.Errorf("the log does not say %q (or blames a timeout):\n%s", tc.log, logs)
			}
		})
	}
	if n := countItems(t, plain.addr); n != 0 {
		t.Errorf("the plain memcached holds %d items after a TLS client met it; want 0", n)
	}
}

// countItems returns memcached's curr_items at addr, over plain TCP.
func countItems(t *testing.T, addr string) int {
	t.Helper()
	stats, err := memcachedtest.Stats(addr)
	if err != nil {
		t.Fatal(err)
	}
	return int(stats["curr_items"])
}
