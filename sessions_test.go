package ginsession

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/memcluster"
)

// User-Agents of the browsers in these tests.
const (
	uaFirefoxLinux   = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaChromeWindows  = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaSafariIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	deviceFirefoxLnx = "Firefox on Linux"
)

// trackingApp is an app with TrackSessions on and accountRoutes.
func trackingApp(t *testing.T, client Client, opts Options) *app {
	opts.TrackSessions = true
	a := newApp(t, client, opts)
	accountRoutes(a)
	return a
}

// accountRoutes adds an account page's routes: POST /login (name=...,
// remember=1 for "remember me"), POST /logout, GET /private (protected),
// GET /sessions (the list as JSON), POST /end (handle=...) and POST
// /end-others. An ErrUnknownSession answers 404; an anonymous visitor's
// POST gets Authenticated's 403.
func accountRoutes(a *app) {
	a.engine.POST("/login", func(c *gin.Context) {
		if err := Login(c, c.PostForm("name")); err != nil {
			c.String(http.StatusBadRequest, err.Error())
			return
		}
		if c.PostForm("remember") != "" {
			Default(c).SetPersistent(true)
		}
		c.Status(http.StatusSeeOther)
	})
	a.engine.POST("/logout", func(c *gin.Context) { _ = Logout(c) })
	a.engine.GET("/private", Authenticated(), func(c *gin.Context) { c.String(http.StatusOK, "hello %s", User(c)) })
	a.engine.GET("/sessions", func(c *gin.Context) {
		list, err := Sessions(c)
		switch {
		case c.IsAborted(): // the ErrorHandler answered
		case err != nil:
			c.String(http.StatusInternalServerError, err.Error())
		default:
			c.JSON(http.StatusOK, list)
		}
	})
	answer := func(c *gin.Context, err error) {
		switch {
		case c.IsAborted():
		case errors.Is(err, ErrUnknownSession):
			c.String(http.StatusNotFound, "unknown session")
		case err != nil:
			c.String(http.StatusInternalServerError, err.Error())
		default:
			c.String(http.StatusOK, "ended")
		}
	}
	// Behind Authenticated, as on a real account page: a 200 then means a
	// signed-in user asked (EndOtherSessions does nothing for a visitor
	// whose session has just ended elsewhere).
	a.engine.POST("/end", Authenticated(), func(c *gin.Context) { answer(c, EndSession(c, c.PostForm("handle"))) })
	a.engine.POST("/end-others", Authenticated(), func(c *gin.Context) { answer(c, EndOtherSessions(c)) })
}

// browser returns another browser (its own cookie jar) on a's server.
func (a *app) browser() *app {
	b := *a
	b.cookie = ""
	return &b
}

// signIn logs the browser in as user, sending userAgent.
func (a *app) signIn(user, userAgent string) {
	a.t.Helper()
	if rec := a.do(http.MethodPost, "/login", url.Values{"name": {user}}, "User-Agent", userAgent); rec.Code != http.StatusSeeOther {
		a.t.Fatalf("login %s: %d %s", user, rec.Code, rec.Body)
	}
}

// sessions returns the browser's /sessions list.
func (a *app) sessions() []SessionInfo {
	a.t.Helper()
	rec := a.get("/sessions")
	if rec.Code != http.StatusOK {
		a.t.Fatalf("GET /sessions: %d %s", rec.Code, rec.Body)
	}
	var list []SessionInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
		a.t.Fatalf("GET /sessions: %v: %s", err, rec.Body)
	}
	return list
}

// loggedInAs returns who /private greets ("" for a redirect to the login).
func (a *app) loggedInAs() string {
	a.t.Helper()
	rec := a.get("/private")
	if rec.Code != http.StatusOK {
		return ""
	}
	return strings.Fields(rec.Body.String())[1]
}

// storedIndex returns the handles in user's session list as memcached
// holds it, after checking its seal.
func (a *app) storedIndex(user string) []string {
	a.t.Helper()
	key := a.m.store.indexKey(user)
	item, err := a.store.Client.Get(key)
	if isMiss(err) {
		return nil
	}
	if err != nil {
		a.t.Fatalf("get session list: %v", err)
	}
	if _, ok := a.m.store.records.authentic(key, item.Value); !ok {
		a.t.Fatalf("stored session list fails its seal")
	}
	var x userIndex
	if err := x.decode(item.Value); err != nil {
		a.t.Fatalf("stored session list: %v", err)
	}
	var handles []string
	for _, e := range x.entries {
		handles = append(handles, string(e.handle))
	}
	return handles
}

