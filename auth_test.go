package ginsession

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestAuthenticatedFlow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := authApp(t, client, Options{})
		rec := a.get("/private?tab=2&x=%2F")
		if rec.Code != http.StatusFound {
			t.Fatalf("anonymous GET: %d", rec.Code)
		}
		if got, want := rec.Header().Get("Location"), "/login?next="+url.QueryEscape("/private?tab=2&x=%2F"); got != want {
			t.Errorf("Location %q, want %q", got, want)
		}
		if rec := a.do(http.MethodHead, "/private", nil); rec.Code != http.StatusFound {
			t.Errorf("anonymous HEAD: %d", rec.Code)
		}
		if rec := a.do(http.MethodPost, "/private", url.Values{}); rec.Code != http.StatusForbidden || rec.Body.String() == "posted" {
			t.Errorf("anonymous POST: %d %q", rec.Code, rec.Body.String())
		}
		if a.cookie != "" {
			t.Error("an anonymous visit to a guarded page created a session")
		}

		// Log in with a pre-existing (possibly attacker-planted) session: the ID rotates.
		a.engine.GET("/visit", func(c *gin.Context) { Default(c).Set("visits", 1) })
		a.get("/visit")
		planted := a.cookie
		rec = a.do(http.MethodPost, "/login?next=%2Fprivate%3Ftab%3D2", url.Values{"name": {"alice"}})
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/private?tab=2" {
			t.Fatalf("login: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		if a.cookie == planted || a.cookie == "" {
			t.Fatal("login did not rotate the session ID")
		}
		if got := a.get("/private").Body.String(); got != "hello alice alice" {
			t.Errorf("logged-in page: %q", got)
		}
		a.engine.GET("/visits", func(c *gin.Context) { c.String(http.StatusOK, "%d", Default(c).GetInt("visits")) })
		if got := a.get("/visits").Body.String(); got != "1" {
			t.Errorf("data lost at login: %q", got)
		}
		loggedIn := a.cookie
		a.cookie = planted
		if got := a.get("/private"); got.Code != http.StatusFound {
			t.Error("the pre-login session ID still logs in")
		}

		a.cookie = loggedIn
		rec = a.do(http.MethodPost, "/logout", url.Values{})
		if ck := sessionCookie(rec, "session_id"); ck == nil || ck.MaxAge >= 0 {
			t.Error("logout did not expire the cookie")
		}
		a.cookie = loggedIn // a copied cookie is dead too
		if rec := a.get("/private"); rec.Code != http.StatusFound {
			t.Errorf("after logout: %d", rec.Code)
		}
		if rec := a.do(http.MethodPost, "/login", url.Values{"name": {""}}); rec.Code != http.StatusBadRequest {
			t.Errorf("empty user name: %d", rec.Code)
		}
	})
}

func TestLoginURLVariants(t *testing.T) {
	cases := []struct{ loginURL, target, want string }{
		{"/login", "/a/b?c=d", "/login?next=%2Fa%2Fb%3Fc%3Dd"},
		{"/auth?lang=en", "/a", "/auth?lang=en&next=%2Fa"},
		// next is built from PublicURL, never from the (forged) Host header.
		{"https://sso.example.com/login", "/a?b=1", "https://sso.example.com/login?next=" + url.QueryEscape("https://app.example.com/a?b=1")},
	}
	for _, tc := range cases {
		a := newApp(t, NewMemoryClient(), Options{LoginURL: tc.loginURL, PublicURL: "https://app.example.com/"})
		a.engine.GET("/*any", Authenticated(), func(c *gin.Context) {})
		req := httptest.NewRequest(http.MethodGet, "http://evil.example"+tc.target, nil)
		rec := httptest.NewRecorder()
		a.engine.ServeHTTP(rec, req)
		if got := rec.Header().Get("Location"); got != tc.want {
			t.Errorf("LoginURL %q: Location %q, want %q", tc.loginURL, got, tc.want)
		}
	}
}

