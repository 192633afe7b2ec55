package ginsession

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/internal/memcachedtest"
	"github.com/ginsession/ginsession/memcluster"
)

// storeClientFor returns newStoreClient's client for opts (defaults
// applied, Secret filled in).
func storeClientFor(t *testing.T, opts Options) (Client, error) {
	t.Helper()
	opts.Secret = testSecret
	o, err := opts.withDefaults()
	if err != nil {
		t.Fatalf("withDefaults: %v", err)
	}
	return newStoreClient(o)
}

func TestStoreClientOneServerIsGomemcache(t *testing.T) {
	c, err := storeClientFor(t, Options{Memcached: []string{"127.0.0.1:1"}, Timeout: 123 * time.Millisecond, MaxIdleConns: 7})
	if err != nil {
		t.Fatal(err)
	}
	mc, ok := c.(*memcache.Client)
	if !ok {
		t.Fatalf("one server: %T, want *memcache.Client", c)
	}
	if mc.Timeout != 123*time.Millisecond || mc.MaxIdleConns != 7 {
		t.Errorf("Timeout %v, MaxIdleConns %d", mc.Timeout, mc.MaxIdleConns)
	}
}

func TestStoreClientSeveralServersIsCluster(t *testing.T) {
	c, err := storeClientFor(t, Options{Memcached: []string{"127.0.0.1:1", "127.0.0.1:2"}, Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*memcluster.Client); !ok {
		t.Fatalf("two servers: %T, want *memcluster.Client", c)
	}
}

func TestStoreClientClusterErrorIsAnOptionError(t *testing.T) {
	_, err := NewManager(Options{Secret: testSecret, Memcached: []string{"127.0.0.1:1", "127.0.0.1:01"}})
	if !errors.Is(err, errOption) || !strings.HasPrefix(err.Error(), "ginsession: invalid options: Memcached: memcluster: ") ||
		!strings.Contains(err.Error(), "same server") {
		t.Fatalf("duplicate servers: %v, want an option error naming Memcached and the cause", err)
	}
}

// TestStoreClientPassesOptionsToCluster checks the options the cluster gets
// from Options by their effects: Logger hears a server go down, and a copy
// read repair makes lives as long as the longest session (RememberFor
// here), so a remembered session never ends with a repaired copy.
func TestStoreClientPassesOptionsToCluster(t *testing.T) {
	a, b := startMemcached(t), startMemcached(t)
	logs := &logBuffer{}
	c, err := storeClientFor(t, Options{Memcached: []string{a.addr, b.addr}, IdleTimeout: time.Second, Lifetime: time.Hour, RememberFor: 2 * time.Hour, DownBackoff: time.Minute,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	sel, err := memcluster.NewRendezvousSelector(a.addr, b.addr)
	if err != nil {
		t.Fatal(err)
	}
	var key string
	for i := 0; ; i++ {
		key = fmt.Sprintf("%swiring-%d", DefaultKeyPrefix, i)
		if primary, _ := sel.PickServer(key); primary.String() == a.addr {
			break
		}
	}
	// Only the second server holds the key (written while the primary was
	// away): Get repairs it onto the primary, with IdleTimeout.
	if err := memcache.New(b.addr).Set(&memcache.Item{Key: key, Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if item, err := c.Get(key); err != nil || string(item.Value) != "v" {
		t.Fatalf("Get: %v", err)
	}
	ttl, ok, err := memcachedtest.TTL(a.addr, key)
	if err != nil || !ok || ttl < 7100 || ttl > 7200 {
		t.Fatalf("the repaired copy on the primary: %d s left (held %v, %v), want RememberFor (7200)", ttl, ok, err)
	}

	a.stop()
	if _, err := c.Get(key); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatalf("Get with the primary down: %v", err)
	}
	if !strings.Contains(logs.String(), "memcached server down") {
		t.Errorf("the Logger did not hear the server go down:\n%s", logs.String())
	}
}

// clusterSessions is a Gin app over three real memcached servers.
type clusterSessions struct {
	m      *Manager
	sel    *memcluster.RendezvousSelector // the servers' placement, ignoring health
	engine *gin.Engine
	procs  []*memcachedProc
}

func newClusterSessions(t *testing.T, replicas int) *clusterSessions {
	procs := make([]*memcachedProc, 3)
	addrs := make([]string, 3)
	for i := range procs {
		procs[i] = startMemcached(t)
		addrs[i] = procs[i].addr
	}
	m, err := NewManager(Options{Secret: testSecret, Memcached: addrs, Replicas: replicas,
		Timeout: 300 * time.Millisecond, DownBackoff: 200 * time.Millisecond, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	sel, err := memcluster.NewRendezvousSelector(addrs...)
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(m.Handler())
	r.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", c.Query("u")) })
	r.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, "%s", Default(c).GetString("user_name")) })
	r.GET("/logout", func(c *gin.Context) {
		if err := Logout(c); err == nil {
			c.String(http.StatusOK, "logged out")
		}
	})
	return &clusterSessions{m: m, sel: sel, engine: r, procs: procs}
}

// request runs one request with an optional session cookie.
func (cs *clusterSessions) request(target, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "session_id", Value: cookie})
	}
	rec := httptest.NewRecorder()
	cs.engine.ServeHTTP(rec, req)
	return rec
}