// currentHandle returns the handle of the browser's own session.
func (a *app) currentHandle() string {
	a.t.Helper()
	for _, s := range a.sessions() {
		if s.Current {
			return s.Handle
		}
	}
	a.t.Fatal("no current session listed")
	return ""
}

func TestSessionsNeedTracking(t *testing.T) {
	a := authApp(t, NewMemoryClient(), Options{})
	var got []error
	a.engine.GET("/all", func(c *gin.Context) {
		_, err := Sessions(c)
		got = append(got, err, EndSession(c, "x"), EndOtherSessions(c))
	})
	a.signIn("alice", uaFirefoxLinux)
	a.get("/all")
	for i, err := range got {
		if !errors.Is(err, ErrNotTracked) {
			t.Errorf("call %d: %v, want ErrNotTracked", i, err)
		}
	}
}

func TestSessionsListsWhereTheUserIsSignedIn(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := trackingApp(t, client, Options{})
		laptop, phone, other := a, a.browser(), a.browser()
		before := time.Now().Add(-time.Second).Truncate(time.Second)
		laptop.signIn("alice", uaFirefoxLinux)
		phone.signIn("alice", uaSafariIPhone)
		other.signIn("bob", uaChromeWindows)

		list := laptop.sessions()
		if len(list) != 2 {
			t.Fatalf("alice's laptop lists %d sessions, want 2: %+v", len(list), list)
		}
		here, there := list[0], list[1]
		if !here.Current || there.Current {
			t.Errorf("current marks: %v, %v; want the first only", here.Current, there.Current)
		}
		if here.Device != deviceFirefoxLnx || there.Device != "Safari on iOS" {
			t.Errorf("devices %q, %q", here.Device, there.Device)
		}
		for _, s := range list {
			if s.Created.Before(before) || s.LastSeen.Before(s.Created) || s.Remembered {
				t.Errorf("session %+v: times or remembered wrong (logged in after %v)", s, before)
			}
			if strings.Contains(laptop.cookie, s.Handle) || strings.Contains(phone.cookie, s.Handle) || len(s.Handle) != idLen {
				t.Errorf("handle %q is not an opaque 43-byte name", s.Handle)
			}
		}
		if got := phone.sessions(); len(got) != 2 || got[0].Handle != there.Handle || got[1].Handle != here.Handle {
			t.Errorf("the phone lists %+v; want itself first, then the laptop", got)
		}
		if got := other.sessions(); len(got) != 1 || got[0].Device != "Chrome on Windows" {
			t.Errorf("bob lists %+v; want his own session only", got)
		}
		anonymous := a.browser()
		if rec := anonymous.get("/sessions"); rec.Code != http.StatusOK || rec.Body.String() != "null" {
			t.Errorf("anonymous visitor: %d %s, want an empty list", rec.Code, rec.Body)
		}
	})
}

func TestEndSessionSignsOutOneDevice(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := trackingApp(t, client, Options{})
		laptop, phone, tablet := a, a.browser(), a.browser()
		laptop.signIn("alice", uaFirefoxLinux)
		phone.signIn("alice", uaSafariIPhone)
		tablet.signIn("alice", uaChromeWindows)
		phoneHandle := phone.currentHandle()

		if rec := laptop.do(http.MethodPost, "/end", url.Values{"handle": {phoneHandle}}); rec.Code != http.StatusOK {
			t.Fatalf("end the phone's session: %d %s", rec.Code, rec.Body)
		}
		if who := phone.loggedInAs(); who != "" {
			t.Errorf("the phone is still signed in as %q", who)
		}
		if who := tablet.loggedInAs(); who != "alice" || laptop.loggedInAs() != "alice" {
			t.Errorf("the other devices lost their sessions")
		}
		for _, s := range laptop.sessions() {
			if s.Handle == phoneHandle {
				t.Errorf("the ended session is still listed")
			}
		}
		if got := laptop.storedIndex("alice"); len(got) != 2 || slices.Contains(got, phoneHandle) {
			t.Errorf("stored list %v; want the laptop and tablet only", got)
		}
		if rec := laptop.do(http.MethodPost, "/end", url.Values{"handle": {phoneHandle}}); rec.Code != http.StatusNotFound {
			t.Errorf("ending it again: %d, want 404 (ErrUnknownSession)", rec.Code)
		}
	})
}

