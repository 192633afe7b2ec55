package ginsession

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// stampTable is an application's user table: a stamp per user, replaced to
// log the user out everywhere.
type stampTable struct {
	mu      sync.Mutex
	stamps  map[string]string
	lookups atomic.Int64
	fail    atomic.Bool
}

func (u *stampTable) stamp(_ *gin.Context, user string) (string, error) {
	u.lookups.Add(1)
	if u.fail.Load() {
		return "", errors.New("user database unreachable")
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.stamps[user]; !ok {
		u.stamps[user] = "s1-" + user
	}
	return u.stamps[user], nil
}

func (u *stampTable) rotate(user string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.stamps[user] += "+"
}

// stampApp is authApp with UserStamp from a stampTable, on a fake clock.
func stampApp(t *testing.T, client Client, clock *fakeClock) (*app, *stampTable) {
	users := &stampTable{stamps: map[string]string{}}
	a := authApp(t, client, Options{UserStamp: users.stamp, StampCheck: time.Minute})
	a.m.now = clock.Now
	a.engine.GET("/cart", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("cart")) })
	a.engine.POST("/cart", func(c *gin.Context) { Default(c).Set("cart", c.PostForm("cart")) })
	return a, users
}

// login logs user in from a new browser and returns its cookie.
func (a *app) loginAs(user string) string {
	a.t.Helper()
	a.cookie = ""
	if rec := a.do(http.MethodPost, "/login", url.Values{"name": {user}}); rec.Code != http.StatusSeeOther {
		a.t.Fatalf("login %s: %d %q", user, rec.Code, rec.Body.String())
	}
	return a.cookie
}

// as sends a GET from the browser holding cookie and returns the response
// and the browser's cookie afterwards.
func (a *app) as(cookie, target string) (*http.Response, string) {
	a.t.Helper()
	a.cookie = cookie
	rec := a.get(target)
	return rec.Result(), a.cookie
}

// Changing a user's stamp ends every session of that user (three browsers)
// once StampCheck has passed, and no session of another user; logging in
// again records the new stamp and works.
func TestStampRevokesEverySessionOfTheUser(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		clock := newFakeClock()
		a, users := stampApp(t, client, clock)
		alice := []string{a.loginAs("alice"), a.loginAs("alice"), a.loginAs("alice")}
		bob := a.loginAs("bob")

		users.rotate("alice") // "log out everywhere", or a new password
		clock.Advance(time.Minute)
		for i, ck := range alice {
			res, after := a.as(ck, "/private")
			if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
				t.Errorf("alice's browser %d after the stamp changed: %d %q, want the login redirect", i, res.StatusCode, res.Header.Get("Location"))
			}
			if after != "" {
				t.Errorf("alice's browser %d still holds a session cookie", i)
			}
			if r := a.storedRecordOf(ck); r != nil {
				t.Errorf("alice's session %d is still in the store", i)
			}
		}
		if res, _ := a.as(bob, "/private"); res.StatusCode != http.StatusOK {
			t.Errorf("bob's session ended with alice's stamp: %d", res.StatusCode)
		}

		again := a.loginAs("alice")
		clock.Advance(2 * time.Minute)
		if res, _ := a.as(again, "/private"); res.StatusCode != http.StatusOK {
			t.Errorf("alice logging in again after the change: %d", res.StatusCode)
		}
	})
}

// Between checks there is no lookup; the check time is stored, so the next
// request within StampCheck does not ask again either.
func TestStampLookedUpOncePerStampCheck(t *testing.T) {
	clock := newFakeClock()
	a, users := stampApp(t, NewMemoryClient(), clock)
	ck := a.loginAs("alice")
	afterLogin := users.lookups.Load()
	for range 10 {
		clock.Advance(5 * time.Second)
		if res, _ := a.as(ck, "/private"); res.StatusCode != http.StatusOK {
			t.Fatalf("status %d", res.StatusCode)
		}
	}
	if n := users.lookups.Load() - afterLogin; n != 0 {
		t.Fatalf("%d lookups within StampCheck of the login, want 0", n)
	}
	clock.Advance(15 * time.Second) // 65 s after login
	a.as(ck, "/private")
	for range 5 {
		clock.Advance(10 * time.Second)
		a.as(ck, "/private")
	}
	if n := users.lookups.Load() - afterLogin; n != 1 {
		t.Fatalf("%d lookups in the minute after the first check, want 1", n)
	}
	clock.Advance(20 * time.Second) // 60 s after that check
	a.as(ck, "/private")
	if n := users.lookups.Load() - afterLogin; n != 2 {
		t.Fatalf("%d lookups, want a second check once StampCheck passed again", n)
	}
}

