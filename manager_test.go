package ginsession

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
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

// A session kept past its request (a goroutine that outlives the handler)
// must stay the session of its own visitor. Gin recycles the gin.Context
// for the next request, so a session that consulted it would read the next
// visitor's cookie, write its own cookie into the next visitor's response,
// or answer that response with its error page. The test keeps alice's
// unused session, then uses it from inside bob's request while bob's
// request runs on the recycled context.
func TestSessionKeptPastItsRequest(t *testing.T) {
	cases := []struct {
		name string
		use  func(t *testing.T, kept *Session, a *app)
		late string // the value alice's stored "late" key must end with
	}{
		{"reads its own visitor", func(t *testing.T, kept *Session, _ *app) {
			if got := kept.GetString("user_name"); got != "alice" {
				t.Errorf("kept session read user %q, want alice", got)
			}
		}, ""},
		{"sends no cookie into another response", func(t *testing.T, kept *Session, _ *app) {
			if err := kept.Regenerate(); err != nil {
				t.Fatalf("Regenerate: %v", err)
			}
			if err := kept.Save(); !errors.Is(err, ErrHeaderWritten) {
				t.Errorf("Save of a regenerated session after its request: %v, want ErrHeaderWritten", err)
			}
		}, ""},
		{"stores an existing session without a cookie", func(t *testing.T, kept *Session, _ *app) {
			kept.Set("late", "yes")
			if err := kept.Save(); err != nil {
				t.Errorf("Save after the request: %v", err)
			}
		}, "\xa3yes"},
		{"answers no other request with its error", func(t *testing.T, kept *Session, a *app) {
			fail := error(memcache.ErrServerError)
			a.store.fail.Store(&fail)
			defer a.store.fail.Store(nil)
			if err := kept.Save(); !errors.Is(err, memcache.ErrServerError) {
				t.Errorf("Save with the store down: %v, want the store error", err)
			}
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, NewMemoryClient(), Options{})
			a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", c.Query("u")) })
			var kept *Session
			var keptCtx *gin.Context
			a.engine.GET("/keep", func(c *gin.Context) {
				kept, keptCtx = Default(c), c // not used: nothing loaded yet
				c.String(http.StatusOK, "kept")
			})
			recycled := false
			a.engine.GET("/other", func(c *gin.Context) {
				if c == keptCtx {
					recycled = true
					tc.use(t, kept, a)
				}
				c.String(http.StatusOK, "bob's page")
			})

			a.get("/login?u=bob")
			bob := a.cookie
			a.cookie = ""
			a.get("/login?u=alice")
			alice := a.cookie

			for try := 0; try < 100 && !recycled; try++ {
				a.cookie = alice
				a.get("/keep")
				a.cookie = bob
				rec := a.get("/other")
				if !recycled {
					continue // gin's pool handed out another context: try again
				}
				if rec.Code != http.StatusOK || rec.Body.String() != "bob's page" {
					t.Errorf("bob got %d %q", rec.Code, rec.Body.String())
				}
				if ck := sessionCookie(rec, a.m.opts.CookieName); ck != nil {
					t.Errorf("bob's response carries a session cookie: %s", ck)
				}
				if a.cookie != bob {
					t.Error("bob's cookie jar changed")
				}
				a.cookie = bob
				if r := a.storedRecord(); r == nil || r.count() != 1 || string(r.value("user_name")) != "\xa3bob" {
					t.Errorf("bob's stored session changed: %v", r)
				}
			}
			if !recycled {
				t.Fatal("gin never reused the kept request's context in 100 requests: the premise of this test no longer holds")
			}
			a.cookie = alice
			r := a.storedRecord()
			if r == nil || string(r.value("user_name")) != "\xa5alice" || string(r.value("late")) != tc.late {
				t.Errorf("alice's stored session is %v", r)
			}
		})
	}
}