// login creates a session for user and returns its cookie value.
func (cs *clusterSessions) login(t *testing.T, user string) string {
	rec := cs.request("/login?u="+user, "")
	ck := sessionCookie(rec, "session_id")
	if rec.Code != http.StatusOK || ck == nil {
		t.Fatalf("login %s: %d", user, rec.Code)
	}
	return ck.Value
}

// primary returns the address of the server a session lives on first.
func (cs *clusterSessions) primary(cookie string) string {
	addr, _ := cs.sel.PickServer(cs.m.key(cookie[:idLen]))
	return addr.String()
}

func TestClusterSessionsSurviveNodeLoss(t *testing.T) {
	for _, replicas := range []int{1, 2} {
		t.Run(fmt.Sprintf("replicas=%d", replicas), func(t *testing.T) {
			cs := newClusterSessions(t, replicas)
			const n = 300
			cookies := make([]string, n)
			onVictim := 0
			victim := cs.procs[0]
			for i := range cookies {
				cookies[i] = cs.login(t, fmt.Sprintf("u%d", i))
				if cs.primary(cookies[i]) == victim.addr {
					onVictim++
				}
			}
			if onVictim < n/6 || onVictim > n/2 {
				t.Fatalf("%d of %d sessions on one of three servers: poor spread", onVictim, n)
			}

			victim.stop()
			lost := 0
			for i, ck := range cookies {
				rec := cs.request("/me", ck)
				if rec.Code >= 500 {
					t.Fatalf("session %d: %d after losing a server", i, rec.Code)
				}
				want := fmt.Sprintf("u%d", i)
				switch got := rec.Body.String(); {
				case got == want:
				case got == "" && replicas == 1 && cs.primary(ck) == victim.addr:
					lost++ // lived only on the dead server: starts fresh
				default:
					t.Errorf("session %d: got %q, want %q", i, got, want)
				}
			}
			t.Logf("replicas=%d: %d sessions on the killed server, %d lost", replicas, onVictim, lost)
			if replicas == 1 && lost != onVictim {
				t.Errorf("lost %d sessions, want exactly the %d on the dead server", lost, onVictim)
			}
			if replicas == 2 && lost != 0 {
				t.Errorf("lost %d sessions with two replicas", lost)
			}
			// New sessions keep working while the server is down.
			if ck := cs.login(t, "late"); cs.request("/me", ck).Body.String() != "late" {
				t.Error("new session failed while a server was down")
			}

			victim.restart(t)
			// It rejoins: after the backoff, new sessions whose primary is
			// the restarted server are stored on it again.
			direct := memcache.New(victim.addr)
			deadline := time.Now().Add(15 * time.Second)
			for rejoined := false; !rejoined; {
				if time.Now().After(deadline) {
					t.Fatal("the restarted server never rejoined")
				}
				ck := cs.login(t, "again")
				if cs.primary(ck) == victim.addr {
					_, err := direct.Get(cs.m.key(ck[:idLen]))
					rejoined = err == nil
				}
				if !rejoined {
					time.Sleep(20 * time.Millisecond)
				}
			}
			for i, ck := range cookies {
				rec := cs.request("/me", ck)
				if rec.Code >= 500 {
					t.Fatalf("session %d: %d after the server rejoined", i, rec.Code)
				}
				if replicas == 2 && rec.Body.String() != fmt.Sprintf("u%d", i) {
					t.Errorf("session %d lost after the server rejoined: %q", i, rec.Body.String())
				}
			}
		})
	}
}

// browser is one user's HTTP client with its own cookie jar; it does not
// follow redirects, so a login redirect shows as a 302.
type browser struct {
	*http.Client
	base *url.URL
}