func TestNextURL(t *testing.T) {
	cases := map[string]string{
		"/":                                     "/",
		"/account?tab=1#x":                      "/account?tab=1#x",
		"/a/b/../c":                             "/a/b/../c",
		"":                                      "/fallback",
		"//evil.com":                            "/fallback",
		"/\\evil.com":                           "/fallback",
		"/a\\b":                                 "/fallback",
		"https://evil.com/":                     "/fallback",
		"javascript:alert(1)":                   "/fallback",
		"evil.com":                              "/fallback",
		"/\t/evil.com":                          "/fallback",
		"/\n/evil.com":                          "/fallback",
		"/ok\x7f":                               "/fallback",
		"/" + strings.Repeat("a", maxNextURL):   "/fallback",
		"/" + strings.Repeat("a", maxNextURL-1): "/" + strings.Repeat("a", maxNextURL-1),
	}
	for next, want := range cases {
		r := gin.New()
		var got string
		r.Any("/", func(c *gin.Context) { got = NextURL(c, "/fallback") })
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/?next="+url.QueryEscape(next), nil))
		if got != want {
			t.Errorf("NextURL(%q) = %q, want %q", next, got, want)
		}
	}
	// From a POST form too.
	r := gin.New()
	var got string
	r.POST("/", func(c *gin.Context) { got = NextURL(c, "/fallback") })
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("next=%2Finbox"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.ServeHTTP(httptest.NewRecorder(), req)
	if got != "/inbox" {
		t.Errorf("form next: %q", got)
	}
}

// Logged in means UserKey holds a non-blank string or a non-zero integer
// (an application's own numeric user ID); every other value, falsy or not
// text, is anonymous.
func TestFalsyUserValuesAreAnonymous(t *testing.T) {
	cases := []struct {
		value any
		user  string // "" = anonymous
	}{
		{"alice", "alice"},
		{42, "42"},
		{-7, "-7"},
		{uint64(1) << 63, "9223372036854775808"},
		{0, ""},
		{0.0, ""},
		{1.5, ""},
		{true, ""},
		{false, ""},
		{" ", ""},
		{"\t", ""},
		{"\u00a0\n", ""},
		{"", ""},
		{[]any{nil}, ""},
		{[]string{"a"}, ""},
		{[]byte{}, ""},
		{[]byte("carol"), ""},
		{nil, ""},
		{[]string{}, ""},
		{map[string]int{}, ""},
	}
	forEachBackend(t, func(t *testing.T, client Client) {
		for _, tc := range cases {
			a := newApp(t, client, Options{UserKey: "user_id"})
			a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_id", tc.value) })
			var seen, user string
			a.engine.GET("/private", Authenticated(), func(c *gin.Context) {
				seen, user = c.GetString(gin.AuthUserKey), User(c)
				c.String(http.StatusOK, "private")
			})
			a.engine.GET("/who", func(c *gin.Context) { c.String(http.StatusOK, User(c)) })
			a.get("/login")
			rec := a.get("/private")
			if tc.user == "" {
				if rec.Code != http.StatusFound {
					t.Errorf("user_id %#v: status %d, want the login redirect", tc.value, rec.Code)
				}
				if who := a.get("/who").Body.String(); who != "" {
					t.Errorf("user_id %#v: User = %q, want \"\"", tc.value, who)
				}
				continue
			}
			if rec.Code != http.StatusOK || seen != tc.user || user != tc.user {
				t.Errorf("user_id %#v: status %d, AuthUserKey %q, User %q; want 200 and %q", tc.value, rec.Code, seen, user, tc.user)
			}
		}
	})
}

// TestNextURLRefusesTripleSlash: "///evil.com" parses with an empty host,
// yet browsers follow it to evil.com like "//evil.com", so only the check of
// the second character keeps it out. Neither NextURL (query or form) nor
// the login redirect built on it may send a user there.
func TestNextURLRefusesTripleSlash(t *testing.T) {
	targets := []string{"///evil.com", "///evil.com/path?x=1", "////evil.com"}
	for _, next := range targets {
		r := gin.New()
		var fromQuery, fromForm string
		r.GET("/", func(c *gin.Context) { fromQuery = NextURL(c, "/fallback") })
		r.POST("/", func(c *gin.Context) { fromForm = NextURL(c, "/fallback") })
		r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/?next="+url.QueryEscape(next), nil))
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("next="+url.QueryEscape(next)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.ServeHTTP(httptest.NewRecorder(), req)
		if fromQuery != "/fallback" {
			t.Errorf("NextURL(query next=%q) = %q, want the fallback", next, fromQuery)
		}
		if fromForm != "/fallback" {
			t.Errorf("NextURL(form next=%q) = %q, want the fallback", next, fromForm)
		}
	}
	forEachBackend(t, func(t *testing.T, client Client) {
		a := authApp(t, client, Options{})
		for _, next := range targets {
			rec := a.do(http.MethodPost, "/login?next="+url.QueryEscape(next), url.Values{"name": {"alice"}})
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
				t.Errorf("login with next=%q: %d, Location %q; want 303 to /", next, rec.Code, rec.Header().Get("Location"))
			}
		}
	})
}

// With memcached's delete failing, a handler that ignores Logout's error
// must not answer "logged out" while the old cookie still works.
func TestLogoutFailsClosed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := authApp(t, client, Options{})
		a.engine.POST("/logout-ignoring-errors", func(c *gin.Context) {
			_ = Logout(c)
			c.String(http.StatusOK, "logged out")
		})
		a.do(http.MethodPost, "/login", url.Values{"name": {"alice"}})
		cookie := a.cookie
		deleteFails := &failingDelete{countingClient: a.store}
		a.m.store.client = deleteFails

		rec := a.do(http.MethodPost, "/logout-ignoring-errors", url.Values{})
		if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "logged out") {
			t.Fatalf("failed logout answered %d %q; want the ErrorHandler's 503", rec.Code, rec.Body.String())
		}
		if ck := sessionCookie(rec, "session_id"); ck != nil {
			t.Errorf("failed logout sent cookie %v", ck)
		}
		a.m.store.client = a.store
		a.cookie = cookie
		if rec := a.get("/private"); rec.Code != http.StatusOK {
			t.Fatalf("the session should still work after the failed delete (got %d): the page was right to fail", rec.Code)
		}
		rec = a.do(http.MethodPost, "/logout-ignoring-errors", url.Values{})
		if rec.Code != http.StatusOK || a.cookie != "" {
			t.Fatalf("working logout: %d, cookie %q", rec.Code, a.cookie)
		}
		a.cookie = cookie
		if rec := a.get("/private"); rec.Code != http.StatusFound {
			t.Errorf("the old cookie still works after logout: %d", rec.Code)
		}
	})
}