// A failing UserStamp fails closed: the ErrorHandler answers instead of the
// protected page, and the session survives for when the lookup works again.
func TestStampLookupErrorFailsClosed(t *testing.T) {
	clock := newFakeClock()
	a, users := stampApp(t, NewMemoryClient(), clock)
	ck := a.loginAs("alice")
	clock.Advance(time.Minute)
	users.fail.Store(true)
	res, _ := a.as(ck, "/private")
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("with the user table down: %d, want the ErrorHandler's 503", res.StatusCode)
	}
	if !strings.Contains(a.logs.String(), "user database unreachable") {
		t.Error("the failed lookup was not logged")
	}
	a.cookie = ""
	if rec := a.do(http.MethodPost, "/login", url.Values{"name": {"bob"}}); rec.Code != http.StatusServiceUnavailable || a.cookie != "" {
		t.Errorf("login with the user table down: %d, cookie %q; want 503 and no session", rec.Code, a.cookie)
	}
	users.fail.Store(false)
	if res, _ := a.as(ck, "/private"); res.StatusCode != http.StatusOK {
		t.Errorf("after the user table came back: %d", res.StatusCode)
	}
}

// A session that logged in with the feature off has no stamp: turning
// UserStamp on ends it at its first check (fail closed), and without
// UserStamp nothing is looked up or stored.
func TestStampOffCostsNothing(t *testing.T) {
	client := NewMemoryClient()
	off := authApp(t, client, Options{})
	off.loginAs("alice")
	if r := off.storedRecord(); r == nil || r.stamped() {
		t.Fatalf("stored with UserStamp off: %+v, want no stamp", r)
	}
	users := &stampTable{stamps: map[string]string{}}
	on := authApp(t, client, Options{KeyPrefix: off.m.opts.KeyPrefix, UserStamp: users.stamp})
	if res, _ := on.as(off.cookie, "/private"); res.StatusCode != http.StatusFound {
		t.Errorf("a session without a recorded stamp: %d, want it ended", res.StatusCode)
	}
}

// A stamp check on a session changed concurrently is merged like any other
// change, and a record carrying a stamp round-trips through the store.
func TestStampSurvivesAMerge(t *testing.T) {
	clock := newFakeClock()
	a, _ := stampApp(t, NewMemoryClient(), clock)
	ck := a.loginAs("alice")
	a.cookie = ck
	a.do(http.MethodPost, "/cart", url.Values{"cart": {"book"}})
	clock.Advance(time.Minute)
	if res, _ := a.as(ck, "/private"); res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	r := a.storedRecordOf(ck)
	if r == nil || len(r.stamp) != stampSize || r.stampChecked != clock.Now().Unix() {
		t.Fatalf("stored record %+v: want the stamp and the new check time", r)
	}
	if res, _ := a.as(ck, "/cart"); res.Header.Get("Content-Length") == "0" {
		t.Error("the cart was lost")
	}
}

// storedRecordOf returns what the store holds for the session of cookie.
func (a *app) storedRecordOf(cookie string) *record {
	a.t.Helper()
	saved := a.cookie
	defer func() { a.cookie = saved }()
	a.cookie = cookie
	return a.storedRecord()
}

// A check time in the future (a clock that jumped back, or a record written
// by a server whose clock runs ahead) does not postpone the next check.
func TestStampCheckedInTheFutureIsDue(t *testing.T) {
	clock := newFakeClock()
	a, users := stampApp(t, NewMemoryClient(), clock)
	ck := a.loginAs("alice")
	before := users.lookups.Load()
	clock.Advance(-10 * time.Minute)
	if res, _ := a.as(ck, "/private"); res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if n := users.lookups.Load() - before; n != 1 {
		t.Errorf("%d lookups with the last check in the future, want 1", n)
	}
}

// TestLoginWrapsAStampLookupError: Login while UserStamp fails returns an
// error that wraps the lookup's, so the handler can tell why.
func TestLoginWrapsAStampLookupError(t *testing.T) {
	dbDown := errors.New("user database unreachable")
	var loginErr error
	a := newApp(t, NewMemoryClient(), Options{UserStamp: func(*gin.Context, string) (string, error) { return "", dbDown }})
	a.engine.GET("/signin", func(c *gin.Context) { loginErr = Login(c, "alice") })
	a.get("/signin")
	if !errors.Is(loginErr, dbDown) {
		t.Fatalf("Login = %v, want an error wrapping the stamp lookup's", loginErr)
	}
}

// TestUserAfterTheHeaderFailsClosedOnAStampError: once the header is out,
// the ErrorHandler can no longer answer; a stamp check that fails then
// must still not hand the handler the user's name.
func TestUserAfterTheHeaderFailsClosedOnAStampError(t *testing.T) {
	clock := newFakeClock()
	a, users := stampApp(t, newMemoryClient(clock.Now), clock)
	a.engine.GET("/late", func(c *gin.Context) {
		_, _ = c.Writer.WriteString("hello ")
		_, _ = c.Writer.WriteString(User(c))
	})
	a.cookie = a.loginAs("alice")
	if body := a.get("/late").Body.String(); body != "hello alice" {
		t.Fatalf("control: %q, want hello alice", body)
	}
	clock.Advance(2 * time.Minute) // past StampCheck: the next read checks
	users.fail.Store(true)
	if body := a.get("/late").Body.String(); strings.Contains(body, "alice") {
		t.Fatalf("a failed stamp check after the header still served the user: %q", body)
	}
}