func TestEndSessionRefusesHandlesThatAreNotTheUsers(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := trackingApp(t, client, Options{})
		alice, bob := a, a.browser()
		alice.signIn("alice", uaFirefoxLinux)
		bob.signIn("bob", uaChromeWindows)
		bobHandle := bob.currentHandle()
		bobID, _, _ := a.m.cookies.decode(bob.cookie)
		for _, handle := range []string{
			bobHandle,                      // another user's session
			bobID,                          // the session ID itself
			strings.Repeat("A", idLen),     // well-shaped, forged
			bobHandle[:idLen-1],            // truncated
			"../" + bobHandle,              // path tricks
			"",                             // empty
			strings.Repeat("x", 1<<16),     // huge
			a.m.opts.KeyPrefix + bobHandle, // the full storage key
		} {
			if rec := alice.do(http.MethodPost, "/end", url.Values{"handle": {handle}}); rec.Code != http.StatusNotFound {
				t.Errorf("alice ending %.20q: %d %s, want 404", handle, rec.Code, rec.Body)
			}
		}
		if bob.loggedInAs() != "bob" || alice.loggedInAs() != "alice" {
			t.Errorf("a refused handle ended a session")
		}
		anonymous := a.browser()
		if rec := anonymous.do(http.MethodPost, "/end", url.Values{"handle": {bobHandle}}); rec.Code != http.StatusForbidden {
			t.Errorf("an anonymous visitor ending bob's session: %d, want 403", rec.Code)
		}
		if bob.loggedInAs() != "bob" {
			t.Errorf("an anonymous visitor ended bob's session")
		}
	})
}

func TestEndOtherSessionsKeepsOnlyTheCurrentOne(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := trackingApp(t, client, Options{})
		browsers := []*app{a, a.browser(), a.browser(), a.browser()}
		for _, b := range browsers {
			b.signIn("alice", uaFirefoxLinux)
		}
		bob := a.browser()
		bob.signIn("bob", uaChromeWindows)
		if rec := a.do(http.MethodPost, "/end-others", nil); rec.Code != http.StatusOK {
			t.Fatalf("end others: %d %s", rec.Code, rec.Body)
		}
		for i, b := range browsers[1:] {
			if who := b.loggedInAs(); who != "" {
				t.Errorf("browser %d still signed in as %q", i+1, who)
			}
		}
		if a.loggedInAs() != "alice" || bob.loggedInAs() != "bob" {
			t.Errorf("the current session or another user's ended")
		}
		if list := a.sessions(); len(list) != 1 || !list[0].Current {
			t.Errorf("after ending the others the list is %+v", list)
		}
		if got := a.storedIndex("alice"); len(got) != 1 {
			t.Errorf("stored list holds %d entries, want 1", len(got))
		}
	})
}

func TestEndingTheCurrentSessionLogsOut(t *testing.T) {
	a := trackingApp(t, NewMemoryClient(), Options{})
	a.signIn("alice", uaFirefoxLinux)
	rec := a.do(http.MethodPost, "/end", url.Values{"handle": {a.currentHandle()}})
	if rec.Code != http.StatusOK || a.cookie != "" {
		t.Fatalf("end the current session: %d, cookie %q; want 200 and the cookie expired", rec.Code, a.cookie)
	}
	if a.loggedInAs() != "" || len(a.storedIndex("alice")) != 0 {
		t.Errorf("still signed in, or still listed")
	}
}

func TestLogoutAndLoginKeepTheListTrue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := trackingApp(t, client, Options{})
		a.signIn("alice", uaFirefoxLinux)
		first := a.storedIndex("alice")
		a.signIn("alice", uaFirefoxLinux) // again, over her own session: a new ID
		second := a.storedIndex("alice")
		if len(first) != 1 || len(second) != 1 || first[0] == second[0] {
			t.Fatalf("lists %v then %v; want one entry that follows the new ID", first, second)
		}
		if a.currentHandle() != second[0] {
			t.Errorf("the stored entry is not the current session")
		}
		a.do(http.MethodPost, "/logout", nil)
		if got := a.storedIndex("alice"); len(got) != 0 {
			t.Errorf("after logout the list holds %v", got)
		}
		anonymous := a.browser()
		anonymous.get("/private")
		anonymous.do(http.MethodGet, "/sessions", nil)
		if got := a.storedIndex(""); got != nil {
			t.Errorf("an anonymous session was listed: %v", got)
		}
	})
}

func TestSessionListKeepsTheNewestUpToItsBound(t *testing.T) {
	a := trackingApp(t, NewMemoryClient(), Options{})
	var handles []string
	for range MaxTrackedSessions + 3 {
		b := a.browser()
		b.signIn("alice", uaFirefoxLinux)
		stored := b.storedIndex("alice")
		handles = append(handles, stored[len(stored)-1]) // the newest login comes last
	}
	got := a.storedIndex("alice")
	if len(got) != MaxTrackedSessions {
		t.Fatalf("the list holds %d entries, want %d", len(got), MaxTrackedSessions)
	}
	for i, h := range handles[3:] {
		if got[i] != h {
			t.Fatalf("entry %d is not the %d-th newest login", i, i+3)
		}
	}
}

