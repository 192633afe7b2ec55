package ginsession

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/memcluster"
)

// TestClusterLogoutFailsClosedWhileAReplicaIsAway: with Replicas 2, a
// logout while one of the session's servers is unreachable (it may be cut
// off with its data, and come back) must not answer "logged out": the
// ErrorHandler answers and the session keeps working, so the user can
// retry. Once the server is back, the logout succeeds and stays true even
// when the other copy's server is lost afterwards.
func TestClusterLogoutFailsClosedWhileAReplicaIsAway(t *testing.T) {
	cs := newClusterSessions(t, 2)
	cookie := cs.login(t, "alice")
	primary := cs.primary(cookie)
	var away *memcachedProc
	for _, p := range cs.procs {
		if p.addr == primary {
			away = p
		}
	}
	away.stop()
	if rec := cs.request("/logout", cookie); rec.Code != http.StatusServiceUnavailable || rec.Body.String() == "logged out" {
		t.Fatalf("logout with the primary away: %d %q, want the ErrorHandler's 503", rec.Code, rec.Body.String())
	}
	if got := cs.request("/me", cookie).Body.String(); got != "alice" {
		t.Fatalf("after a failed logout the session reads %q, want alice (it stays as it was)", got)
	}

	away.restart(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		rec := cs.request("/logout", cookie)
		if rec.Code == http.StatusOK && rec.Body.String() == "logged out" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logout never succeeded after the server came back: %d %q", rec.Code, rec.Body.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range cs.procs {
		if p.addr != primary {
			p.stop() // lose the copies' other servers: the primary's tombstone decides
			break
		}
	}
	if got := cs.request("/me", cookie).Body.String(); got != "" {
		t.Fatalf("a logged-out session reads %q", got)
	}
}

// TestClusterRollingRestartKeepsIdleUsers: with Replicas 2, restart one
// server empty and, once its resync is done, lose another for good. No
// user makes a request in between (idle sessions, none read during the
// warm-up window), and none is logged out.
func TestClusterRollingRestartKeepsIdleUsers(t *testing.T) {
	procs := make([]*memcachedProc, 3)
	addrs := make([]string, 3)
	for i := range procs {
		procs[i] = startMemcached(t)
		addrs[i] = procs[i].addr
	}
	logs := &logBuffer{}
	m, err := NewManager(Options{Secret: testSecret, Memcached: addrs, Replicas: 2,
		Timeout: 300 * time.Millisecond, DownBackoff: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(m.Handler())
	r.GET("/login", func(c *gin.Context) {
		if Login(c, c.Query("u")) == nil {
			c.String(http.StatusOK, "welcome")
		}
	})
	r.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, "%s", User(c)) })
	cs := &clusterSessions{m: m, engine: r, procs: procs}

	cookies := make([]string, 60)
	for i := range cookies {
		cookies[i] = cs.login(t, fmt.Sprintf("user%d", i))
	}
	procs[0].stop()
	procs[0].restart(t)
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; !strings.Contains(logs.String(), "resync done"); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("no resync after the restart:\n%s", logs.String())
		}
		cs.login(t, fmt.Sprintf("probe%d", i)) // new sessions notice the restart
		time.Sleep(10 * time.Millisecond)
	}
	procs[1].stop()
	for i, ck := range cookies {
		rec := cs.request("/me", ck)
		if rec.Code != http.StatusOK || rec.Body.String() != fmt.Sprintf("user%d", i) {
			t.Fatalf("idle user%d after the rolling restart: %d %q", i, rec.Code, rec.Body.String())
		}
	}
}

// TestClusterLoginOverAMissingSessionBuriesItsKey: a login whose cookie
// names a session that could not be read (here: gone from every server;
// on a partition, a copy may still sit on a server out of reach) must
// leave that key buried, so that no copy returning later serves the old
// cookie again.
func TestClusterLoginOverAMissingSessionBuriesItsKey(t *testing.T) {
	cs := newClusterSessions(t, 2)
	cs.engine.GET("/signin", func(c *gin.Context) {
		if Login(c, c.Query("u")) == nil {
			c.String(http.StatusOK, "welcome")
		}
	})
	cookie := cs.login(t, "bob")
	key := cs.m.key(cookie[:idLen])
	for _, p := range cs.procs {
		_ = memcache.New(p.addr).Delete(key) // out of reach, as far as reads can tell
	}
	if rec := cs.request("/signin?u=alice", cookie); rec.Code != http.StatusOK {
		t.Fatalf("login over the missing session: %d %q", rec.Code, rec.Body.String())
	}
	buried := 0
	for _, p := range cs.procs {
		item, err := memcache.New(p.addr).Get(key)
		if err == nil && item.Flags == memcluster.TombstoneFlags {
			buried++
		}
	}
	if buried < 2 {
		t.Fatalf("the old cookie's key is buried on %d servers, want its two home servers at least", buried)
	}
}

// TestClusterLogoutOfAMissingSessionBuriesItsKey: a logout whose cookie
// names a session that could not be read answers "logged out" only once
// that key is buried, so a copy out of reach cannot return.
func TestClusterLogoutOfAMissingSessionBuriesItsKey(t *testing.T) {
	cs := newClusterSessions(t, 2)
	cookie := cs.login(t, "bob")
	key := cs.m.key(cookie[:idLen])
	for _, p := range cs.procs {
		_ = memcache.New(p.addr).Delete(key)
	}
	if rec := cs.request("/logout", cookie); rec.Code != http.StatusOK {
		t.Fatalf("logout of the missing session: %d %q", rec.Code, rec.Body.String())
	}
	buried := 0
	for _, p := range cs.procs {
		if item, err := memcache.New(p.addr).Get(key); err == nil && item.Flags == memcluster.TombstoneFlags {
			buried++
		}
	}
	if buried < 2 {
		t.Fatalf("the old cookie's key is buried on %d servers, want its two home servers at least", buried)
	}
}