// Once the request is over (net/http cancels its context when the handler
// returns), a kept session's change is logged as needing Save, and a new or
// regenerated session cannot be saved, even when the chain wrote no body
// and gin sent the header itself.
func TestKeptSessionAfterTheRequestIsOver(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	var kept *Session
	a.engine.GET("/keep", func(c *gin.Context) {
		kept = Default(c)
		kept.Has("user_name")
		c.Status(http.StatusNoContent) // no body: gin writes the header after the chain
	})
	a.get("/login")
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/keep", nil)
	req.AddCookie(&http.Cookie{Name: "session_id", Value: a.cookie})
	a.engine.ServeHTTP(httptest.NewRecorder(), req)
	cancel() // as net/http does when ServeHTTP returns

	kept.Set("late", "x")
	if !strings.Contains(a.logs.String(), "changed after its middleware finished") {
		t.Errorf("an unsaved late change was not logged; logs:\n%s", a.logs.String())
	}
	if err := kept.Save(); err != nil {
		t.Errorf("Save of the existing session: %v", err)
	}
	if r := a.storedRecord(); r == nil || string(r.value("late")) != "\xa1x" {
		t.Errorf("stored %v", r)
	}
	if err := kept.Regenerate(); err != nil {
		t.Fatal(err)
	}
	if err := kept.Save(); !errors.Is(err, ErrHeaderWritten) {
		t.Errorf("Save of a regenerated session after the request: %v, want ErrHeaderWritten", err)
	}
	if r := a.storedRecord(); r == nil || string(r.value("user_name")) != "\xa5alice" {
		t.Errorf("the old session must survive a failed late Regenerate: %v", r)
	}
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

// The overhead benchmarks serve requests through Gin with the in-process
// memory client, so no network time hides the middleware's own CPU cost:
// "floor" is a plain handler making the same store calls by hand (one Get
// to read, Get+Set to write). The memcached comparison lives in _bench.

// overheadEngine returns an engine with /read, /write and /untouched routes,
// either through ginsession or (floor) by hand, and a request cookie header
// for an existing session.
func overheadEngine(b *testing.B, floor bool) (*gin.Engine, string) {
	b.Helper()
	client := NewMemoryClient()
	r := gin.New()
	if floor {
		const key = "floor:session"
		if err := client.Set(&memcache.Item{Key: key, Value: []byte("alice"), Expiration: 1800}); err != nil {
			b.Fatal(err)
		}
		r.GET("/read", func(c *gin.Context) {
			if _, err := c.Cookie("session_id"); err != nil {
				c.Status(http.StatusUnauthorized)
				return
			}
			it, err := client.Get(key)
			if err != nil {
				c.Status(http.StatusServiceUnavailable)
				return
			}
			c.String(http.StatusOK, string(it.Value))
		})
		r.GET("/write", func(c *gin.Context) {
			it, err := client.Get(key)
			if err != nil {
				c.Status(http.StatusServiceUnavailable)
				return
			}
			n, _ := strconv.Atoi(string(it.Value[:1]))
			it.Value = strconv.AppendInt(it.Value[:0], int64(n+1)%10, 10)
			if err := client.Set(it); err != nil {
				c.Status(http.StatusServiceUnavailable)
				return
			}
			c.String(http.StatusOK, strconv.Itoa(n))
		})
		r.GET("/untouched", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
		return r, "session_id=" + newID()
	}
	r.Use(New(Options{Client: client, Secret: testSecret}))
	r.GET("/login", func(c *gin.Context) {
		s := Default(c)
		s.Set("user_name", "alice")
		s.Set("n", 0)
		c.String(http.StatusOK, "ok")
	})
	r.GET("/read", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("user_name")) })
	r.GET("/write", func(c *gin.Context) {
		s := Default(c)
		n := s.GetInt("n") + 1
		s.Set("n", n)
		c.String(http.StatusOK, strconv.Itoa(n))
	})
	r.GET("/untouched", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		b.Fatalf("login set %d cookies", len(cookies))
	}
	return r, cookies[0].Name + "=" + cookies[0].Value
}

func BenchmarkOverhead(b *testing.B) {
	for _, route := range []string{"read", "write", "untouched"} {
		for _, floor := range []bool{true, false} {
			name := route + "/ginsession"
			if floor {
				name = route + "/floor"
			}
			b.Run(name, func(b *testing.B) {
				engine, cookie := overheadEngine(b, floor)
				tmpl := httptest.NewRequest(http.MethodGet, "/"+route, nil)
				tmpl.Header.Set("Cookie", cookie)
				w := &discardWriter{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					r := new(http.Request)
					*r = *tmpl
					clear(w.h)
					w.code = 0
					engine.ServeHTTP(w, r)
					if w.code != http.StatusOK {
						b.Fatalf("status %d", w.code)
					}
				}
			})
		}
	}
}