func TestConcurrentLoginsOfOneUserAreAllListed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := trackingApp(t, client, Options{})
		const n = 16
		browsers := make([]*app, n)
		for i := range browsers {
			browsers[i] = a.browser()
		}
		var wg sync.WaitGroup
		for _, b := range browsers {
			wg.Go(func() {
				if rec := b.do(http.MethodPost, "/login", url.Values{"name": {"alice"}}, "User-Agent", uaChromeWindows); rec.Code != http.StatusSeeOther {
					t.Errorf("concurrent login: %d %s", rec.Code, rec.Body)
				}
			})
		}
		wg.Wait()
		stored := a.storedIndex("alice")
		if len(stored) != n {
			t.Fatalf("the list holds %d of %d concurrent logins", len(stored), n)
		}
		for i, b := range browsers {
			if h := b.currentHandle(); !slices.Contains(stored, h) {
				t.Errorf("browser %d's session %q is not listed", i, h)
			}
		}
		if list := browsers[0].sessions(); len(list) != n {
			t.Errorf("Sessions lists %d of %d", len(list), n)
		}
	})
}

func TestSessionListDropsSessionsThatEnded(t *testing.T) {
	a, clock := clockApp(t, Options{TrackSessions: true, IdleTimeout: time.Hour})
	accountRoutes(a)
	idle, busy := a, a.browser()
	idle.signIn("alice", uaFirefoxLinux)
	busy.signIn("alice", uaChromeWindows)
	for range 5 { // the busy browser keeps its session; the idle one times out
		clock.Advance(20 * time.Minute)
		busy.get("/private")
	}
	list := busy.sessions()
	if len(list) != 1 || !list[0].Current {
		t.Fatalf("the list is %+v; want the busy session only", list)
	}
	if got := busy.storedIndex("alice"); len(got) != 1 {
		t.Errorf("the idle session's entry was not dropped: %v", got)
	}
	if !list[0].LastSeen.Equal(clock.Now()) {
		t.Errorf("current session's LastSeen %v, want now %v", list[0].LastSeen, clock.Now())
	}
}

func TestSessionListShowsLastSeenFromTheRecord(t *testing.T) {
	a, clock := clockApp(t, Options{TrackSessions: true, IdleTimeout: time.Hour})
	accountRoutes(a)
	laptop, phone := a, a.browser()
	phone.signIn("alice", uaSafariIPhone)
	loggedIn := clock.Now()
	clock.Advance(20 * time.Minute) // past a quarter of IdleTimeout: the next visit refreshes
	phone.get("/private")
	refreshed := clock.Now()
	clock.Advance(5 * time.Minute) // within the quarter: no write
	phone.get("/private")
	laptop.do(http.MethodPost, "/login", url.Values{"name": {"alice"}, "remember": {"1"}}, "User-Agent", uaFirefoxLinux)
	list := laptop.sessions()
	if len(list) != 2 {
		t.Fatalf("list %+v", list)
	}
	if p := list[1]; !p.Created.Equal(loggedIn) || !p.LastSeen.Equal(refreshed) {
		t.Errorf("phone: created %v last seen %v; want %v and %v", p.Created, p.LastSeen, loggedIn, refreshed)
	}
}

func TestRememberedSessionsAreMarked(t *testing.T) {
	a := trackingApp(t, NewMemoryClient(), Options{})
	a.engine.POST("/remember", func(c *gin.Context) { Default(c).SetPersistent(true) })
	laptop, phone := a, a.browser()
	laptop.signIn("alice", uaFirefoxLinux)
	phone.signIn("alice", uaSafariIPhone)
	phone.do(http.MethodPost, "/remember", nil)
	list := laptop.sessions()
	if len(list) != 2 || list[0].Remembered || !list[1].Remembered {
		t.Errorf("remembered marks wrong: %+v", list)
	}
	if list := phone.sessions(); !list[0].Remembered || list[1].Remembered {
		t.Errorf("the phone's own list: remembered marks wrong: %+v", list)
	}
}

