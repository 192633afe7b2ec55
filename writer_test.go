package ginsession

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestCommitWithoutBodyOrStatusOnly(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/nothing", func(c *gin.Context) { Default(c).Set("k", 1) })
	a.engine.GET("/status", func(c *gin.Context) { Default(c).Set("k", 2); c.Status(http.StatusNoContent) })
	a.engine.GET("/redirect", func(c *gin.Context) { Default(c).Set("k", 3); c.Redirect(http.StatusFound, "/x") })
	for _, path := range []string{"/nothing", "/status", "/redirect"} {
		a.cookie = ""
		rec := a.get(path)
		if sessionCookie(rec, "session_id") == nil {
			t.Errorf("%s: no cookie (status %d)", path, rec.Code)
			continue
		}
		if a.storedRecord() == nil {
			t.Errorf("%s: nothing stored", path)
		}
	}
}

func TestStreamingIsNotBuffered(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	proceed := make(chan struct{})
	a.engine.GET("/stream", func(c *gin.Context) {
		Default(c).Set("k", "v")
		c.Writer.WriteString("first\n")
		c.Writer.Flush()
		<-proceed // the client must see the first chunk before we go on
		c.SSEvent("msg", "second")
	})
	srv := httptest.NewServer(a.engine)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ck := resp.Cookies(); len(ck) != 1 || ck[0].Name != "session_id" {
		t.Errorf("cookies on a streamed response: %v", resp.Header.Values("Set-Cookie"))
	}
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "first\n" {
		t.Fatalf("first chunk %q, %v", line, err)
	}
	close(proceed)
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "second") {
		t.Errorf("rest %q", rest)
	}
}

func TestChangesAfterHeader(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	var saveErr error
	a.engine.GET("/late", func(c *gin.Context) {
		s := Default(c)
		s.Has("x")
		c.String(http.StatusOK, "body first")
		s.Set("late", "yes")
		saveErr = s.Save()
	})
	a.engine.GET("/late-auto", func(c *gin.Context) {
		c.String(http.StatusOK, "body first")
		Default(c).Set("late", "auto")
	})

	// A new session cannot send its cookie any more: loss is reported.
	a.get("/late")
	if !errors.Is(saveErr, ErrHeaderWritten) {
		t.Errorf("Save on a new session after the header: %v", saveErr)
	}
	a.get("/late-auto")
	if !strings.Contains(a.logs.String(), "not saved after the response was sent") {
		t.Errorf("late change of a new session was lost silently; logs:\n%s", a.logs.String())
	}
	if a.cookie != "" {
		t.Fatal("cookie appeared after the header was written")
	}

	// An existing session still stores late changes.
	a.get("/login")
	a.get("/late")
	if saveErr != nil {
		t.Errorf("Save on an existing session after the header: %v", saveErr)
	}
	if got := string(a.storedRecord().value("late")); got != "\xa3yes" {
		t.Errorf("late change not stored: %q", got)
	}
	a.get("/late-auto")
	if got := string(a.storedRecord().value("late")); got != "\xa4auto" {
		t.Errorf("late automatic change not stored: %q", got)
	}
}

func TestHijackAndFlushPassThrough(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	a.engine.GET("/ws", func(c *gin.Context) {
		s := Default(c)
		s.Set("upgraded", true)
		if _, ok := c.Writer.(http.Flusher); !ok {
			t.Error("writer lost http.Flusher")
		}
		conn, rw, err := c.Writer.Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: close\r\n\r\nhello")
		rw.Flush()
	})
	srv := httptest.NewServer(a.engine)
	defer srv.Close()
	a.get("/login")
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/ws", nil)
	req.AddCookie(&http.Cookie{Name: "session_id", Value: a.cookie})
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if a.storedRecord().value("upgraded") == nil {
		t.Error("session change before Hijack was not stored")
	}
}

