package ginsession

import (
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

// The headers a session adds to the response: its cookie, "Vary: Cookie"
// and a Cache-Control that no shared cache may store.

func TestCookieAttributesFromOptions(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{CookieName: "sid", CookiePath: "/app", CookieDomain: "example.com",
		InsecureCookie: true, SameSite: http.SameSiteStrictMode, Persistent: true, RememberFor: 2 * time.Hour})
	a.engine.GET("/app", func(c *gin.Context) { Default(c).Set("a", 1) })
	ck := sessionCookie(a.get("/app"), "sid")
	if ck == nil || ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/app" ||
		ck.Domain != "example.com" || ck.MaxAge != 7200 {
		t.Fatalf("cookie %+v", ck)
	}
}

func TestCacheControlKeptWhenHandlerSetsIt(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/", func(c *gin.Context) {
		c.Header("Cache-Control", "private, max-age=0")
		c.Header("Vary", "Accept-Encoding")
		Default(c).Set("k", 1)
		c.String(http.StatusOK, "x")
	})
	rec := a.get("/")
	if got := rec.Header().Get("Cache-Control"); got != "private, max-age=0" {
		t.Errorf("Cache-Control %q", got)
	}
	if got := rec.Header().Values("Vary"); !reflect.DeepEqual(got, []string{"Accept-Encoding", "Cookie"}) {
		t.Errorf("Vary %v", got)
	}
}

// A policy that already keeps the response out of shared caches is sent as
// the handler wrote it, not rebuilt.
func TestPrivateCachePolicyIsNotRewritten(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/", func(c *gin.Context) {
		c.Writer.Header()["Cache-Control"] = []string{"no-cache,private", "max-age=0"}
		Default(c).Set("k", 1)
		c.String(http.StatusOK, "x")
	})
	rec := a.get("/")
	if got := rec.Header().Values("Cache-Control"); !reflect.DeepEqual(got, []string{"no-cache,private", "max-age=0"}) || sessionCookie(rec, "session_id") == nil {
		t.Errorf("Cache-Control %q, cookie %v; want the handler's two lines untouched", got, sessionCookie(rec, "session_id"))
	}
}

// A response that sets or expires the session cookie is never storable by a
// shared cache, whatever policy the handler chose: a CDN could otherwise hand
// one visitor's session to many.
func TestCookieSettingResponseIsNeverPublic(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/public-set", func(c *gin.Context) {
			c.Header("Cache-Control", "public, max-age=3600, s-maxage=600")
			Default(c).Set("k", "v")
			c.String(http.StatusOK, "page")
		})
		a.engine.GET("/early-save-then-public", func(c *gin.Context) {
			s := Default(c)
			s.Set("k", "w")
			if err := s.Regenerate(); err != nil {
				t.Error(err)
			}
			if err := s.Save(); err != nil {
				t.Error(err)
			}
			c.Header("Cache-Control", "public, max-age=60")
			c.String(http.StatusOK, "page")
		})
		a.engine.GET("/public-read", func(c *gin.Context) {
			c.Header("Cache-Control", "public, max-age=3600")
			c.String(http.StatusOK, Default(c).GetString("k"))
		})
		a.engine.GET("/public-logout", func(c *gin.Context) {
			c.Header("Cache-Control", "public")
			_ = Default(c).Destroy()
			c.String(http.StatusOK, "bye")
		})
		check := func(path string, wantCookie bool) {
			t.Helper()
			rec := a.get(path)
			cc := strings.ToLower(rec.Header().Get("Cache-Control"))
			if (sessionCookie(rec, "session_id") != nil) != wantCookie {
				t.Fatalf("%s: cookie %v, want one: %v", path, rec.Header().Values("Set-Cookie"), wantCookie)
			}
			if !wantCookie {
				return
			}
			if strings.Contains(cc, "public") || strings.Contains(cc, "s-maxage") || !(strings.Contains(cc, "private") || strings.Contains(cc, "no-store")) {
				t.Errorf("%s: Cache-Control %q on a cookie-setting response", path, cc)
			}
		}
		check("/public-set", true)
		check("/early-save-then-public", true)
		check("/public-logout", true)

		// A cookie re-signed after a secret rotation is also private.
		a.get("/public-set")
		rotated := newApp(t, client, Options{Secret: strings.Repeat("n", 40), OldSecrets: []string{testSecret}, KeyPrefix: a.m.opts.KeyPrefix})
		rotated.cookie = a.cookie
		rotated.engine.GET("/public-read", func(c *gin.Context) {
			c.Header("Cache-Control", "public, max-age=3600")
			c.String(http.StatusOK, Default(c).GetString("k"))
		})
		rec := rotated.get("/public-read")
		if rec.Body.String() != "v" || sessionCookie(rec, "session_id") == nil {
			t.Fatalf("rotated secret: body %q, cookies %v; want the session re-signed", rec.Body.String(), rec.Header().Values("Set-Cookie"))
		}
		if cc := rec.Header().Get("Cache-Control"); strings.Contains(cc, "public") || !strings.Contains(cc, "private") {
			t.Errorf("re-signed cookie with Cache-Control %q", cc)
		}
		// A response that sets no cookie keeps the handler's policy.
		if cc := a.get("/public-read").Header().Get("Cache-Control"); cc != "public, max-age=3600" {
			t.Errorf("a response without a cookie: Cache-Control %q, want the handler's", cc)
		}
	})
}

