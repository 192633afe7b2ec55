package ginsession

import (
	"net/http"
	"strings"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
)

func TestPrefersJSON(t *testing.T) {
	for _, tc := range []struct {
		accept string
		json   bool
	}{
		{"", false},
		{"*/*", false},
		{"application/json", true},
		{"Application/JSON; charset=utf-8", true},
		{"application/problem+json", true},
		{"application/json, text/plain, */*", true}, // axios
		{"application/json, */*;q=0.1", true},
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false}, // a browser page
		{"text/html, application/json", false},
		{"application/json, text/html;q=0.5", true},
		{"application/json;q=0.5, text/html", false},
		{"application/json;q=0", false},
		{"application/json;q=NaN", false},
		{"application/json;q=2", false},
		{"application/json;q=x", false},
		{"text/json", false},
		{"application/jsonx", false},
		{",,;;=,application/json", true},
	} {
		if got := prefersJSON(tc.accept); got != tc.json {
			t.Errorf("prefersJSON(%q) = %v, want %v", tc.accept, got, tc.json)
		}
	}
}

// With memcached down, a JSON route (an API group answering 401 JSON to
// anonymous callers) gets the default ErrorHandler's 503 in JSON, with
// Retry-After; a page request to the same route gets plain text.
func TestDefaultErrorHandlerSpeaksTheRoutesLanguage(t *testing.T) {
	mc := startMemcached(t)
	a := newApp(t, memcache.New(mc.addr), Options{})
	api := a.engine.Group("/api", AuthenticatedFunc(func(c *gin.Context) {
		c.JSON(http.StatusUnauthorized, gin.H{"error": "login required"})
	}))
	api.GET("/me", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"user": User(c)}) })
	a.cookie = newCookieCodec("session_id", testSecret, nil).encode(newID())
	mc.stop()
	for _, tc := range []struct {
		accept, contentType, body string
	}{
		{"application/json", "application/json; charset=utf-8", unavailableJSON},
		{"text/html,*/*;q=0.8", "text/plain; charset=utf-8", unavailableText},
		{"", "text/plain; charset=utf-8", unavailableText},
	} {
		rec := a.do(http.MethodGet, "/api/me", nil, "Accept", tc.accept)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" ||
			rec.Header().Get("Content-Type") != tc.contentType || rec.Body.String() != tc.body {
			t.Errorf("Accept %q: %d %v %q; want 503, Retry-After 1, %s %q", tc.accept, rec.Code, rec.Header(), rec.Body, tc.contentType, tc.body)
		}
	}
}

// The JSON answer to an oversized session has no Retry-After (a retry
// cannot help), and a Content-Type the handler set does not label it.
func TestDefaultErrorHandlerJSONTooLarge(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{MaxSize: 200})
	a.engine.GET("/big", func(c *gin.Context) {
		c.Header("Content-Type", "text/csv")
		Default(c).Set("blob", strings.Repeat("x", 500))
	})
	rec := a.do(http.MethodGet, "/big", nil, "Accept", "application/json")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "" ||
		rec.Header().Get("Content-Type") != "application/json; charset=utf-8" || rec.Body.String() != tooLargeJSON {
		t.Errorf("oversized session, JSON: %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
}
