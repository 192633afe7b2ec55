package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// User-Agents of the account page's browsers.
const (
	firefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	safariIPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)

// signInFrom logs b in as name from a browser sending userAgent.
func signInFrom(t *testing.T, b *browser, name, userAgent string) {
	t.Helper()
	b.post("/login", url.Values{"name": {name}, "next": {"/"}}, "User-Agent", userAgent).expect(t, http.StatusSeeOther, "/")
}

var endFormRE = regexp.MustCompile(`name="handle" value="([A-Za-z0-9_-]{43})"`)

// accountPage opens /account and returns the page and the handles of its
// "Sign out" forms.
func accountPage(t *testing.T, b *browser) (string, []string) {
	t.Helper()
	res := b.get("/account")
	res.expect(t, http.StatusOK, "")
	var handles []string
	for _, m := range endFormRE.FindAllStringSubmatch(res.body, -1) {
		handles = append(handles, m[1])
	}
	return res.body, handles
}

func TestAccountPage(t *testing.T) {
	h, _ := newTestApp(t)
	laptop, phone, tablet, bob := newBrowser(t, h), newBrowser(t, h), newBrowser(t, h), newBrowser(t, h)
	newBrowser(t, h).get("/account").expect(t, http.StatusFound, "/login?next=%2Faccount")
	signInFrom(t, laptop, "alice", firefoxLinux)
	signInFrom(t, phone, "alice", safariIPhone)
	signInFrom(t, bob, "bob", firefoxLinux)

	if res := laptop.get("/"); !strings.Contains(res.body, `href="/account"`) {
		t.Errorf("home page lacks the account link:\n%s", res.body)
	}
	body, handles := accountPage(t, laptop)
	if len(handles) != 1 || strings.Count(body, `<li class="session`) != 2 {
		t.Fatalf("alice's account page: %d sessions with %d sign-out forms, want 2 and 1:\n%s", strings.Count(body, `<li class="session`), len(handles), body)
	}
	for _, want := range []string{"Firefox on Linux", "Safari on iOS", "This device", "just now", "Sign out all other sessions"} {
		if !strings.Contains(body, want) {
			t.Errorf("account page lacks %q:\n%s", want, body)
		}
	}

	// Bob cannot end alice's phone session with its handle.
	bob.post("/account/end", url.Values{"handle": {handles[0]}}).expect(t, http.StatusSeeOther, "/account")
	phone.get("/").expect(t, http.StatusOK, "")
	if body, _ := accountPage(t, bob); !strings.Contains(body, "That session had already ended.") {
		t.Errorf("bob's page does not say the handle was refused:\n%s", body)
	}

	// The laptop signs the phone out: the phone's next request goes to the
	// login page.
	laptop.post("/account/end", url.Values{"handle": {handles[0]}}).expect(t, http.StatusSeeOther, "/account")
	phone.get("/").expect(t, http.StatusFound, "/login?next=%2F")
	body, handles = accountPage(t, laptop)
	if len(handles) != 0 || !strings.Contains(body, "The session was signed out.") || strings.Contains(body, "Sign out all other sessions") {
		t.Errorf("after signing the phone out the page is:\n%s", body)
	}

	// Sign out all other sessions.
	signInFrom(t, phone, "alice", safariIPhone)
	signInFrom(t, tablet, "alice", firefoxLinux)
	laptop.post("/account/end-others", nil).expect(t, http.StatusSeeOther, "/account")
	phone.get("/").expect(t, http.StatusFound, "/login?next=%2F")
	tablet.get("/").expect(t, http.StatusFound, "/login?next=%2F")
	laptop.get("/").expect(t, http.StatusOK, "")
	bob.get("/").expect(t, http.StatusOK, "")

	// Cross-site posts change nothing.
	signInFrom(t, phone, "alice", safariIPhone)
	_, handles = accountPage(t, laptop)
	laptop.post("/account/end", url.Values{"handle": {handles[0]}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example").expect(t, http.StatusForbidden, "")
	laptop.post("/account/end-others", nil, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example").expect(t, http.StatusForbidden, "")
	phone.get("/").expect(t, http.StatusOK, "")
}

func TestAgo(t *testing.T) {
	for d, want := range map[string]string{
		"0s": "just now", "59s": "just now", "1m": "1 minute ago", "59m": "59 minutes ago",
		"1h": "1 hour ago", "23h59m": "23 hours ago", "24h": "1 day ago", "720h": "30 days ago",
	} {
		if got := ago(mustDuration(t, d)); got != want {
			t.Errorf("ago(%s) = %q, want %q", d, got, want)
		}
	}
}

func mustDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
