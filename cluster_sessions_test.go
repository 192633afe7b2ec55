package ginsession

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// clusterSessions is a Gin app over three real memcached servers.
type clusterSessions struct {
	m      *Manager
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
	r := gin.New()
	r.Use(m.Handler())
	r.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", c.Query("u")) })
	r.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, "%s", Default(c).GetString("user_name")) })
	return &clusterSessions{m: m, engine: r, procs: procs}
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
	return cs.m.store.client.(*clusterClient).owners(cs.m.key(cookie[:idLen]))[0]
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
			deadline := time.Now().Add(15 * time.Second)
			for rejoined := false; !rejoined; {
				if time.Now().After(deadline) {
					t.Fatal("the restarted server never rejoined")
				}
				ck := cs.login(t, "again")
				if cs.primary(ck) == victim.addr {
					_, err := clusterDirect(victim.addr).Get(cs.m.key(ck[:idLen]))
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
