package ginsession

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
)

func TestMemcachedStoppedAndRestarted(t *testing.T) {
	proc := startMemcached(t)
	client := memcache.New(proc.addr)
	client.Timeout = 200 * time.Millisecond
	a := newApp(t, client, Options{})
	faultRoutes(a)
	a.get("/login")
	cookie := a.cookie

	proc.stop()
	rec := a.get("/me")
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "me=") {
		t.Fatalf("memcached down: %d %q, want the ErrorHandler's 503 instead of the handler's output", rec.Code, rec.Body.String())
	}
	if rec.Header().Get("Set-Cookie") != "" {
		t.Error("a failed request touched the cookie")
	}
	if rec.Header().Get("Vary") != "Cookie" {
		t.Errorf("the error response depends on the cookie but has Vary %q", rec.Header().Get("Vary"))
	}
	if rec := a.get("/plain"); rec.Code != http.StatusOK || rec.Body.String() != "plain" {
		t.Errorf("a route without the session failed while memcached was down: %d", rec.Code)
	}
	a.cookie = ""
	if rec := a.get("/login"); rec.Code != http.StatusServiceUnavailable || a.cookie != "" {
		t.Errorf("new session while memcached is down: %d, cookie %q", rec.Code, a.cookie)
	}
	if logs := a.logs.String(); strings.Contains(logs, cookie[:idLen]) {
		t.Error("a session ID appeared in the logs")
	}

	proc.restart(t)
	a.cookie = cookie // memcached lost everything: a fresh session, no error
	if rec := a.get("/me"); rec.Code != http.StatusOK || rec.Body.String() != "me=" {
		t.Fatalf("after restart: %d %q", rec.Code, rec.Body.String())
	}
	a.get("/login")
	if rec := a.get("/me"); rec.Body.String() != "me=alice" {
		t.Fatalf("service did not resume: %q", rec.Body.String())
	}
}

func TestMemcachedTooSlow(t *testing.T) {
	requireMemcached(t)
	// A server that accepts connections and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	client := memcache.New(l.Addr().String())
	client.Timeout = 100 * time.Millisecond
	a := newApp(t, client, Options{})
	faultRoutes(a)
	a.cookie = newCookieCodec("session_id", testSecret, nil).encode(newID())
	if rec := a.get("/me"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("slow memcached: %d, want 503", rec.Code)
	}
	if rec := a.get("/plain"); rec.Code != http.StatusOK {
		t.Errorf("plain route: %d", rec.Code)
	}
}

func TestFailedLoadNeverOverwritesStoredData(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		faultRoutes(a)
		a.engine.GET("/overwrite", func(c *gin.Context) {
			s := Default(c)
			s.Set("user_name", "mallory")
			s.Clear()
			if err := s.Save(); err == nil {
				t.Error("Save succeeded after a failed load")
			}
			c.String(http.StatusOK, "handler output")
		})
		a.get("/login")
		down := errors.New("connection refused")
		a.store.fail.Store(&down)
		writes := a.store.writes()
		rec := a.get("/overwrite")
		if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "handler output") {
			t.Errorf("got %d %q", rec.Code, rec.Body.String())
		}
		if a.store.writes() != writes {
			t.Error("a session that failed to load was written")
		}
		a.store.fail.Store(nil)
		if got := a.get("/me").Body.String(); got != "me=alice" {
			t.Errorf("stored data changed: %q", got)
		}
	})
}

func TestSaveErrorBelongsToHandler(t *testing.T) {
	fo := &failOnce{Client: NewMemoryClient(), err: errors.New("write timeout")}
	a := newApp(t, fo, Options{})
	faultRoutes(a)
	var saveErr error
	a.engine.GET("/save", func(c *gin.Context) {
		s := Default(c)
		s.Set("user_name", "bob")
		fo.op = "cas"
		saveErr = s.Save()
		s.Set("note", "after") // a later change still commits, merged onto the stored state
		c.String(http.StatusOK, "handled")
	})
	a.get("/login")
	rec := a.get("/save")
	if saveErr == nil || !strings.Contains(saveErr.Error(), "ginsession: save session") {
		t.Fatalf("Save error %v", saveErr)
	}
	if rec.Code != http.StatusOK || rec.Body.String() != "handled" {
		t.Errorf("the handler's response was replaced: %d", rec.Code)
	}
	r := a.storedRecord()
	if string(r.value("user_name")) != "\xa5alice" {
		t.Errorf("the failed change was retried by the automatic commit: %q", r.value("user_name"))
	}
	if string(r.value("note")) != "\xa5after" {
		t.Errorf("a change made after the failed Save was lost: %q", r.value("note"))
	}
}

func TestCommitFailureReplacesResponse(t *testing.T) {
	fo := &failOnce{Client: NewMemoryClient(), err: errors.New("server error")}
	var handled error
	a := newApp(t, fo, Options{ErrorHandler: func(c *gin.Context, err error) {
		handled = err
		c.String(http.StatusTeapot, "custom")
	}})
	a.engine.GET("/new", func(c *gin.Context) {
		Default(c).Set("k", "v")
		fo.op = "add"
		c.JSON(http.StatusOK, gin.H{"ok": true})
	})
	rec := a.get("/new")
	if rec.Code != http.StatusTeapot || rec.Body.String() != "custom" || handled == nil {
		t.Fatalf("got %d %q (handler saw %v)", rec.Code, rec.Body.String(), handled)
	}
	if rec.Header().Get("Set-Cookie") != "" {
		t.Error("cookie sent for a session that was not stored")
	}
}