func TestSessionsEndedByAStampAreNotListed(t *testing.T) {
	stamp := "v1"
	a := trackingApp(t, NewMemoryClient(), Options{
		UserStamp:  func(*gin.Context, string) (string, error) { return stamp, nil },
		StampCheck: time.Nanosecond,
	})
	old := a.browser()
	old.signIn("alice", uaChromeWindows)
	stamp = "v2" // the password changed; the new login records v2
	a.signIn("alice", uaFirefoxLinux)
	if list := a.sessions(); len(list) != 1 || !list[0].Current {
		t.Errorf("after a stamp change the list is %+v; want the new session only", list)
	}
}

func TestEvictedSessionListShowsTheCurrentSession(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := trackingApp(t, client, Options{})
		phone := a.browser()
		phone.signIn("alice", uaSafariIPhone)
		a.signIn("alice", uaFirefoxLinux)
		if err := a.store.Client.Delete(a.m.store.indexKey("alice")); err != nil {
			t.Fatal(err)
		}
		rec := a.do(http.MethodGet, "/sessions", nil, "User-Agent", uaFirefoxLinux)
		var list []SessionInfo
		if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
			t.Fatalf("GET /sessions: %d %s", rec.Code, rec.Body)
		}
		if len(list) != 1 || !list[0].Current || list[0].Device != deviceFirefoxLnx {
			t.Errorf("with the list evicted: %+v; want the current session, described from this request", list)
		}
		if phone.loggedInAs() != "alice" {
			t.Errorf("an evicted list ended a session")
		}
		tablet := a.browser()
		tablet.signIn("alice", uaChromeWindows)
		if got := a.storedIndex("alice"); len(got) != 1 {
			t.Errorf("a login after the eviction starts a new list: %v", got)
		}
	})
}

func TestHostileSessionListsReadAsEmpty(t *testing.T) {
	a := trackingApp(t, NewMemoryClient(), Options{})
	a.signIn("alice", uaFirefoxLinux)
	other := a.browser()
	other.signIn("mallory", uaChromeWindows)
	malloryHandle := other.currentHandle()
	phone := a.browser()
	phone.signIn("alice", uaSafariIPhone)
	phoneHandle := phone.currentHandle()
	key := a.m.store.indexKey("alice")
	forged := (&userIndex{entries: []indexEntry{entryOf(malloryHandle, "Forged"), entryOf(phoneHandle, "Forged")}}).encode(nil)
	copied, err := a.store.Client.Get(a.m.store.indexKey("mallory")) // mallory's own list, sealed for her key
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string][]byte{
		"unsealed":        forged,
		"another's list":  copied.Value,
		"garbage":         []byte("\x93\x01\xdd\xff\xff\xff\xff"),
		"a session":       a.sealed("x", recordOf(1, 1, false, nil)),
		"empty":           {},
		"sealed, too big": sealedIndex(a, key, MaxTrackedSessions+1),
	} {
		if err := a.store.Client.Set(&memcache.Item{Key: key, Value: value}); err != nil {
			t.Fatal(err)
		}
		if rec := a.do(http.MethodPost, "/end", url.Values{"handle": {malloryHandle}}); rec.Code != http.StatusNotFound {
			t.Errorf("%s: ending mallory's session: %d", name, rec.Code)
		}
		if other.loggedInAs() != "mallory" {
			t.Fatalf("%s: a hostile list ended another user's session", name)
		}
		list := a.sessions()
		if len(list) != 1 || !list[0].Current {
			t.Errorf("%s: the list is %+v; want the current session only (the list is lost, not believed)", name, list)
		}
	}
	a.browser().signIn("alice", uaSafariIPhone)
	if got := a.storedIndex("alice"); len(got) != 1 {
		t.Errorf("the next login replaces a hostile list: %v", got)
	}
}

// sealedIndex returns a list of n well-formed entries sealed for key: one
// more than the bound must not decode.
func sealedIndex(a *app, key string, n int) []byte {
	x := userIndex{}
	for i := range n {
		x.entries = append(x.entries, entryOf(fmt.Sprintf("%043d", i), "d"))
	}
	b := x.encode(nil)
	a.m.store.records.sign(key, b)
	return b
}

func TestLoginFailsWhenItsSessionCannotBeListed(t *testing.T) {
	a := trackingApp(t, NewMemoryClient(), Options{})
	a.signIn("alice", uaFirefoxLinux)
	before := a.cookie
	indexKey := a.m.store.indexKey("alice")
	a.store.Client = &failingKey{Client: a.store.Client, key: indexKey}
	rec := a.do(http.MethodPost, "/login", url.Values{"name": {"alice"}}, "User-Agent", uaChromeWindows)
	if rec.Code == http.StatusSeeOther || a.cookie != before || !strings.Contains(rec.Body.String(), "session list") {
		t.Fatalf("login with the list unwritable: %d %q, cookie changed %v; want Login's error and the old session kept", rec.Code, rec.Body, a.cookie != before)
	}
	a.store.Client = a.store.Client.(*failingKey).Client
	if a.loggedInAs() != "alice" || len(a.storedIndex("alice")) != 1 {
		t.Errorf("the failed login disturbed the old session or the list")
	}
}

