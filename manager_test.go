package ginsession

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestUntouchedRouteCostsNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/plain", func(c *gin.Context) { c.String(http.StatusOK, "plain") })
		a.engine.GET("/set", func(c *gin.Context) { Default(c).Set("k", "v") })
		a.get("/set")
		before := a.store.total()
		rec := a.get("/plain")
		if rec.Code != http.StatusOK || rec.Body.String() != "plain" {
			t.Fatalf("got %d %q", rec.Code, rec.Body.String())
		}
		if n := a.store.total() - before; n != 0 {
			t.Errorf("untouched route made %d memcached operations, want 0", n)
		}
		for _, h := range []string{"Set-Cookie", "Vary", "Cache-Control"} {
			if v := rec.Header().Get(h); v != "" {
				t.Errorf("untouched route sent %s: %q", h, v)
			}
		}
	})
}

func TestTwoManagersCoexist(t *testing.T) {
	client := NewMemoryClient()
	admin, err := NewManager(Options{Secret: testSecret, Client: client, CookieName: "admin_sid", ContextKey: "admin",
		KeyPrefix: "admin:", UserKey: "admin_user", LoginURL: "/admin/login"})
	if err != nil {
		t.Fatal(err)
	}
	a := newApp(t, client, Options{})
	a.engine.Use(admin.Handler())
	a.engine.GET("/both", func(c *gin.Context) {
		Default(c).Set("who", "user")
		admin.Session(c).Set("who", "admin")
	})
	rec := a.get("/both")
	if sessionCookie(rec, "session_id") == nil || sessionCookie(rec, "admin_sid") == nil {
		t.Fatalf("want both cookies, got %v", rec.Header().Values("Set-Cookie"))
	}
	a.engine.GET("/admin", admin.Authenticated(), func(c *gin.Context) {})
	if rec := a.get("/admin"); rec.Code != http.StatusFound || !strings.HasPrefix(rec.Header().Get("Location"), "/admin/login?next=") {
		t.Errorf("admin guard: %d %q", rec.Code, rec.Header().Get("Location"))
	}
}