// A commit that fails just before the header answers with the error page;
// the middleware must not then write the same changes again (a second
// store timeout, or a change stored behind a "please retry" page).
func TestFailedCommitIsNotRetried(t *testing.T) {
	fo := &failOnce{Client: NewMemoryClient(), err: errors.New("write timeout")}
	a := newApp(t, fo, Options{})
	faultRoutes(a)
	a.engine.GET("/change", func(c *gin.Context) {
		s := Default(c)
		s.Set("user_name", "bob")
		s.AddFlash("saved")
		fo.op = "cas"
		c.String(http.StatusOK, "changed")
	})
	a.get("/login")
	before := a.store.cas.Load()
	rec := a.get("/change")
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the error page", rec.Code)
	}
	if n := a.store.cas.Load() - before; n != 1 {
		t.Errorf("%d CompareAndSwap calls, want 1 (no retry after the error page)", n)
	}
	r := a.storedRecord()
	if string(r.value("user_name")) != "\xa5alice" || len(r.flashes) != 0 {
		t.Errorf("a change answered with the error page was stored: %q, flashes %q", r.value("user_name"), r.flashes)
	}

	// Nor is a change the handler makes after its response was replaced,
	// automatically or by Save.
	var saveErr error
	a.engine.GET("/change-more", func(c *gin.Context) {
		s := Default(c)
		s.Set("step1", "done")
		fo.op = "cas"
		c.String(http.StatusOK, "changed") // the commit fails: the error page
		s.Set("step2", "done")
		if c.Query("save") != "" {
			saveErr = s.Save()
		}
	})
	before = a.store.cas.Load()
	if rec := a.get("/change-more"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the error page", rec.Code)
	}
	if n := a.store.cas.Load() - before; n != 1 {
		t.Errorf("%d CompareAndSwap calls, want 1", n)
	}
	if r := a.storedRecord(); r.value("step1") != nil || r.value("step2") != nil {
		t.Errorf("changes behind the error page were stored: step1 %q, step2 %q", r.value("step1"), r.value("step2"))
	}
	if !strings.Contains(a.logs.String(), "changed after the store error response") {
		t.Errorf("the dropped later change was not logged; logs:\n%s", a.logs.String())
	}
	a.get("/change-more?save=1")
	if !errors.Is(saveErr, ErrHeaderWritten) {
		t.Errorf("Save after the error page: %v, want ErrHeaderWritten", saveErr)
	}
	if r := a.storedRecord(); r.value("step2") != nil {
		t.Errorf("Save stored a change behind the error page: %q", r.value("step2"))
	}
}

func TestDefaultErrorHandler(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	faultRoutes(a)
	down := errors.New("down")
	a.store.fail.Store(&down)
	a.cookie = newCookieCodec("session_id", testSecret, nil).encode(newID())
	var errs []*gin.Error
	a.engine.Use()
	a.engine.GET("/errs", func(c *gin.Context) {
		Default(c).Get("x")
		errs = c.Errors
	})
	rec := a.get("/errs")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("default error response: %d %v", rec.Code, rec.Header())
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "ginsession: load session") {
		t.Errorf("c.Errors = %v", errs)
	}
}

func TestCorruptOrForeignStoredValues(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		faultRoutes(a)
		foreign := map[string][]byte{
			"empty":         {},
			"pickle":        []byte("\x80\x04\x95\x15\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\tuser_name\x94\x8c\x05alice\x94s."),
			"json":          []byte(`{"user_name":"alice"}`),
			"future format": append([]byte{0x96, 0x02}, make([]byte, 40)...),
			"truncated":     nil, // filled below from a real record
			"deep nesting":  nil,
		}
		a.get("/login")
		real := a.storedRecord().encode(nil)
		foreign["truncated"] = real[:len(real)-3]
		deep := append([]byte(nil), real[:recordHeader]...)
		deep = append(deep, 0x81, 0xa1, 'x')
		for range 10000 {
			deep = append(deep, 0x91)
		}
		foreign["deep nesting"] = append(deep, 0xc0, 0x90)
		key := a.m.key(a.cookie[:idLen])
		for name, value := range foreign {
			t.Run(name, func(t *testing.T) {
				if err := client.Set(&memcache.Item{Key: key, Value: value, Expiration: 60}); err != nil {
					t.Fatal(err)
				}
				rec := a.serve("/me", a.cookie)
				if rec.Code != http.StatusOK || rec.Body.String() != "me=" {
					t.Errorf("got %d %q, want a fresh session", rec.Code, rec.Body.String())
				}
				if item, err := client.Get(key); err != nil || string(item.Value) != string(value) {
					t.Error("the foreign value was overwritten")
				}
			})
		}
		if !strings.Contains(a.logs.String(), "unreadable session record") {
			t.Error("corrupt records were not logged")
		}
	})
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
