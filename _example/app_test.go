package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// cookieName is the session cookie's name (ginsession's default).
const cookieName = "session_id"

// browser drives the app's handler in process, keeping the session cookie
// the way a browser would. Requests carry the headers a browser sends for a
// same-origin form post unless the test overrides them.
type browser struct {
	t      *testing.T
	h      http.Handler
	cookie string // session cookie value; "" when the browser has none
}

// response is a finished request: the response, its body and the session
// cookie it set, if any.
type response struct {
	*http.Response
	body   string
	cookie *http.Cookie
}

// newBrowser returns a browser for h with no cookies.
func newBrowser(t *testing.T, h http.Handler) *browser {
	return &browser{t: t, h: h}
}

// get requests target with GET.
func (b *browser) get(target string) response {
	return b.do(http.MethodGet, target, nil)
}

// post submits form to target; headers are name, value pairs that replace
// the same-origin defaults.
func (b *browser) post(target string, form url.Values, headers ...string) response {
	return b.do(http.MethodPost, target, form, headers...)
}

func (b *browser) do(method, target string, form url.Values, headers ...string) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, target, body) // Host: example.com
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://example.com")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	if b.cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: b.cookie})
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	res := response{Response: rec.Result(), body: rec.Body.String()}
	for _, c := range res.Cookies() { // the last one of our name wins, as in browsers
		if c.Name != cookieName {
			continue
		}
		res.cookie = c
		if c.MaxAge < 0 || c.Value == "" {
			b.cookie = ""
		} else {
			b.cookie = c.Value
		}
	}
	return res
}

// with returns a browser holding the given cookie value (another tab or an
// attacker replaying a cookie).
func (b *browser) with(cookie string) *browser {
	return &browser{t: b.t, h: b.h, cookie: cookie}
}

// expect fails the test unless the response has the status and, when
// location is not "", that Location.
func (r response) expect(t *testing.T, status int, location string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body:\n%s", r.Request.Method, r.Request.URL, r.StatusCode, status, r.body)
	}
	if location != "" {
		if got := r.Header.Get("Location"); got != location {
			t.Fatalf("%s %s: Location %q, want %q", r.Request.Method, r.Request.URL, got, location)
		}
	}
}

var visitsRE = regexp.MustCompile(`id="visits">(\d+)<`)

// visits returns the counter shown on the home page.
func (r response) visits(t *testing.T) int {
	t.Helper()
	m := visitsRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no visit counter in page:\n%s", r.body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// newTestApp builds the app on a fresh memcached.
func newTestApp(t *testing.T) (http.Handler, config) {
	t.Helper()
	cfg := testConfig(t, startMemcached(t).Addr)
	h, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h, cfg
}

// login logs b in as name and returns the login response.
func login(t *testing.T, b *browser, name string, extra ...string) response {
	t.Helper()
	form := url.Values{"name": {name}, "next": {"/"}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	res := b.post("/login", form)
	res.expect(t, http.StatusSeeOther, "/")
	return res
}

func TestLoginFlow(t *testing.T) {
	h, cfg := newTestApp(t)
	b := newBrowser(t, h)

	// Anonymous: the protected page sends us to the login page.
	res := b.get("/")
	res.expect(t, http.StatusFound, "/login?next=%2F")
	if res.cookie != nil {
		t.Errorf("anonymous GET / set a cookie: %v", res.cookie)
	}
	res = b.get("/login?next=%2F")
	res.expect(t, http.StatusOK, "")
	for _, want := range []string{
		`<input id="name" name="name"`,
		`<input type="checkbox" name="remember"`,
		`<input type="hidden" name="next" value="/">`,
		"Sessions: memcached at " + cfg.memcached[0],
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("login page lacks %q:\n%s", want, res.body)
		}
	}

	// Log in: 303 to next, with a hardened session cookie.
	res = login(t, b, "alice")
	c := res.cookie
	if c == nil {
		t.Fatal("login set no session cookie")
	}
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
		t.Errorf("session cookie %q: want HttpOnly, Secure, SameSite=Lax, Path=/", res.Header.Values("Set-Cookie"))
	}
	if c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Errorf("without remember me the cookie must be a browser-session cookie, got %q", res.Header.Values("Set-Cookie"))
	}
	loggedIn := b.cookie

	// The home page greets the user and counts visits in the session.
	for want := 1; want <= 2; want++ {
		res = b.get("/")
		res.expect(t, http.StatusOK, "")
		if !strings.Contains(res.body, "Hello, alice") {
			t.Fatalf("home page lacks the greeting:\n%s", res.body)
		}
		if got := res.visits(t); got != want {
			t.Errorf("visit %d: counter shows %d", want, got)
		}
	}
	if !strings.Contains(res.body, `<form method="post" action="/logout">`) {
		t.Errorf("home page lacks the logout form:\n%s", res.body)
	}

	// A logged-in user who opens the login page goes straight on.
	b.get("/login?next=%2F%3Fx%3D1").expect(t, http.StatusFound, "/?x=1")

	// Log out: back to the login page, which shows the flash once.
	res = b.post("/logout", nil)
	res.expect(t, http.StatusSeeOther, "/login")
	if b.cookie == "" || b.cookie == loggedIn {
		t.Fatalf("logout must leave a new session (for the flash), got cookie %q", b.cookie)
	}
	res = b.get("/login")
	res.expect(t, http.StatusOK, "")
	if !strings.Contains(res.body, "You have been logged out.") {
		t.Errorf("login page after logout lacks the flash:\n%s", res.body)
	}
	if res = b.get("/login"); strings.Contains(res.body, "You have been logged out.") {
		t.Errorf("the flash was shown twice")
	}
	b.get("/").expect(t, http.StatusFound, "/login?next=%2F")

	// The cookie from before logout is dead, even replayed.
	b.with(loggedIn).get("/").expect(t, http.StatusFound, "/login?next=%2F")
}

