package ginsession

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
)

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

// A middleware installed before ginsession can still create a session
// after c.Next returns by writing the response itself (the pre-header hook
// stores it and sends the cookie). Save cannot: gin may send the header
// without the hook, so it returns ErrHeaderWritten for a new or
// regenerated session rather than store one no cookie points to (or delete
// the old ID of a visitor who then keeps it).
func TestNewSessionFromAnOuterMiddleware(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	var saveErr error
	a.engine = gin.New()
	a.engine.Use(func(c *gin.Context) {
		c.Next()
		s := Default(c)
		switch c.Request.URL.Path {
		case "/write":
			s.Set("after", "x")
			c.String(http.StatusOK, "outer")
		case "/save":
			s.Set("after", "x")
			saveErr = s.Save()
		case "/rotate":
			_ = s.Regenerate()
			saveErr = s.Save()
		}
	}, a.m.Handler())
	a.engine.GET("/write", func(*gin.Context) {}) // writes nothing
	a.engine.GET("/save", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	a.engine.GET("/rotate", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })

	rec := a.get("/write")
	if sessionCookie(rec, "session_id") == nil {
		t.Fatalf("the outer middleware's response carries no session cookie; headers %v", rec.Header())
	}
	if r := a.storedRecord(); r == nil || string(r.value("after")) != "\xa1x" {
		t.Errorf("stored %v", r)
	}

	a.cookie = ""
	writes := a.store.writes()
	rec = a.get("/save")
	if !errors.Is(saveErr, ErrHeaderWritten) || sessionCookie(rec, "session_id") != nil || a.store.writes() != writes {
		t.Errorf("Save of a new session after the chain: %v, cookie %v, %d writes; want ErrHeaderWritten and nothing stored",
			saveErr, sessionCookie(rec, "session_id"), a.store.writes()-writes)
	}

	a.get("/login")
	rec = a.get("/rotate")
	if !errors.Is(saveErr, ErrHeaderWritten) || sessionCookie(rec, "session_id") != nil {
		t.Errorf("Regenerate+Save after the chain: %v, cookie %v; want ErrHeaderWritten", saveErr, sessionCookie(rec, "session_id"))
	}
	if r := a.storedRecord(); r == nil || string(r.value("user_name")) != "\xa5alice" {
		t.Errorf("the visitor's session must survive a Regenerate that could not be sent: %v", r)
	}
}

// A goroutine that the handler starts (after using the session) and waits
// for may Save while the handler writes the response: Save must not read
// gin's writer state, which the handler changes (the race detector checks).
func TestSaveFromAGoroutineWhileTheHandlerWrites(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	var saveErr error
	a.engine.GET("/work", func(c *gin.Context) {
		s := Default(c)
		s.Has("user_name")
		done := make(chan error)
		go func() {
			s.Set("progress", 1)
			done <- s.Save()
		}()
		c.String(http.StatusOK, "working")
		saveErr = <-done
	})
	a.get("/login")
	a.get("/work")
	if saveErr != nil {
		t.Fatalf("Save: %v", saveErr)
	}
	if r := a.storedRecord(); r == nil || string(r.value("progress")) != "\x01" {
		t.Errorf("stored %v", r)
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
