package ginsession

// Tests of Login (auth.go): what a login keeps, what it drops, and how it
// fails.

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// Bob's data must not reach Alice when she logs in on Bob's browser without
// logging out; an anonymous visitor's cart survives sign-in, and so does the
// data of the same user logging in again.
func TestLoginOverAnotherUsersSessionStartsEmpty(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := authApp(t, client, Options{})
		a.engine.POST("/set", func(c *gin.Context) {
			s := Default(c)
			s.Set(c.PostForm("k"), c.PostForm("v"))
			if c.PostForm("remember") != "" {
				s.SetPersistent(true)
			}
			s.AddFlash("for " + User(c))
		})
		a.engine.GET("/get", func(c *gin.Context) {
			s := Default(c)
			c.String(http.StatusOK, "%s|%s|%d", s.GetString("cart"), s.GetString("role"), len(s.Flashes()))
		})

		// Anonymous cart survives login.
		a.do(http.MethodPost, "/set", url.Values{"k": {"cart"}, "v": {"book"}})
		a.do(http.MethodPost, "/login", url.Values{"name": {"bob"}})
		a.do(http.MethodPost, "/set", url.Values{"k": {"role"}, "v": {"admin"}, "remember": {"1"}})
		if got := a.get("/get").Body.String(); got != "book|admin|2" {
			t.Fatalf("bob after login: %q, want the anonymous cart kept", got)
		}
		a.do(http.MethodPost, "/set", url.Values{"k": {"x"}, "v": {"y"}})

		// The same user logging in again keeps the data.
		a.do(http.MethodPost, "/login", url.Values{"name": {"bob"}})
		if got := a.get("/get").Body.String(); got != "book|admin|1" {
			t.Fatalf("bob logging in again: %q, want his data kept", got)
		}

		// Another user starts from empty data, flashes and persistence.
		a.do(http.MethodPost, "/set", url.Values{"k": {"x"}, "v": {"z"}})
		rec := a.do(http.MethodPost, "/login", url.Values{"name": {"alice"}})
		if ck := sessionCookie(rec, "session_id"); ck == nil || ck.MaxAge != 0 {
			t.Errorf("alice's login cookie %v: want a browser-session cookie (bob's remember-me dropped)", ck)
		}
		if got := a.get("/get").Body.String(); got != "||0" {
			t.Errorf("alice after logging in over bob's session: %q, want nothing of bob's", got)
		}
		if keys := a.storedRecord(); keys.count() != 1 || string(keys.value("user_name")) != "\xa5alice" {
			t.Errorf("stored after alice's login: %d keys, user %q; want only user_name=alice", keys.count(), keys.value("user_name"))
		}
	})
}

func TestFailedLoginKeepsTheOldSession(t *testing.T) {
	fo := &failOnce{Client: NewMemoryClient(), err: errors.New("server error")}
	a := newApp(t, fo, Options{})
	a.engine.GET("/cart", func(c *gin.Context) { Default(c).Set("cart", "apple") })
	a.engine.GET("/login", func(c *gin.Context) {
		fo.op = "add"
		if err := Login(c, "alice"); err != nil {
			Default(c).Set("login_error", true)
			c.String(http.StatusInternalServerError, "try again")
		}
	})
	a.engine.GET("/me", func(c *gin.Context) {
		s := Default(c)
		c.String(http.StatusOK, "%s|%s", s.GetString("cart"), s.GetString("user_name"))
	})
	a.get("/cart")
	before := a.cookie
	a.get("/login")
	if a.cookie != before {
		t.Error("a failed login replaced the cookie")
	}
	if got := a.get("/me").Body.String(); got != "apple|" {
		t.Fatalf("after a failed login: %q, want the old session intact and not logged in", got)
	}
}

// A login racing with a logout in another tab still logs the user in, in a
// fresh session, and never brings the logged-out session back.
func TestLoginWhileTheOldSessionIsLoggedOut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/visit", func(c *gin.Context) { Default(c).Set("cart", "full") })
		a.get("/visit")
		old := a.cookie
		var loginErr error
		rec := a.logoutDuring(old, func(c *gin.Context, _ *Session) { loginErr = Login(c, "bob") })
		if loginErr != nil {
			t.Fatalf("Login: %v", loginErr)
		}
		ck := sessionCookie(rec, a.m.opts.CookieName)
		if ck == nil || ck.Value == "" || ck.MaxAge < 0 {
			t.Fatalf("login sent no session cookie: %v", rec.Header().Values("Set-Cookie"))
		}
		if _, err := client.Get(a.m.key(old[:idLen])); !isMiss(err) {
			t.Errorf("the logged-out session was written back (err %v)", err)
		}
		a.cookie = ck.Value
		r := a.storedRecord()
		if r == nil || string(r.value("user_name")) != "\xa3bob" || r.count() != 1 {
			t.Errorf("the new session holds %v, want only user_name=bob", r)
		}
	})
}

