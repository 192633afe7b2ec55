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

// getPanickingClient panics on Get, as a broken custom Client might.
type getPanickingClient struct{ Client }

func (getPanickingClient) Get(string) (*memcache.Item, error) { panic("get exploded") }

// A panic inside the lazy load (a custom Client or Logger) must not leave
// the session locked: the recovery middleware's 500 goes out, the request
// does not hang.
func TestPanicInLoadDoesNotHang(t *testing.T) {
	a := newApp(t, getPanickingClient{NewMemoryClient()}, Options{})
	a.cookie = a.m.cookies.encode(newID()) // a valid cookie, so the load calls Get
	a.engine = gin.New()
	a.engine.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
		c.AbortWithStatus(http.StatusInternalServerError)
	}), a.m.Handler())
	a.engine.GET("/", func(c *gin.Context) { _ = Default(c).Get("x") })
	done := make(chan int, 1)
	go func() { done <- a.get("/").Code }()
	select {
	case code := <-done:
		if code != http.StatusInternalServerError {
			t.Errorf("status %d, want the recovery's 500", code)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("request hung: the panicking load left the session locked and abandon deadlocked")
	}
}

// TestDeadCookieDoesNotHideTheRealOne: anyone can mint a validly signed
// cookie of an ended session (get one, log out). Planted before the real
// cookie (a longer Path is sent first), it must not make the visitor
// anonymous: the next verified candidate is read.
func TestDeadCookieDoesNotHideTheRealOne(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", c.Query("u")) })
		a.engine.GET("/logout", func(c *gin.Context) { _ = Default(c).Destroy() })
		a.engine.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, "%s", Default(c).GetString("user_name")) })
		a.get("/login?u=mallory")
		dead := a.cookie
		a.get("/logout")
		a.cookie = ""
		a.get("/login?u=alice")
		real := a.cookie
		a.cookie = ""
		rec := a.do(http.MethodGet, "/me", nil, "Cookie", "session_id="+dead+"; session_id="+real)
		if got := rec.Body.String(); got != "alice" {
			t.Fatalf("with a dead cookie sent first: %q, want alice", got)
		}
	})
}
