package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumBin is where Debian's chromium package installs the browser.
const chromiumBin = "/usr/bin/chromium"

// lanHost stands for a LAN hostname served over plain HTTP; the browser
// maps it to 127.0.0.1.
const lanHost = "lan.test"

// TestBrowser drives headless Chromium through the whole flow against the
// app served over plain HTTP on 127.0.0.1 with a real memcached, and with the
// session cookie left Secure (no InsecureCookie): Chromium treats
// http://127.0.0.1 and http://localhost as potentially trustworthy and keeps
// Secure cookies there, so the login sticks.
//
// Set EXAMPLE_SCREENSHOT_DIR to keep the screenshots after the test.
func TestBrowser(t *testing.T) {
	needChromium(t)
	cfg := testConfig(t, startMemcached(t).Addr)
	handler, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler) // http://127.0.0.1:PORT
	t.Cleanup(srv.Close)
	base := srv.URL

	shots := t.TempDir()
	allocCtx := startChromium(t)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)

	// Anonymous: / sends us to the login page, next carried along.
	open(t, tab, base+"/")
	waitFor(t, tab, "#name")
	if got := location(t, tab); got != base+"/login?next=%2F" {
		t.Fatalf("opening / landed on %s, want %s/login?next=%%2F", got, base)
	}

	// Log in.
	submit(t, tab, chromedp.SendKeys(chromedp.CSS("#name"), "alice"), chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	waitFor(t, tab, "#greeting")
	if got := location(t, tab); got != base+"/" {
		t.Errorf("after login: at %s, want %s/", got, base)
	}
	expectText(t, tab, "#greeting", "Hello, alice")
	expectText(t, tab, "#visits", "1")
	screenshot(t, tab, shots, "logged-in.png")

	// The session cookie, as the browser stored it.
	c := sessionCookie(t, tab, base)
	if c == nil {
		t.Fatalf("the browser kept no %s cookie for %s: a Secure cookie was refused over http://127.0.0.1", cookieName, base)
	}
	if !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || !c.Secure || !c.Session {
		t.Errorf("session cookie: HttpOnly=%v SameSite=%q Secure=%v Session=%v; want HttpOnly, Lax, Secure, a browser-session cookie",
			c.HTTPOnly, c.SameSite, c.Secure, c.Session)
	}
	if v, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.cookie`)); err != nil || v != "" {
		t.Errorf("page script sees document.cookie = %q (err %v); the session cookie must be HttpOnly", v, err)
	}

	// A reload keeps the login and counts the visit.
	if err := chromedp.Do(tab, chromedp.Reload()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	waitFor(t, tab, "#visits")
	expectText(t, tab, "#greeting", "Hello, alice")
	expectText(t, tab, "#visits", "2")

	// Another browser context (like an incognito window) is not logged in.
	t.Run("second context", func(t *testing.T) {
		other, cancel := chromedp.NewContext(tab, chromedp.WithNewBrowserContext())
		defer cancel()
		open(t, other, base+"/")
		waitFor(t, other, "#name")
		if got := location(t, other); got != base+"/login?next=%2F" {
			t.Errorf("second context: opening / landed on %s, want the login page", got)
		}
		if c := sessionCookie(t, other, base); c != nil {
			t.Errorf("second context shares the session cookie")
		}
	})

	// Log out: back on the login page with the flash message.
	submit(t, tab, chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
	waitFor(t, tab, ".flash")
	if got := location(t, tab); got != base+"/login" {
		t.Errorf("after logout: at %s, want %s/login", got, base)
	}
	expectText(t, tab, ".flash", "You have been logged out.")
	screenshot(t, tab, shots, "logged-out.png")
	open(t, tab, base+"/")
	waitFor(t, tab, "#name")
	if got := location(t, tab); got != base+"/login?next=%2F" {
		t.Errorf("after logout, opening / landed on %s, want the login page", got)
	}

	// http://localhost is trustworthy too: a Secure cookie set there sticks.
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	t.Run("localhost", func(t *testing.T) {
		local := "http://localhost:" + port
		ctx, cancel := chromedp.NewContext(tab, chromedp.WithNewBrowserContext())
		defer cancel()
		open(t, ctx, local+"/")
		waitFor(t, ctx, "#name")
		submit(t, ctx, chromedp.SendKeys(chromedp.CSS("#name"), "bob"), chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
		waitFor(t, ctx, "#greeting")
		expectText(t, ctx, "#greeting", "Hello, bob")
		if c := sessionCookie(t, ctx, local); c == nil || !c.Secure {
			t.Errorf("http://localhost: want the Secure session cookie stored, got %+v", c)
		}
	})

	// Plain HTTP on any other hostname is not trustworthy: the browser
	// drops the Secure cookie and the login does not stick. That is what
	// -insecure-cookie is for.
	t.Run("LAN hostname drops Secure cookie", func(t *testing.T) {
		lan := "http://" + net.JoinHostPort(lanHost, port)
		ctx, cancel := chromedp.NewContext(tab, chromedp.WithNewBrowserContext())
		defer cancel()
		open(t, ctx, lan+"/login")
		submit(t, ctx, chromedp.SendKeys(chromedp.CSS("#name"), "carol"), chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
		if got := location(t, ctx); got != lan+"/login?next=%2F" {
			t.Errorf("Secure cookie over http://%s: landed on %s, want the login page again", lanHost, got)
		}
		if c := sessionCookie(t, ctx, lan); c != nil {
			t.Errorf("the browser stored a Secure cookie from http://%s", lanHost)
		}
	})
	t.Run("LAN hostname with -insecure-cookie", func(t *testing.T) {
		insecure := cfg
		insecure.insecureCookie = true
		h, err := newApp(insecure)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		defer srv.Close()
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		lan := "http://" + net.JoinHostPort(lanHost, port)
		ctx, cancel := chromedp.NewContext(tab, chromedp.WithNewBrowserContext())
		defer cancel()
		open(t, ctx, lan+"/login")
		submit(t, ctx, chromedp.SendKeys(chromedp.CSS("#name"), "carol"), chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
		waitFor(t, ctx, "#greeting")
		expectText(t, ctx, "#greeting", "Hello, carol")
	})
}

// needChromium skips the test with -short or without Chromium (failing it
// under CI=true). Browser tests call it before starting anything else.
func needChromium(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: no browser test")
	}
	if _, err := os.Stat(chromiumBin); err != nil {
		missing(t, "chromium is not installed at "+chromiumBin+" (apt-get install -y chromium)")
	}
}

// startChromium starts headless Chromium for the test, with a two-minute
// limit, and returns its allocator context; tabs and browser contexts are
// made from it with chromedp.NewContext. The browser is stopped and its
// profile removed when the test ends. Call it after starting the server, so
// the browser stops first.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	needChromium(t)
	userDataDir := t.TempDir() // removed after the browser has exited (cleanups run last-in first-out)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumBin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// A LAN-style hostname for the plain-HTTP checks; it resolves to
		// this machine only.
		chromedp.Flag("host-resolver-rules", "MAP "+lanHost+" 127.0.0.1"),
		chromedp.UserDataDir(userDataDir),
		chromedp.WindowSize(1000, 700),
	)
	t.Cleanup(cancelAlloc) // waits for the browser to exit
	return allocCtx
}

// open navigates to url and checks that the final response is 200.
func open(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("open %s: status %d", url, resp.Status)
	}
}

// submit runs steps that end in a navigation (a form submit) and waits for
// the new page, which must answer 200.
func submit(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if resp.Status != http.StatusOK {
		t.Fatalf("submit: landed on %s with status %d", resp.URL, resp.Status)
	}
}

// waitFor waits until the element matching the CSS selector is visible.
func waitFor(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("wait for %s: %v", sel, err)
	}
}

// expectText checks the visible text of the element matching sel.
func expectText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	if strings.TrimSpace(got) != want {
		t.Errorf("%s shows %q, want %q", sel, got, want)
	}
}

// location returns the address of the current page.
func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("location: %v", err)
	}
	return loc
}

// sessionCookie returns the browser's session cookie for url, read through
// the DevTools protocol (it is HttpOnly, so page scripts cannot see it), or
// nil.
func sessionCookie(t *testing.T, ctx context.Context, url string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		t.Fatalf("get cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == cookieName {
			return c
		}
	}
	return nil
}

// screenshot saves the viewport as a PNG in dir (and in
// $EXAMPLE_SCREENSHOT_DIR when set) and logs where.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dirs := []string{dir}
	if keep := os.Getenv("EXAMPLE_SCREENSHOT_DIR"); keep != "" {
		dirs = append(dirs, keep)
	}
	for _, d := range dirs {
		path := filepath.Join(d, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatalf("save screenshot: %v", err)
		}
		t.Logf("screenshot: %s", path)
	}
}