func TestEndSessionFailsClosed(t *testing.T) {
	a := trackingApp(t, NewMemoryClient(), Options{})
	laptop, phone := a, a.browser()
	laptop.signIn("alice", uaFirefoxLinux)
	phone.signIn("alice", uaSafariIPhone)
	handle := phone.currentHandle()
	phoneKey := a.m.store.keyOf(handle)
	a.store.Client = &failingKey{Client: a.store.Client, key: phoneKey}
	rec := laptop.do(http.MethodPost, "/end", url.Values{"handle": {handle}})
	a.store.Client = a.store.Client.(*failingKey).Client
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "ended") {
		t.Errorf("end with memcached failing: %d %q; want the ErrorHandler's 503", rec.Code, rec.Body)
	}
	if phone.loggedInAs() != "alice" || !slices.Contains(laptop.storedIndex("alice"), handle) {
		t.Errorf("a failed end changed the session or the list")
	}
	a.store.Client = &failingKey{Client: a.store.Client, key: phoneKey}
	rec = laptop.do(http.MethodPost, "/end-others", nil)
	a.store.Client = a.store.Client.(*failingKey).Client
	if rec.Code != http.StatusServiceUnavailable || phone.loggedInAs() != "alice" {
		t.Errorf("end others with memcached failing: %d", rec.Code)
	}
}

// failingKey fails every operation on one key, as a server that is down
// would fail the keys it holds.
type failingKey struct {
	Client
	key string
}

var errKeyDown = errors.New("memcache: connect timeout to 127.0.0.1:1 (test)")

func (f *failingKey) Get(key string) (*memcache.Item, error) {
	if key == f.key {
		return nil, errKeyDown
	}
	return f.Client.Get(key)
}

func (f *failingKey) Add(item *memcache.Item) error {
	if item.Key == f.key {
		return errKeyDown
	}
	return f.Client.Add(item)
}

func (f *failingKey) CompareAndSwap(item *memcache.Item) error {
	if item.Key == f.key {
		return errKeyDown
	}
	return f.Client.CompareAndSwap(item)
}

func (f *failingKey) Delete(key string) error {
	if key == f.key {
		return errKeyDown
	}
	return f.Client.Delete(key)
}

func TestEndSessionOnAReplicatedCluster(t *testing.T) {
	addrs := make([]string, 3)
	procs := make(map[string]*memcachedProc)
	for i := range addrs {
		p := startMemcached(t)
		addrs[i], procs[p.addr] = p.addr, p
	}
	m, err := NewManager(Options{Secret: testSecret, Memcached: addrs, Replicas: 2, TrackSessions: true,
		Timeout: 300 * time.Millisecond, DownBackoff: 200 * time.Millisecond, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	a := &app{t: t, m: m, engine: gin.New(), store: &countingClient{Client: m.store.client}, logs: &logBuffer{}}
	a.engine.Use(m.Handler())
	accountRoutes(a)
	laptop, phone := a, a.browser()
	laptop.signIn("alice", uaFirefoxLinux)
	phone.signIn("alice", uaSafariIPhone)
	handle := phone.currentHandle()
	if rec := laptop.do(http.MethodPost, "/end", url.Values{"handle": {handle}}); rec.Code != http.StatusOK {
		t.Fatalf("end the phone's session: %d %s", rec.Code, rec.Body)
	}
	// Lose the server of the ended session's first copy: the other copy
	// is a tombstone, and the phone stays signed out.
	sel, err := memcluster.NewRendezvousSelector(addrs...)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := sel.PickServer(m.store.keyOf(handle))
	procs[first.String()].stop()
	if who := phone.loggedInAs(); who != "" {
		t.Errorf("with a server lost, the ended session reads as %q", who)
	}
	if list := laptop.sessions(); len(list) != 1 || !list[0].Current {
		t.Errorf("with a server lost, the list is %+v; want the laptop only", list)
	}
}

func TestAnEndedSessionIsNotBroughtBackByARequestInFlight(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := trackingApp(t, client, Options{})
		laptop, phone := a, a.browser()
		laptop.signIn("alice", uaFirefoxLinux)
		phone.signIn("alice", uaSafariIPhone)
		handle := phone.currentHandle()
		loaded, resume := make(chan struct{}), make(chan struct{})
		a.engine.GET("/slow-write", func(c *gin.Context) {
			s := Default(c)
			s.Has("user_name")
			close(loaded)
			<-resume
			s.Set("cart", 3) // written after the session was ended elsewhere
		})
		done := make(chan struct{})
		go func() { a.serve("/slow-write", phone.cookie); close(done) }()
		<-loaded
		if rec := laptop.do(http.MethodPost, "/end", url.Values{"handle": {handle}}); rec.Code != http.StatusOK {
			t.Fatalf("end the phone's session: %d %s", rec.Code, rec.Body)
		}
		close(resume)
		<-done
		if who := phone.loggedInAs(); who != "" {
			t.Errorf("the phone's request in flight brought its ended session back: signed in as %q", who)
		}
	})
}