// TestChangesAfterTheMiddlewareFinished: a middleware installed before
// ginsession can still read the session after the chain, and Save stores
// its changes; such a change is logged (with the hint to call Save), so one
// that is never saved is not lost silently.
func TestChangesAfterTheMiddlewareFinished(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	var seen string
	var saveErr error
	a.engine = gin.New()
	a.engine.Use(func(c *gin.Context) {
		c.Next()
		s := Default(c)
		seen = s.GetString("user_name")
		switch c.FullPath() {
		case "/after-save":
			s.Set("after", "saved")
			saveErr = s.Save()
		case "/after-nosave":
			s.Set("after", "lost")
		case "/after-auto": // the chain wrote nothing: this middleware responds
			s.Set("after", "auto")
			c.String(http.StatusOK, "from the outer middleware")
		}
	}, a.m.Handler())
	a.engine.GET("/after-auto", func(*gin.Context) {})
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	a.engine.GET("/after-save", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	a.engine.GET("/after-nosave", func(c *gin.Context) { c.String(http.StatusOK, "ok") })

	a.get("/login")
	if seen != "alice" {
		t.Fatalf("outer middleware read %q after the chain, want alice", seen)
	}
	a.get("/after-auto")
	if got := string(a.storedRecord().value("after")); got != "\xa4auto" {
		t.Fatalf("change made before the outer middleware responded: stored %q", got)
	}
	if strings.Contains(a.logs.String(), "changed after its middleware finished") {
		t.Fatal("a change stored by the pre-header hook was reported as needing Save")
	}
	a.get("/after-save")
	if saveErr != nil {
		t.Fatalf("Save after the chain: %v", saveErr)
	}
	if got := string(a.storedRecord().value("after")); got != "\xa5saved" {
		t.Fatalf("change saved after the chain: stored %q", got)
	}
	a.get("/after-nosave")
	if got := string(a.storedRecord().value("after")); got != "\xa5saved" {
		t.Fatalf("an unsaved late change reached the store: %q", got)
	}
	if !strings.Contains(a.logs.String(), "changed after its middleware finished") {
		t.Errorf("an unsaved late change was dropped without a log line; logs:\n%s", a.logs.String())
	}
}

// Save knows whether the header is still to come from the calls that send
// it: c.Status only records the status (the cookie can still go out), and a
// header sent before the middleware ran (an outer middleware starting a
// stream) cannot carry a cookie.
func TestSaveKnowsWhenTheHeaderGoesOut(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	var saveErr error
	a.engine.POST("/login", func(c *gin.Context) {
		c.Status(http.StatusCreated)
		saveErr = Login(c, "bob")
		c.String(http.StatusCreated, "welcome")
	})
	rec := a.do(http.MethodPost, "/login", nil)
	if saveErr != nil || sessionCookie(rec, "session_id") == nil {
		t.Fatalf("Login after c.Status: %v, cookie %v", saveErr, sessionCookie(rec, "session_id"))
	}

	b := newApp(t, NewMemoryClient(), Options{})
	b.engine = gin.New()
	b.engine.Use(func(c *gin.Context) {
		c.Writer.WriteHeaderNow() // the header goes out before ginsession runs
		c.Next()
	}, b.m.Handler())
	b.engine.GET("/", func(c *gin.Context) {
		s := Default(c)
		s.Set("k", "v")
		saveErr = s.Save()
	})
	b.get("/")
	if !errors.Is(saveErr, ErrHeaderWritten) || b.store.writes() != 0 {
		t.Fatalf("Save after the header went out: %v, %d writes; want ErrHeaderWritten and nothing stored", saveErr, b.store.writes())
	}
}

// A cookie change on an existing session after the header went out is
// stored but reported: Save returns ErrHeaderWritten rather than nil.
func TestLateCookieChangeIsReported(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	var saveErr error
	a.engine.GET("/remember", func(c *gin.Context) {
		c.String(http.StatusOK, "body first")
		s := Default(c)
		s.SetPersistent(true)
		saveErr = s.Save()
	})
	a.get("/login")
	rec := a.get("/remember")
	if !errors.Is(saveErr, ErrHeaderWritten) || sessionCookie(rec, "session_id") != nil {
		t.Fatalf("SetPersistent+Save after the body: %v, cookie %v; want ErrHeaderWritten and no cookie", saveErr, sessionCookie(rec, "session_id"))
	}
	if r := a.storedRecord(); r == nil || !r.persistent {
		t.Errorf("the existing session's change was not stored: %v", r)
	}
}

// TestWritesAfterAFailedCommitSendOnlyTheErrorPage: a new session whose
// Add fails at the handler's first write, a bare WriteString: the client
// gets exactly the ErrorHandler's answer, never followed by the handler's
// bytes. A Hijack after the same failure fails instead of handing over the
// connection.
func TestWritesAfterAFailedCommitSendOnlyTheErrorPage(t *testing.T) {
	fo := &failOnce{Client: NewMemoryClient(), err: errors.New("write timeout")}
	a := newApp(t, fo, Options{ErrorHandler: func(c *gin.Context, err error) {
		c.String(http.StatusServiceUnavailable, "store down")
	}})
	a.engine.GET("/bare", func(c *gin.Context) {
		Default(c).Set("user_name", "alice")
		fo.op = "add"
		_, _ = c.Writer.WriteString("handler bytes")
		_, _ = c.Writer.WriteString(" and more")
	})
	var hijackErr error
	a.engine.GET("/hijack", func(c *gin.Context) {
		Default(c).Set("user_name", "alice")
		fo.op = "add"
		conn, _, err := c.Writer.Hijack()
		if err == nil {
			_ = conn.Close()
		}
		hijackErr = err
	})
	if rec := a.get("/bare"); rec.Code != http.StatusServiceUnavailable || rec.Body.String() != "store down" {
		t.Fatalf("after a failed commit: %d %q, want exactly the ErrorHandler's 503", rec.Code, rec.Body.String())
	}

	srv := httptest.NewServer(a.engine)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/hijack")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if hijackErr == nil {
		t.Fatal("Hijack after a failed commit handed over the connection")
	}
	if resp.StatusCode != http.StatusServiceUnavailable || string(body) != "store down" {
		t.Fatalf("Hijack after a failed commit: %d %q, want the ErrorHandler's 503", resp.StatusCode, body)
	}
}