// failingDelete fails every Delete, as memcached does when it is unreachable.
type failingDelete struct{ *countingClient }

func (f *failingDelete) Delete(string) error { return errors.New("memcache: connection refused") }

// An API group answers anonymous visitors with its own handler (401 JSON)
// while the site keeps the login redirect; Options.Unauthenticated replaces
// the site-wide default, which answers other methods with 403 and a body
// that says why.
func TestAuthenticatedFuncAndUnauthenticated(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := authApp(t, client, Options{})
		api := a.engine.Group("/api", AuthenticatedFunc(func(c *gin.Context) {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "login required"})
		}))
		reached := false
		api.GET("/me", func(c *gin.Context) {
			reached = true
			c.JSON(http.StatusOK, gin.H{"user": User(c)})
		})
		api.POST("/me", func(c *gin.Context) { reached = true })
		// onAnonymous that does not abort itself: the chain still stops.
		a.engine.GET("/soft", AuthenticatedFunc(func(c *gin.Context) { c.String(http.StatusTeapot, "no") }), func(c *gin.Context) {
			reached = true
		})

		rec := a.do(http.MethodGet, "/api/me", nil, "Accept", "application/json")
		if rec.Code != http.StatusUnauthorized || rec.Body.String() != `{"error":"login required"}` || reached {
			t.Errorf("anonymous GET /api/me: %d %q, handler reached %v", rec.Code, rec.Body.String(), reached)
		}
		if rec := a.do(http.MethodPost, "/api/me", url.Values{}); rec.Code != http.StatusUnauthorized || reached {
			t.Errorf("anonymous POST /api/me: %d, handler reached %v", rec.Code, reached)
		}
		if rec := a.get("/soft"); rec.Code != http.StatusTeapot || reached {
			t.Errorf("/soft: %d, handler reached %v (the chain must be aborted after onAnonymous)", rec.Code, reached)
		}
		if rec := a.get("/private"); rec.Code != http.StatusFound {
			t.Errorf("site page: %d, want the default login redirect", rec.Code)
		}
		rec = a.do(http.MethodPost, "/private", url.Values{})
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "login required") {
			t.Errorf("anonymous POST to a site page: %d %q, want 403 saying login is required", rec.Code, rec.Body.String())
		}

		a.do(http.MethodPost, "/login", url.Values{"name": {"alice"}})
		if rec := a.get("/api/me"); rec.Code != http.StatusOK || rec.Body.String() != `{"user":"alice"}` {
			t.Errorf("logged-in GET /api/me: %d %q", rec.Code, rec.Body.String())
		}
	})

	a := authApp(t, NewMemoryClient(), Options{Unauthenticated: func(c *gin.Context) {
		c.String(http.StatusUnauthorized, "site-wide")
	}})
	if rec := a.get("/private"); rec.Code != http.StatusUnauthorized || rec.Body.String() != "site-wide" {
		t.Errorf("Options.Unauthenticated: %d %q", rec.Code, rec.Body.String())
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), "AuthenticatedFunc") {
			t.Errorf("AuthenticatedFunc(nil) panic = %v, want a message naming it", p)
		}
	}()
	AuthenticatedFunc(nil)
}
