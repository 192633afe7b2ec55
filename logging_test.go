package ginsession

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// A failed commit is logged even when the ErrorHandler is the application's
// own and logs nothing, and an outage repeating one error is logged once per
// interval with a count, not once per request.
func TestStoreFaultsAreLoggedAndRateLimited(t *testing.T) {
	clock := newFakeClock()
	a := newApp(t, NewMemoryClient(), Options{ErrorHandler: func(c *gin.Context, err error) {
		c.String(http.StatusServiceUnavailable, "down")
	}})
	a.m.now = clock.Now
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	a.engine.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("user_name")) })
	a.get("/login")
	down := errors.New("memcache: connection refused")
	a.store.fail.Store(&down)
	for range 1000 {
		if rec := a.get("/me"); rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d during the outage", rec.Code)
		}
	}
	if n := strings.Count(a.logs.String(), "connection refused"); n != 1 {
		t.Fatalf("%d log lines for 1000 identical failures within one interval, want 1", n)
	}
	clock.Advance(faultLogEvery)
	a.get("/me")
	logs := a.logs.String()
	if n := strings.Count(logs, "connection refused"); n != 2 || !strings.Contains(logs, "repeats_not_logged=999") {
		t.Fatalf("after the interval: %d lines, want 2 with the 999 repeats counted:\n%s", n, logs)
	}

	// A failed commit (not a load) is logged too.
	a.store.fail.Store(nil)
	fo := &failOnce{Client: a.store, err: errors.New("SERVER_ERROR out of memory storing object")}
	a.m.store.client = fo
	a.engine.GET("/edit", func(c *gin.Context) { Default(c).Set("k", "v"); c.String(http.StatusOK, "ok") })
	fo.op = "cas"
	if rec := a.get("/edit"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("failed commit answered %d", rec.Code)
	}
	if !strings.Contains(a.logs.String(), "out of memory") {
		t.Errorf("a failed commit was not logged:\n%s", a.logs.String())
	}
}

// One fault seen on many connections (a timeout names a new local port
// each time) is rate-limited as one; another fault is not hidden by it.
func TestFaultLogGroupsOneFaultAcrossConnections(t *testing.T) {
	var buf logBuffer
	clock := newFakeClock()
	f := newFaultLog(slog.New(slog.NewTextHandler(&buf, nil)), clock.Now)
	for port := 40000; port < 40100; port++ {
		f.log(slog.LevelError, "ginsession: session store failed", fmt.Errorf("read tcp 127.0.0.1:%d->127.0.0.1:11211: i/o timeout", port))
	}
	f.log(slog.LevelError, "ginsession: session store failed", errors.New("memcache: connection refused"))
	logs := buf.String()
	if n := strings.Count(logs, "i/o timeout"); n != 1 {
		t.Errorf("%d lines for one timeout on 100 connections, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs, "connection refused") {
		t.Errorf("a different fault was suppressed:\n%s", logs)
	}
}
