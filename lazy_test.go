package ginsession

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"
)

// The session is made on its first use: a route that never touches it
// costs at most two allocations over a bare Gin route (gin's context map),
// wraps no writer and sends no session headers.
func TestUntouchedRouteCostsTwoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	bare := gin.New()
	bare.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	a := newApp(t, NewMemoryClient(), Options{})
	var wrapped bool
	a.engine.GET("/", func(c *gin.Context) {
		_, wrapped = c.Writer.(*hookWriter)
		c.String(http.StatusOK, "ok")
	})
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", "session_id="+a.m.cookies.encode(newID()))
	w := &discardWriter{h: http.Header{}}
	run := func(h http.Handler) func() {
		return func() {
			clear(w.h)
			h.ServeHTTP(w, req)
		}
	}
	base := testing.AllocsPerRun(200, run(bare))
	with := testing.AllocsPerRun(200, run(a.engine))
	if with-base > 2 {
		t.Errorf("untouched route: %.0f allocations, bare Gin %.0f: want at most 2 more", with, base)
	}
	if wrapped || len(w.h["Set-Cookie"]) > 0 || len(w.h["Vary"]) > 0 || a.store.total() != 0 {
		t.Errorf("untouched route: writer wrapped %v, headers %v, %d store calls", wrapped, w.h, a.store.total())
	}
}

// A c.Copy() made before the request used its session (for a goroutine that
// outlives the request) gets its own detached view: it reads the session
// and Save stores a change to it, but it never touches the response, and a
// new session, whose cookie it cannot send, is refused.
func TestCopyBeforeFirstUse(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
		var seen string
		var saveErr error
		a.engine.GET("/background", func(c *gin.Context) {
			cp := c.Copy()
			done := make(chan struct{})
			go func() {
				defer close(done)
				s := Default(cp)
				seen = s.GetString("user_name")
				s.Set("job", "done")
				saveErr = s.Save()
			}()
			<-done
			c.String(http.StatusOK, "started")
		})
		a.engine.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("job")) })

		rec := a.get("/background") // no session yet
		if rec.Code != http.StatusOK || !errors.Is(saveErr, ErrHeaderWritten) || sessionCookie(rec, "session_id") != nil {
			t.Fatalf("new visitor: %d, Save %v, cookies %v; want 200, ErrHeaderWritten, no cookie", rec.Code, saveErr, rec.Header().Values("Set-Cookie"))
		}
		a.get("/login")
		rec = a.get("/background")
		if seen != "alice" || saveErr != nil || rec.Code != http.StatusOK {
			t.Fatalf("copy read %q, Save %v, status %d", seen, saveErr, rec.Code)
		}
		if got := a.get("/me").Body.String(); got != "done" {
			t.Errorf("the copy's saved change: %q", got)
		}
	})
}

// A recovery middleware reading the session of a request that panicked
// before using it sees what is stored and sends no cookie.
func TestRecoveryReadsASessionFirstUsedAfterThePanic(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine = gin.New()
	var seen string
	a.engine.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
		seen = User(c)
		c.AbortWithStatus(http.StatusInternalServerError)
	}), a.m.Handler())
	a.engine.GET("/login", func(c *gin.Context) {
		if err := Login(c, "alice"); err != nil {
			t.Error(err)
		}
	})
	a.engine.GET("/boom", func(*gin.Context) { panic("boom") })
	a.get("/login")
	rec := a.get("/boom")
	if rec.Code != http.StatusInternalServerError || seen != "alice" || sessionCookie(rec, "session_id") != nil {
		t.Errorf("status %d, recovery saw %q, cookies %v", rec.Code, seen, rec.Header().Values("Set-Cookie"))
	}
}