// When a commit may still send the cookie: while the chain runs and the
// header has not gone out.

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

// A caller that keeps the session past the middleware and saves in batches
// gets the "call Save" warning at most once per request.
func TestLateWarningOncePerRequest(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine = gin.New()
	a.engine.Use(func(c *gin.Context) {
		c.Next()
		s := Default(c)
		for i := range 3 {
			s.Set("n", i)
			_ = s.Save()
		}
	}, a.m.Handler())
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice"); c.String(200, "ok") })
	a.get("/login")
	if n := strings.Count(a.logs.String(), "call Save"); n > 1 {
		t.Errorf("%d late-change warnings for one request, want at most 1", n)
	}
}

// Store failures: a failed Save is the handler's to answer; a failed
// automatic commit (or load) is answered by the ErrorHandler's error page.

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

// An ErrorHandler answering a failed commit may use the session, but
// nothing it changes is stored: the client is being told the request
// failed.
func TestSaveInsideErrorHandlerStoresNothing(t *testing.T) {
	fo := &failOnce{Client: NewMemoryClient(), err: errors.New("write timeout")}
	a := newApp(t, fo, Options{})
	var saveErr error
	a.m.opts.ErrorHandler = func(c *gin.Context, err error) {
		s := Default(c)
		s.Set("from_error_handler", "yes")
		saveErr = s.Save()
		c.String(http.StatusServiceUnavailable, "down")
	}
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	a.engine.GET("/edit", func(c *gin.Context) {
		Default(c).Set("k", "v")
		c.String(http.StatusOK, "ok")
	})
	a.get("/login")
	fo.op = "cas"
	if rec := a.get("/edit"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want the ErrorHandler's 503", rec.Code)
	}
	if saveErr == nil || !errors.Is(saveErr, ErrHeaderWritten) {
		t.Errorf("Save inside the ErrorHandler returned %v, want errAfterErrorResponse", saveErr)
	}
	if r := a.storedRecord(); r.value("from_error_handler") != nil {
		t.Errorf("a change made during the error page was stored")
	}
}

// With memcached down, a login handler written as the README shows (return
// on the error) must not answer 200 with an empty page: the ErrorHandler
// answers, the error is on c.Errors and in the log.
func TestFailedLoginIsAnsweredByTheErrorHandler(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		var errs []string
		a.engine.Use(func(c *gin.Context) {}) // keep the chain shape of a real app
		a.engine.POST("/login", func(c *gin.Context) {
			defer func() { errs = c.Errors.Errors() }()
			if err := Login(c, "alice"); err != nil {
				return
			}
			c.Redirect(http.StatusSeeOther, "/")
		})
		down := errors.New("dial tcp 127.0.0.1:11211: connect: connection refused")
		a.store.fail.Store(&down)
		rec := a.do(http.MethodPost, "/login", nil)
		if rec.Code != http.StatusServiceUnavailable || sessionCookie(rec, "session_id") != nil {
			t.Fatalf("failed login answered %d, cookies %v; want the ErrorHandler's 503 and no cookie", rec.Code, rec.Header().Values("Set-Cookie"))
		}
		if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), "connection refused") {
			t.Errorf("c.Errors = %q, want the store error", errs)
		}
		if !strings.Contains(a.logs.String(), "connection refused") {
			t.Errorf("the failed login was not logged:\n%s", a.logs.String())
		}
		a.store.fail.Store(nil)
		if rec := a.do(http.MethodPost, "/login", nil); rec.Code != http.StatusSeeOther || a.cookie == "" {
			t.Errorf("login after memcached came back: %d, cookie %q", rec.Code, a.cookie)
		}
	})
}

// A commit that panics when an outer middleware writes after ginsession
// returned is not re-entered by the recovery middleware's own response.
func TestPanickingCommitAfterMiddlewareDoesNotReenter(t *testing.T) {
	a := newApp(t, panickingClient{NewMemoryClient()}, Options{})
	a.engine = gin.New()
	a.engine.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
		c.AbortWithStatus(http.StatusInternalServerError)
	}), func(c *gin.Context) {
		c.Next()
		Default(c).Set("late", "x") // an outer middleware changing the session
		c.String(http.StatusOK, "outer")
	}, a.m.Handler())
	a.engine.GET("/", func(c *gin.Context) {})
	var code int
	func() {
		defer func() {
			if p := recover(); p != nil {
				t.Errorf("the recovery middleware itself panicked: %v", p)
			}
		}()
		code = a.get("/").Code
	}()
	if code != 0 && code != http.StatusInternalServerError {
		t.Errorf("status %d, want the recovery's 500", code)
	}
}