func TestLoginRotatesSessionID(t *testing.T) {
	h, _ := newTestApp(t)
	b := newBrowser(t, h)

	// Get an anonymous session first (logging out leaves a flash in one).
	b.post("/logout", nil).expect(t, http.StatusSeeOther, "/login")
	before := b.cookie
	if before == "" {
		t.Fatal("no anonymous session cookie after logout")
	}
	login(t, b, "alice")
	if b.cookie == "" || b.cookie == before {
		t.Fatalf("login kept the session ID (cookie %q before, %q after)", before, b.cookie)
	}
	b.get("/").expect(t, http.StatusOK, "")
	// The pre-login ID is worthless: session fixation does not work.
	b.with(before).get("/").expect(t, http.StatusFound, "/login?next=%2F")
}

func TestCrossSiteRequestsRefused(t *testing.T) {
	h, _ := newTestApp(t)
	b := newBrowser(t, h)
	form := url.Values{"name": {"mallory"}}

	for _, tc := range []struct {
		name    string
		headers []string
	}{
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}},
		{"Sec-Fetch-Site same-site", []string{"Sec-Fetch-Site", "same-site", "Origin", "http://sub.example.com"}},
		{"foreign Origin, no Sec-Fetch-Site", []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := b.post("/login", form, tc.headers...)
			res.expect(t, http.StatusForbidden, "")
			if res.cookie != nil {
				t.Errorf("refused request set a cookie: %v", res.cookie)
			}
		})
	}

	// A cross-site logout does not log the user out.
	login(t, b, "alice")
	b.post("/logout", nil, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example").expect(t, http.StatusForbidden, "")
	b.get("/").expect(t, http.StatusOK, "")

	// Non-browser clients (no Origin, no Sec-Fetch-Site) are not CSRF
	// vectors and pass, as with curl.
	newBrowser(t, h).post("/login", url.Values{"name": {"curl"}}, "Origin", "", "Sec-Fetch-Site", "").expect(t, http.StatusSeeOther, "/")
}

