package ginsession

import (
	"io"
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

// TestPanickingClientDoesNotHang: a panic in the commit reaches a recovery
// middleware, whose error response goes out without re-entering the commit,
// and reaches net/http without one; neither hangs on the session's lock.
func TestPanickingClientDoesNotHang(t *testing.T) {
	a := newApp(t, panickingClient{NewMemoryClient()}, Options{})
	handler := func(c *gin.Context) {
		Default(c).Set("user_name", "alice")
		c.String(http.StatusOK, "ok")
	}
	a.engine = gin.New()
	a.engine.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
		c.AbortWithStatus(http.StatusInternalServerError)
	}), a.m.Handler())
	a.engine.GET("/", handler)
	if rec := a.get("/"); rec.Code != http.StatusInternalServerError || a.cookie != "" {
		t.Errorf("with recovery: %d, cookie %q; want the recovery's 500 and no cookie", rec.Code, a.cookie)
	}

	a.engine = gin.New()
	a.engine.Use(a.m.Handler())
	a.engine.GET("/", handler)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("without recovery: the client's panic did not reach the server")
			}
		}()
		a.get("/")
	}()
}

// A handler that panics after changing the session leaves it as it was:
// the recovery middleware's 500 carries no new cookie and nothing
// half-made is stored (as Django and Rails do).
func TestPanickingHandlerStoresNothing(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine = gin.New()
	var seen string
	a.engine.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
		seen = User(c) // what the recovery middleware sees is what is stored
		c.AbortWithStatus(http.StatusInternalServerError)
	}), a.m.Handler())
	faultRoutes(a)
	a.engine.GET("/boom", func(c *gin.Context) {
		s := Default(c)
		s.Set("user_name", "mallory")
		s.AddFlash("half done")
		s.SetPersistent(true)
		panic("boom")
	})

	// A new visitor: no session is created.
	rec := a.get("/boom")
	if rec.Code != http.StatusInternalServerError || sessionCookie(rec, "session_id") != nil {
		t.Fatalf("new visitor: %d, cookies %v; want the recovery's 500 without a cookie", rec.Code, rec.Header().Values("Set-Cookie"))
	}
	if n := a.store.writes(); n != 0 {
		t.Fatalf("%d store writes for a panicking request", n)
	}

	// An existing session keeps its stored state.
	a.get("/login")
	rec = a.get("/boom")
	if rec.Code != http.StatusInternalServerError || sessionCookie(rec, "session_id") != nil {
		t.Fatalf("status %d, cookies %v; want the recovery's 500 without a cookie", rec.Code, rec.Header().Values("Set-Cookie"))
	}
	if seen != "alice" {
		t.Errorf("the recovery middleware saw user %q, want the stored alice", seen)
	}
	r := a.storedRecord()
	if string(r.value("user_name")) != "\xa5alice" || len(r.flashes) != 0 {
		t.Fatalf("a panicking request's changes were stored: user %q, flashes %q", r.value("user_name"), r.flashes)
	}
}