// A session's absolute Lifetime restarts at Login: a visitor whose
// anonymous session is nearly Lifetime old is not logged out minutes after
// logging in. A plain Regenerate (a periodic ID rotation) does not restart
// it, or rotating IDs would keep a stolen session alive for ever.
func TestLoginRestartsTheLifetime(t *testing.T) {
	a, clock := clockApp(t, Options{IdleTimeout: 2 * time.Hour, Lifetime: 3 * time.Hour, RememberFor: 3 * time.Hour, Persistent: true})
	a.engine.GET("/signin", func(c *gin.Context) {
		if err := Login(c, "bob"); err != nil {
			t.Errorf("Login: %v", err)
		}
	})
	a.get("/login") // an anonymous session (alice stands in for any value)
	clock.Advance(100 * time.Minute)
	if a.get("/").Body.String() != "alice" { // a visit keeps it from idling out
		t.Fatal("the session ended early")
	}
	clock.Advance(70 * time.Minute)
	rec := a.get("/signin")
	ck := sessionCookie(rec, "session_id")
	if ck == nil || ck.MaxAge != int((3*time.Hour)/time.Second) {
		t.Fatalf("login cookie %v, want Max-Age of a full Lifetime", ck)
	}
	clock.Advance(60 * time.Minute) // past the anonymous session's Lifetime
	if got := a.get("/").Body.String(); got != "bob" {
		t.Fatalf("logged out %v after login: user %q", time.Hour, got)
	}

	a.engine.GET("/rotate", func(c *gin.Context) {
		if err := Default(c).Regenerate(); err != nil {
			t.Errorf("Regenerate: %v", err)
		}
	})
	for range 3 { // rotate every 50 minutes, past the login's Lifetime
		clock.Advance(50 * time.Minute)
		a.get("/rotate")
	}
	if got := a.get("/").Body.String(); got != "" {
		t.Fatalf("rotating the ID kept the session past its Lifetime: user %q", got)
	}
}

// A Login whose Save fails keeps the session's original Lifetime: the idle
// refresh stored later in the same request must not get a memcached
// expiration computed from the restarted Lifetime.
func TestFailedLoginKeepsTheLifetime(t *testing.T) {
	clock := newFakeClock()
	fo := &failOnce{Client: newMemoryClient(clock.Now), err: errors.New("write timeout")}
	a := newApp(t, fo, Options{IdleTimeout: 2 * time.Hour, Lifetime: 3 * time.Hour})
	a.m.now = clock.Now
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	var loginErr error
	a.engine.GET("/signin", func(c *gin.Context) {
		fo.op = "add"
		loginErr = Login(c, "bob")
		c.String(http.StatusOK, "try again")
	})
	a.engine.GET("/", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("user_name")) })
	a.get("/login")
	id, _, _ := a.m.cookies.decode(a.cookie)
	clock.Advance(100 * time.Minute)
	if a.get("/").Body.String() != "alice" { // a visit keeps it from idling out
		t.Fatal("the session ended early")
	}
	clock.Advance(70 * time.Minute) // 10 minutes of Lifetime left; an idle refresh is due
	a.get("/signin")
	if loginErr == nil {
		t.Fatal("Login succeeded despite the failing store")
	}
	clock.Advance(15 * time.Minute)
	if _, err := fo.Client.Get(a.m.key(id)); !isMiss(err) {
		t.Fatalf("the session outlived its Lifetime in memcached (err %v): the refresh used the failed Login's restarted Lifetime", err)
	}
}

// After a Login whose store write failed, the same request sees the
// session as stored: the visitor is not logged in.
func TestFailedLoginLeavesTheVisitorAnonymous(t *testing.T) {
	fo := &failOnce{Client: NewMemoryClient(), err: errors.New("server error")}
	a := newApp(t, fo, Options{})
	a.engine.GET("/cart", func(c *gin.Context) { Default(c).Set("cart", "apple") })
	var user string
	a.engine.GET("/login", func(c *gin.Context) {
		fo.op = "add"
		if err := Login(c, "alice"); err == nil {
			t.Fatal("Login succeeded")
		}
		user = User(c)
		c.String(http.StatusInternalServerError, "try again")
	})
	a.get("/cart")
	a.get("/login")
	if user != "" {
		t.Fatalf("User after a failed Login = %q, want \"\" (the session was not logged in)", user)
	}
}

// Logging in over the session of a user whose stamp lookup now fails (a
// deleted account) works: Login does not look up the previous user.
func TestLoginOverADeletedUsersSession(t *testing.T) {
	clock := newFakeClock()
	deleted := false
	stamp := func(_ *gin.Context, user string) (string, error) {
		if user == "bob" && deleted {
			return "", errors.New("no such user")
		}
		return "s-" + user, nil
	}
	a := authApp(t, NewMemoryClient(), Options{UserStamp: stamp})
	a.m.now = clock.Now
	a.do(http.MethodPost, "/login", url.Values{"name": {"bob"}})
	deleted = true
	clock.Advance(2 * time.Minute)
	rec := a.do(http.MethodPost, "/login", url.Values{"name": {"alice"}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("alice logging in over deleted bob's session: %d %q, want 303", rec.Code, rec.Body.String())
	}
}
