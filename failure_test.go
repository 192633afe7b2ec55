package ginsession

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

var errStoreDown = errors.New("memcache: connect timeout to 127.0.0.1:11211 (test)")

// A session first used after the response started, with the store
// failing: the error cannot replace the response, so it is recorded on the
// context for the handler (and logged as such).
func TestAFailureAfterTheResponseStartedIsRecorded(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	var recorded int
	a.engine.GET("/late", func(c *gin.Context) {
		c.String(http.StatusOK, "body first")
		Default(c).Get("user_name")
		recorded = len(c.Errors)
	})
	a.get("/login")
	a.store.fail.Store(&errStoreDown)
	rec := a.get("/late")
	if rec.Code != http.StatusOK || rec.Body.String() != "body first" {
		t.Fatalf("got %d %q, want the handler's response untouched", rec.Code, rec.Body)
	}
	if recorded != 1 || !strings.Contains(a.logs.String(), "after the response started") {
		t.Errorf("c.Errors held %d errors, log %q; want the failure recorded and logged", recorded, a.logs.String())
	}
}

// A change stored after the response went out that fails is recorded on
// the context, where a middleware installed before ginsession (a logger)
// finds it once the chain returns.
func TestAFailureAfterTheResponseIsSeenByOuterMiddleware(t *testing.T) {
	client := &countingClient{Client: NewMemoryClient()}
	m, err := NewManager(Options{Secret: testSecret, Client: client, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	var outer []string
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		for _, e := range c.Errors {
			outer = append(outer, e.Error())
		}
	})
	r.Use(m.Handler())
	r.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	r.GET("/late-write", func(c *gin.Context) {
		s := Default(c)
		s.Has("user_name")
		c.String(http.StatusOK, "sent")
		client.fail.Store(&errStoreDown)
		s.Set("visits", 2) // stored after the response, when the middleware returns
	})
	login := httptestRecorder()
	r.ServeHTTP(login, httptestRequest("/login"))
	req := httptestRequest("/late-write")
	req.AddCookie(sessionCookie(login, DefaultCookieName))
	rec := httptestRecorder()
	r.ServeHTTP(rec, req)
	if rec.Body.String() != "sent" || len(outer) != 1 || !strings.Contains(outer[0], "test") {
		t.Errorf("response %q, outer middleware saw %q; want the response and the late failure", rec.Body, outer)
	}
}

// A store failure in a middleware ahead of the handler answers with the
// ErrorHandler and stops the chain: the handler does not run.
func TestAFailureInAMiddlewareStopsTheChain(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	ran := false
	a.engine.GET("/guarded", func(c *gin.Context) { Default(c).Get("user_name") }, func(c *gin.Context) {
		ran = true
		c.String(http.StatusOK, "handler")
	})
	a.get("/login")
	a.store.fail.Store(&errStoreDown)
	rec := a.get("/guarded")
	if rec.Code != http.StatusServiceUnavailable || ran {
		t.Errorf("got %d, handler ran %v; want the ErrorHandler's 503 and the chain stopped", rec.Code, ran)
	}
}
