package ginsession

import (
	"net/http"
	"testing"
	"time"
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