func TestStampsCountOnlyWhileUserStampIsSet(t *testing.T) {
	client := NewMemoryClient()
	prefix := uniquePrefix()
	stamp := "v1"
	before := trackingApp(t, client, Options{KeyPrefix: prefix, StampCheck: time.Nanosecond,
		UserStamp: func(*gin.Context, string) (string, error) { return stamp, nil }})
	before.signIn("alice", uaChromeWindows)
	stamp = "v2"
	laptop := before.browser()
	laptop.signIn("alice", uaFirefoxLinux)
	after := trackingApp(t, client, Options{KeyPrefix: prefix}) // UserStamp turned off
	after.cookie = laptop.cookie
	if list := after.sessions(); len(list) != 2 {
		t.Errorf("with UserStamp off, sessions with different recorded stamps: %+v; want both", list)
	}
}

func TestSessionsReportAFailedStampLookup(t *testing.T) {
	failing := false
	a := trackingApp(t, NewMemoryClient(), Options{StampCheck: time.Nanosecond,
		UserStamp: func(*gin.Context, string) (string, error) {
			if failing {
				return "", errors.New("user database down")
			}
			return "v1", nil
		}})
	var listErr, endErr error
	a.engine.GET("/calls", func(c *gin.Context) {
		_, listErr = Sessions(c)
		endErr = EndOtherSessions(c)
	})
	a.signIn("alice", uaFirefoxLinux)
	failing = true
	if rec := a.get("/calls"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("stamp lookup failing: %d, want the ErrorHandler's 503", rec.Code)
	}
	if listErr == nil || endErr == nil {
		t.Errorf("Sessions and EndOtherSessions returned %v, %v; want errors", listErr, endErr)
	}
}

func TestEndingASessionThatIsAlreadyGone(t *testing.T) {
	a := trackingApp(t, NewMemoryClient(), Options{})
	laptop, phone := a, a.browser()
	laptop.signIn("alice", uaFirefoxLinux)
	phone.signIn("alice", uaSafariIPhone)
	handle := phone.currentHandle()
	if err := a.store.Client.Delete(a.m.store.keyOf(handle)); err != nil { // evicted
		t.Fatal(err)
	}
	if rec := laptop.do(http.MethodPost, "/end", url.Values{"handle": {handle}}); rec.Code != http.StatusOK {
		t.Errorf("ending an evicted session still listed: %d %s, want 200", rec.Code, rec.Body)
	}
	if list := laptop.sessions(); len(list) != 1 || !list[0].Current {
		t.Errorf("the list after ending it: %+v", list)
	}
}

// sessionCollider answers the first Add of a session key (not of a list)
// with ErrNotStored, as memcached does when the key is taken.
type sessionCollider struct {
	Client
	collided atomic.Bool
}

func (c *sessionCollider) Add(item *memcache.Item) error {
	if !strings.Contains(item.Key, indexKeyInfix) && c.collided.CompareAndSwap(false, true) {
		return memcache.ErrNotStored
	}
	return c.Client.Add(item)
}

func TestASessionStoredAfterAnIDCollisionIsListed(t *testing.T) {
	cc := &sessionCollider{Client: NewMemoryClient()}
	a := trackingApp(t, cc, Options{})
	a.signIn("alice", uaFirefoxLinux)
	if !cc.collided.Load() {
		t.Fatal("the login made no Add")
	}
	if stored := a.storedIndex("alice"); !slices.Contains(stored, a.currentHandle()) {
		t.Errorf("the list %v misses the session stored under the second ID", stored)
	}
}

// addGate holds the next Add of a session key (not of a list) until
// released, as a slow memcached would hold a Login's write.
type addGate struct {
	Client
	armed            atomic.Bool
	reached, release chan struct{}
}

