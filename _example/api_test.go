package main

import (
	"net/http"
	"strings"
	"testing"
)

// expectJSON fails the test unless the response is JSON with the status and
// exactly the body want.
func (r response) expectJSON(t *testing.T, status int, want string) {
	t.Helper()
	r.expect(t, status, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s %s: Content-Type %q, want application/json", r.Request.Method, r.Request.URL, ct)
	}
	if r.body != want {
		t.Errorf("%s %s: body %s, want %s", r.Request.Method, r.Request.URL, r.body, want)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("%s %s: Cache-Control %q, want no-store", r.Request.Method, r.Request.URL, cc)
	}
}

func TestAPIMe(t *testing.T) {
	h, _ := newTestApp(t)
	b := newBrowser(t, h)

	// Anonymous: 401 with a JSON body, not a redirect to the login page,
	// and no session is created for it.
	res := b.get("/api/me")
	res.expectJSON(t, http.StatusUnauthorized, `{"error":"login required"}`)
	if res.cookie != nil {
		t.Errorf("anonymous /api/me set a cookie: %v", res.cookie)
	}

	// Logged in: the user's name, from the same session as the pages.
	login(t, b, "alice")
	b.get("/api/me").expectJSON(t, http.StatusOK, `{"user":"alice"}`)
	// A name that needs escaping comes back as the same string.
	other := newBrowser(t, h)
	login(t, other, `"bob" <b>`)
	other.get("/api/me").expectJSON(t, http.StatusOK, `{"user":"\"bob\" \u003cb\u003e"}`)

	// Only GET is routed.
	b.post("/api/me", nil).expect(t, http.StatusNotFound, "")

	// Logged out: 401 again, and the old cookie is worth nothing.
	loggedIn := b.cookie
	b.post("/logout", nil).expect(t, http.StatusSeeOther, "/login")
	b.get("/api/me").expectJSON(t, http.StatusUnauthorized, `{"error":"login required"}`)
	b.with(loggedIn).get("/api/me").expectJSON(t, http.StatusUnauthorized, `{"error":"login required"}`)
}
