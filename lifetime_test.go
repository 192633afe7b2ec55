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

// A middleware installed before ginsession can still create a session and
// Save it after c.Next returns, as long as it writes the response itself
// afterwards: the pre-header hook then sends the new cookie.
func TestSaveOfANewSessionFromAnOuterMiddleware(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	var saveErr error
	a.engine = gin.New()
	a.engine.Use(func(c *gin.Context) {
		c.Next()
		s := Default(c)
		s.Set("after", "x")
		saveErr = s.Save()
		c.String(http.StatusOK, "outer")
	}, a.m.Handler())
	a.engine.GET("/", func(*gin.Context) {}) // writes nothing
	rec := a.get("/")
	if saveErr != nil {
		t.Fatalf("Save: %v", saveErr)
	}
	if sessionCookie(rec, "session_id") == nil {
		t.Fatalf("no session cookie; headers %v", rec.Header())
	}
	if r := a.storedRecord(); r == nil || string(r.value("after")) != "\xa1x" {
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