func (g *addGate) Add(item *memcache.Item) error {
	if !strings.Contains(item.Key, indexKeyInfix) && g.armed.CompareAndSwap(true, false) {
		close(g.reached)
		<-g.release
	}
	return g.Client.Add(item)
}

// A Login enters its session in the list just before storing it: a list
// read or an end of the other sessions in between must not drop the
// entry, or the session it stores next would be missing from the list.
func TestALoginInFlightKeepsItsEntry(t *testing.T) {
	for _, during := range []string{"/sessions", "/end-others"} {
		t.Run(during, func(t *testing.T) {
			gate := &addGate{Client: NewMemoryClient(), reached: make(chan struct{}), release: make(chan struct{})}
			a := trackingApp(t, gate, Options{})
			laptop, phone := a, a.browser()
			laptop.signIn("alice", uaFirefoxLinux)
			gate.armed.Store(true)
			done := make(chan int)
			go func() {
				done <- phone.do(http.MethodPost, "/login", url.Values{"name": {"alice"}}, "User-Agent", uaSafariIPhone).Code
			}()
			<-gate.reached // the phone's entry is in the list, its session not yet stored
			if during == "/sessions" {
				if list := laptop.sessions(); len(list) != 1 {
					t.Errorf("a session not stored yet is listed: %+v", list)
				}
			} else if rec := laptop.do(http.MethodPost, during, nil); rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", during, rec.Code, rec.Body)
			}
			close(gate.release)
			if code := <-done; code != http.StatusSeeOther {
				t.Fatalf("the phone's login: %d", code)
			}
			if list := laptop.sessions(); len(list) != 2 {
				t.Errorf("after %s during the phone's login, the laptop lists %d sessions, want 2 (the phone's works: %q)", during, len(list), phone.loggedInAs())
			}
		})
	}
}

func TestAMissingSessionLeavesTheListOnceSettled(t *testing.T) {
	a, clock := clockApp(t, Options{TrackSessions: true})
	accountRoutes(a)
	laptop, phone := a, a.browser()
	laptop.signIn("alice", uaFirefoxLinux)
	phone.signIn("alice", uaSafariIPhone)
	if err := a.store.Client.Delete(a.m.store.keyOf(phone.currentHandle())); err != nil { // evicted
		t.Fatal(err)
	}
	clock.Advance(time.Minute - time.Second) // a Login could still be storing it
	if list := laptop.sessions(); len(list) != 1 || len(laptop.storedIndex("alice")) != 2 {
		t.Fatalf("before the grace: listed %d, stored %d; want 1 and 2", len(list), len(laptop.storedIndex("alice")))
	}
	clock.Advance(time.Second)
	if list := laptop.sessions(); len(list) != 1 || len(laptop.storedIndex("alice")) != 1 {
		t.Errorf("after the grace: listed %d, stored %d; want 1 and 1", len(list), len(laptop.storedIndex("alice")))
	}
}

func TestSessionsFailClosed(t *testing.T) {
	a := trackingApp(t, NewMemoryClient(), Options{})
	a.signIn("alice", uaFirefoxLinux)
	a.store.Client = &failingKey{Client: a.store.Client, key: a.m.store.indexKey("alice")}
	rec := a.get("/sessions")
	a.store.Client = a.store.Client.(*failingKey).Client
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "Handle") {
		t.Errorf("listing with the list unreadable: %d %q; want the ErrorHandler's 503", rec.Code, rec.Body)
	}
}

func TestConcurrentLoginsHoldTheBound(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := trackingApp(t, client, Options{})
		for range MaxTrackedSessions - 8 {
			a.browser().signIn("alice", uaFirefoxLinux)
		}
		const n = 16 // 8 more than the list has room for
		browsers := make([]*app, n)
		var wg sync.WaitGroup
		for i := range browsers {
			browsers[i] = a.browser()
			wg.Go(func() {
				if rec := browsers[i].do(http.MethodPost, "/login", url.Values{"name": {"alice"}}, "User-Agent", uaChromeWindows); rec.Code != http.StatusSeeOther {
					t.Errorf("concurrent login: %d %s", rec.Code, rec.Body)
				}
			})
		}
		wg.Wait()
		stored := a.storedIndex("alice")
		if len(stored) != MaxTrackedSessions {
			t.Fatalf("the list holds %d entries, want the bound %d", len(stored), MaxTrackedSessions)
		}
		for i, b := range browsers {
			if h := handleOfCookie(a, b.cookie); !slices.Contains(stored, h) {
				t.Errorf("concurrent login %d is not among the newest %d", i, MaxTrackedSessions)
			}
		}
	})
}
