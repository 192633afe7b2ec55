package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserAccount drives headless Chromium through the account features:
// the JSON API, "Remember me" and "Log out everywhere", against the app
// on a real memcached with a one-second StampCheck. Each subtest uses its
// own browser contexts (separate cookie jars, like incognito windows).
func TestBrowserAccount(t *testing.T) {
	needChromium(t)
	const (
		rememberFor = 7 * 24 * time.Hour
		stampCheck  = time.Second
	)
	cfg := testConfig(t, startMemcached(t).Addr)
	cfg.rememberFor = rememberFor
	cfg.stampCheck = stampCheck
	handler, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	base := srv.URL
	// The first tab starts the browser; the subtests' contexts open in it.
	shots := t.TempDir()
	browser, cancel := chromedp.NewContext(startChromium(t))
	t.Cleanup(cancel)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	t.Run("api/me", func(t *testing.T) {
		ctx := newBrowserContext(t, browser)
		expectAPI(t, ctx, base+"/api/me", http.StatusUnauthorized, map[string]string{"error": "login required"})
		signIn(t, ctx, base, "alice", false)
		expectAPI(t, ctx, base+"/api/me", http.StatusOK, map[string]string{"user": "alice"})
	})

	t.Run("remember me", func(t *testing.T) {
		ctx := newBrowserContext(t, browser)
		open(t, ctx, base+"/login")
		expectText(t, ctx, "label.check", "Remember me for 7 days")
		screenshot(t, ctx, shots, "login-remember.png")
		signIn(t, ctx, base, "bob", true)
		c := sessionCookie(t, ctx, base)
		if c == nil {
			t.Fatal("no session cookie after a remember-me login")
		}
		if c.Session {
			t.Fatal("remember me: the browser keeps a browser-session cookie, want one with Max-Age")
		}
		// The browser turned Max-Age into an expiry time when the cookie
		// arrived, a moment ago: what is left is RememberFor, less that
		// moment (bounded generously) and less one second of rounding.
		left := time.Until(time.Unix(0, int64(c.Expires*float64(time.Second))))
		if left > rememberFor+time.Second || left < rememberFor-time.Minute {
			t.Errorf("remember me: the cookie expires in %v, want about %v (RememberFor)", left, rememberFor)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		ctx := newBrowserContext(t, browser)
		before := browserScrape(t, ctx, base)
		signIn(t, ctx, base, "erin", false)
		submit(t, ctx, chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
		waitFor(t, ctx, ".flash")
		after := browserScrape(t, ctx, base)
		for series, atLeast := range sessionFlowCounts {
			if d := after[series] - before[series]; d < atLeast {
				t.Errorf("%s grew by %v over a login, a visit and a logout, want at least %v", series, d, atLeast)
			}
		}
	})

	t.Run("where you're signed in", func(t *testing.T) {
		laptop := newBrowserContext(t, browser)
		phone := newBrowserContext(t, browser)
		signIn(t, laptop, base, "dave", false)
		signIn(t, phone, base, "dave", true)

		// The laptop's account page lists both sessions, itself marked.
		submit(t, laptop, chromedp.Click(chromedp.CSS("#account-link")))
		waitFor(t, laptop, "#this-device")
		list := sessionsShown(t, laptop)
		if strings.Count(list, "Headless Chrome on Linux") != 2 || !strings.Contains(list, "Remembered") || strings.Count(list, "Sign out") != 1 {
			t.Errorf("the account page lists:\n%s\nwant two Headless Chrome sessions, one remembered, one with a Sign out button", list)
		}
		screenshot(t, laptop, shots, "account.png")

		// It signs the phone out; the phone's next request lands on the
		// login page.
		submit(t, laptop, chromedp.Click(chromedp.CSS("button.end-session")))
		waitFor(t, laptop, ".flash")
		expectText(t, laptop, ".flash", "The session was signed out.")
		if list := sessionsShown(t, laptop); strings.Count(list, "Headless Chrome on Linux") != 1 {
			t.Errorf("after signing the phone out the page lists:\n%s", list)
		}
		open(t, phone, base+"/")
		if got := location(t, phone); got != base+"/login?next=%2F" {
			t.Errorf("phone: opening / after being signed out landed on %s, want the login page", got)
		}

		// Sign out all other sessions, from the phone this time.
		signIn(t, phone, base, "dave", false)
		tablet := newBrowserContext(t, browser)
		signIn(t, tablet, base, "dave", false)
		open(t, phone, base+"/account")
		submit(t, phone, chromedp.Click(chromedp.CSS("#end-others")))
		expectText(t, phone, ".flash", "All other sessions were signed out.")
		for name, ctx := range map[string]context.Context{"laptop": laptop, "tablet": tablet} {
			open(t, ctx, base+"/")
			if got := location(t, ctx); got != base+"/login?next=%2F" {
				t.Errorf("%s: opening / after sign out all other sessions landed on %s", name, got)
			}
		}
		open(t, phone, base+"/")
		expectText(t, phone, "#greeting", "Hello, dave")
	})

	t.Run("log out everywhere", func(t *testing.T) {
		laptop := newBrowserContext(t, browser)
		phone := newBrowserContext(t, browser)
		before := browserScrape(t, phone, base)
		signIn(t, laptop, base, "carol", false)
		signIn(t, phone, base, "carol", false)
		if a, b := sessionCookie(t, laptop, base), sessionCookie(t, phone, base); a == nil || b == nil || a.Value == b.Value {
			t.Fatal("the two browser contexts must hold two different sessions")
		}

		// The laptop logs out everywhere and is at once on the login page.
		submit(t, laptop, chromedp.Click(chromedp.CSS("#logout-everywhere")))
		waitFor(t, laptop, ".flash")
		if got := location(t, laptop); got != base+"/login" {
			t.Errorf("after log out everywhere: at %s, want %s/login", got, base)
		}
		expectText(t, laptop, ".flash", "You have been logged out everywhere.")
		screenshot(t, laptop, shots, "logged-out-everywhere.png")

		// The phone's next navigation after its stamp check falls due
		// lands on the login page. Poll, bounded: the check runs at most
		// every StampCheck, and this waits for it, it does not time it.
		deadline := time.Now().Add(20 * stampCheck)
		for {
			open(t, phone, base+"/")
			got := location(t, phone)
			if got == base+"/login?next=%2F" {
				break
			}
			if got != base+"/" {
				t.Fatalf("phone: opening / landed on %s", got)
			}
			if time.Now().After(deadline) {
				t.Fatalf("phone still logged in %v after log out everywhere (StampCheck %v)", 20*stampCheck, stampCheck)
			}
			time.Sleep(stampCheck / 5)
		}
		waitFor(t, phone, "#name")
		if c := sessionCookie(t, phone, base); c != nil {
			t.Errorf("the ended session's cookie is still in the phone's browser")
		}

		const mismatches = "ginsession_stamp_mismatches_total"
		if d := browserScrape(t, phone, base)[mismatches] - before[mismatches]; d < 1 {
			t.Errorf("%s grew by %v when the phone's session ended on its stamp, want at least 1", mismatches, d)
		}

		// Signing in again works, under the new stamp.
		signIn(t, phone, base, "carol", false)
		expectAPI(t, phone, base+"/api/me", http.StatusOK, map[string]string{"user": "carol"})
	})
}

// newBrowserContext opens a new browser context (an incognito-like window
// with its own cookie jar) in browser, closed when the test ends.
func newBrowserContext(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	return ctx
}

// signIn logs in through the login form, ticking "Remember me" when
// remember is set, and waits for the home page.
func signIn(t *testing.T, ctx context.Context, base, name string, remember bool) {
	t.Helper()
	open(t, ctx, base+"/login")
	steps := []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.CSS("#name"), name)}
	if remember {
		steps = append(steps, chromedp.Click(chromedp.CSS(`input[name="remember"]`)))
	}
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("fill in the login form: %v", err)
	}
	submit(t, ctx, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	waitFor(t, ctx, "#greeting")
	expectText(t, ctx, "#greeting", "Hello, "+name)
}

// expectAPI navigates to a JSON url and checks the status and the decoded
// body, as the browser received them.
func expectAPI(t *testing.T, ctx context.Context, url string, status int, want map[string]string) {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	if resp.Status != int64(status) {
		t.Errorf("open %s: status %d, want %d", url, resp.Status, status)
	}
	// Chromium shows a JSON document as text in a <pre>.
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("pre")))
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(text), &got); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("open %s: body %s, want %v", url, text, want)
	}
}

// browserScrape opens /metrics in ctx and parses what the browser shows.
func browserScrape(t *testing.T, ctx context.Context, base string) samples {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/metrics"))
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("open /metrics: %v (status %v)", err, resp)
	}
	// Chromium shows a text/plain document in a <pre>.
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("pre")))
	if err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	return parseSamples(t, text)
}

// sessionsShown returns the visible text of the account page's list.
func sessionsShown(t *testing.T, ctx context.Context) string {
	t.Helper()
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#sessions")))
	if err != nil {
		t.Fatalf("read the session list: %v", err)
	}
	return text
}