func TestLoginValidatesName(t *testing.T) {
	h, _ := newTestApp(t)

	for _, tc := range []struct {
		name, input, message string
	}{
		{"empty", "", "Please enter your name."},
		{"blank", "  \t ", "Please enter your name."},
		{"too long", strings.Repeat("a", maxNameLen+1), "too long"},
		{"control character", "al\x00ice", "not allowed"},
		{"invalid UTF-8", "al\xffice", "not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBrowser(t, h)
			res := b.post("/login", url.Values{"name": {tc.input}, "next": {"/private"}, "remember": {"on"}})
			res.expect(t, http.StatusBadRequest, "")
			if !strings.Contains(res.body, tc.message) {
				t.Errorf("400 page lacks %q:\n%s", tc.message, res.body)
			}
			// The form comes back with next and remember me kept.
			for _, want := range []string{`name="next" value="/private"`, `value="on" checked`} {
				if !strings.Contains(res.body, want) {
					t.Errorf("400 page lacks %q:\n%s", want, res.body)
				}
			}
			if res.cookie != nil {
				t.Errorf("a rejected login set a cookie: %v", res.cookie)
			}
		})
	}

	t.Run("trimmed", func(t *testing.T) {
		b := newBrowser(t, h)
		login(t, b, "  bob \n")
		if res := b.get("/"); !strings.Contains(res.body, "Hello, bob</h1>") {
			t.Errorf("name not trimmed:\n%s", res.body)
		}
	})
	t.Run("64 characters", func(t *testing.T) {
		login(t, newBrowser(t, h), strings.Repeat("é", maxNameLen)) // 128 bytes, 64 characters
	})
}

func TestNextURL(t *testing.T) {
	h, _ := newTestApp(t)

	// The requested URI survives the round trip through the login page.
	b := newBrowser(t, h)
	b.get("/?tab=2").expect(t, http.StatusFound, "/login?next=%2F%3Ftab%3D2")
	res := b.get("/login?next=%2F%3Ftab%3D2")
	if !strings.Contains(res.body, `<input type="hidden" name="next" value="/?tab=2">`) {
		t.Fatalf("login page does not carry next:\n%s", res.body)
	}
	b.post("/login", url.Values{"name": {"alice"}, "next": {"/?tab=2"}}).expect(t, http.StatusSeeOther, "/?tab=2")

	// Off-site targets fall back to "/", and are not put in the form.
	for _, next := range []string{"//evil.com", "https://evil.com/", `/\evil.com`, "javascript:alert(1)"} {
		t.Run(next, func(t *testing.T) {
			b := newBrowser(t, h)
			res := b.get("/login?next=" + url.QueryEscape(next))
			if strings.Contains(res.body, `name="next"`) {
				t.Errorf("login page carries next=%q:\n%s", next, res.body)
			}
			b.post("/login", url.Values{"name": {"alice"}, "next": {next}}).expect(t, http.StatusSeeOther, "/")
		})
	}
}

func TestStaticAndHeaders(t *testing.T) {
	h, _ := newTestApp(t)
	b := newBrowser(t, h)

	res := b.get("/static/style.css")
	res.expect(t, http.StatusOK, "")
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("style.css Content-Type %q", ct)
	}
	if res.cookie != nil || res.Header.Get("Vary") != "" {
		t.Errorf("a route that does not touch the session sent cookie %v, Vary %q", res.cookie, res.Header.Get("Vary"))
	}

	res = b.get("/login")
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
		if res.Header.Get(h) == "" {
			t.Errorf("login page lacks header %s", h)
		}
	}
	b.get("/nope").expect(t, http.StatusNotFound, "")
}

// TestStoreOutage stops memcached under a logged-in user: pages that need
// the session answer 503 (never 500, never a panic), the stylesheet is
// unaffected, and service resumes when memcached is back.
func TestStoreOutage(t *testing.T) {
	mc := startMemcached(t)
	h, err := newApp(testConfig(t, mc.Addr))
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, h)
	login(t, b, "alice")
	b.get("/").expect(t, http.StatusOK, "")
	cookie := b.cookie

	mc.Stop()
	b.get("/").expect(t, http.StatusServiceUnavailable, "")
	b.get("/login").expect(t, http.StatusServiceUnavailable, "")
	b.post("/logout", nil).expect(t, http.StatusServiceUnavailable, "")
	newBrowser(t, h).post("/login", url.Values{"name": {"bob"}}).expect(t, http.StatusServiceUnavailable, "")
	b.get("/static/style.css").expect(t, http.StatusOK, "")

	// A new memcached on the same address: the old sessions are gone, the
	// app works again without a restart.
	mc.Restart(t)
	b.with(cookie).get("/").expect(t, http.StatusFound, "/login?next=%2F")
	login(t, b, "alice")
	b.get("/").expect(t, http.StatusOK, "")
}