func newBrowser(t *testing.T, base string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{base: u, Client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// fetch sends a request and returns the status and body.
func (b *browser) fetch(t *testing.T, method, path string, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, b.base.String()+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, resp.Body); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, body.String()
}

// sessionID returns the session ID in the browser's cookie.
func (b *browser) sessionID(t *testing.T) string {
	t.Helper()
	for _, ck := range b.Jar.Cookies(b.base) {
		if ck.Name == DefaultCookieName && len(ck.Value) >= idLen {
			return ck.Value[:idLen]
		}
	}
	t.Fatal("no session cookie")
	return ""
}

// TestClusterRollingRestartKeepsUsersLoggedIn logs 20 users in over real
// HTTP to three memcached servers with two replicas, restarts one server
// empty, lets every user load /me once, then loses a second server for
// good: every user must still be logged in. The servers are picked so that
// several users' sessions are led by the lost server and followed by the
// restarted one: only the cluster's warm-up heals those (their reads hit
// the primary).
func TestClusterRollingRestartKeepsUsersLoggedIn(t *testing.T) {
	procs := map[string]*memcachedProc{}
	var addrs []string
	for range 3 {
		p := startMemcached(t)
		procs[p.addr] = p
		addrs = append(addrs, p.addr)
	}
	logs := &logBuffer{}
	m, err := NewManager(Options{Secret: testSecret, Memcached: addrs, Replicas: 2, InsecureCookie: true,
		Timeout: 300 * time.Millisecond, DownBackoff: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r := gin.New()
	r.Use(m.Handler())
	r.POST("/login", func(c *gin.Context) {
		if err := Login(c, c.PostForm("user")); err == nil {
			c.String(http.StatusOK, "welcome")
		}
	})
	r.GET("/me", m.Authenticated(), func(c *gin.Context) { c.String(http.StatusOK, "%s", User(c)) })
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	login := func(user string) *browser {
		b := newBrowser(t, srv.URL)
		if code, body := b.fetch(t, http.MethodPost, "/login", url.Values{"user": {user}}); code != http.StatusOK {
			t.Fatalf("login %s: %d %s", user, code, body)
		}
		return b
	}
	// placement returns the servers a session is written to: its primary
	// and its follower (the primary of the other two).
	placement := func(id string) (primary, follower string) {
		key := m.key(id)
		all, err := memcluster.NewRendezvousSelector(addrs...)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := all.PickServer(key)
		var rest []string
		for _, a := range addrs {
			if a != p.String() {
				rest = append(rest, a)
			}
		}
		others, err := memcluster.NewRendezvousSelector(rest...)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := others.PickServer(key)
		return p.String(), f.String()
	}

	users := make([]*browser, 20)
	pairs := map[[2]string]int{} // {primary, follower} -> sessions
	for i := range users {
		users[i] = login(fmt.Sprintf("user%d", i))
		p, f := placement(users[i].sessionID(t))
		pairs[[2]string{p, f}]++
	}
	var lost, restarted string // the most common {primary, follower} pair
	for pair, n := range pairs {
		if lost == "" || n > pairs[[2]string{lost, restarted}] {
			lost, restarted = pair[0], pair[1]
		}
	}
	t.Logf("%d of %d sessions are led by the server lost last and followed by the one restarted", pairs[[2]string{lost, restarted}], len(users))

	procs[restarted].stop()
	procs[restarted].restart(t)
	deadline := time.Now().Add(15 * time.Second)
	for i := 0; !strings.Contains(logs.String(), "rejoined"); i++ { // new logins reach it
		if time.Now().After(deadline) {
			t.Fatalf("the restarted server never rejoined:\n%s", logs.String())
		}
		login(fmt.Sprintf("probe%d", i))
		time.Sleep(10 * time.Millisecond)
	}
	for i, u := range users {
		if code, body := u.fetch(t, http.MethodGet, "/me", nil); code != http.StatusOK || body != fmt.Sprintf("user%d", i) {
			t.Fatalf("user%d after the restart: %d %q", i, code, body)
		}
	}

	procs[lost].stop()
	loggedOut := 0
	for i, u := range users {
		code, body := u.fetch(t, http.MethodGet, "/me", nil)
		if code >= 500 {
			t.Fatalf("user%d after losing a second server: %d", i, code)
		}
		if code != http.StatusOK || body != fmt.Sprintf("user%d", i) {
			loggedOut++
		}
	}
	if loggedOut > 0 {
		t.Fatalf("the rolling restart logged out %d of %d users", loggedOut, len(users))
	}
}
