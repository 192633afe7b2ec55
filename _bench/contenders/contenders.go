// Package contenders builds the Gin engines compared by the ginsession
// benchmarks and the load-test server: the same routes, served by
//
//   - Floor: plain Gin handlers doing the minimum raw gomemcache calls
//     (read = one Get, write = Get + Set, new visitor = Add), with no
//     signing, no encoding library and no session abstraction;
//   - Ginsession: github.com/ginsession/ginsession;
//   - GinContrib: github.com/gin-contrib/sessions with its memcached store.
//
// Every engine uses its own *memcache.Client with the same MaxIdleConns, so
// connection pooling is equal across contenders, and gin's release mode
// without logger or recovery middleware.
//
// Routes (all GET):
//
//	/login      creates a session holding user_name="alice" and n=0 and sends its cookie
//	/read       existing session: responds with user_name
//	/write      existing session: increments n and responds with it
//	/new        new visitor (no cookie): sets a value, creating the session
//	/untouched  never touches the session (the middleware stays installed)
//	/me         ginsession only: responds with ginsession.User (where security stamps are checked)
package contenders

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-contrib/sessions"
	gcmemcached "github.com/gin-contrib/sessions/memcached"
	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
)

// CookieName is the session cookie name used by every contender.
const CookieName = "session_id"

// Secret signs the cookies of the contenders that sign them.
const Secret = "benchmark-secret-0123456789abcdef-0123456789abcdef"

// IdleSeconds is the session idle timeout (memcached expiration) used by
// every contender.
const IdleSeconds = 30 * 60

// User is the user name stored by /login and returned by /read.
const User = "alice"

// Names lists the session contenders, in report order.
var Names = []string{"floor", "ginsession", "gincontrib"}

func init() { gin.SetMode(gin.ReleaseMode) }

// NewClient returns a gomemcache client for addr with the given idle pool
// size. Its timeout is gomemcache's default (500 ms), which is also
// ginsession's default.
func NewClient(addr string, maxIdleConns int) *memcache.Client {
	mc := memcache.New(addr)
	mc.MaxIdleConns = maxIdleConns
	return mc
}

// New returns the engine of the named contender ("floor", "ginsession",
// "gincontrib"), of the bare baseline ("bare": only /untouched, no
// middleware) or of the c.Set baseline ("ginset", see GinSet). It returns
// false for an unknown name.
func New(name, addr string, maxIdleConns int) (*gin.Engine, bool) {
	switch name {
	case "bare":
		return Bare(), true
	case "ginset":
		return GinSet(), true
	case "floor":
		return Floor(NewClient(addr, maxIdleConns)), true
	case "ginsession":
		return Ginsession(addr, maxIdleConns), true
	case "ginsession-stamp":
		return GinsessionStamp(addr, maxIdleConns), true
	case "ginsession-observe":
		return GinsessionObserve(addr, maxIdleConns), true
	case "ginsession-tracked":
		return GinsessionTracked(addr, maxIdleConns), true
	case "gincontrib":
		return GinContrib(NewClient(addr, maxIdleConns)), true
	}
	return nil, false
}

// Bare returns an engine with no middleware and only the /untouched route:
// the baseline of the untouched workload.
func Bare() *gin.Engine {
	r := gin.New()
	r.GET("/untouched", untouched)
	return r
}

// GinSet returns an engine with only the /untouched route under one
// middleware that stores a pointer with c.Set: what gin itself charges any
// middleware that hands per-request state to handlers through c.Keys (the
// map's allocation on the first Set of a request).
func GinSet() *gin.Engine {
	state := new(int)
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Set(ginsession.DefaultContextKey, state)
		c.Next()
	})
	r.GET("/untouched", untouched)
	return r
}

// untouched is the handler of the /untouched route for every contender.
func untouched(c *gin.Context) { c.String(http.StatusOK, "ok") }

// Floor returns the floor engine. A floor session is one memcached item,
// "floor:" + ID, whose plain value is "<n> <user>"; the cookie carries the
// bare ID (unsigned, which no real library should do).
func Floor(mc *memcache.Client) *gin.Engine {
	const prefix = "floor:"
	newSession := func(c *gin.Context, value string) {
		id := newID()
		err := mc.Add(&memcache.Item{Key: prefix + id, Value: []byte(value), Expiration: IdleSeconds})
		if err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.SetSameSite(http.SameSiteLaxMode)
		c.SetCookie(CookieName, id, 0, "/", "", false, true)
		c.String(http.StatusOK, "ok")
	}
	// load returns the session item named by the cookie, or writes an error.
	load := func(c *gin.Context) (*memcache.Item, bool) {
		id, err := c.Cookie(CookieName)
		if err != nil {
			c.String(http.StatusUnauthorized, "no session")
			return nil, false
		}
		it, err := mc.Get(prefix + id)
		if err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return nil, false
		}
		return it, true
	}

	r := gin.New()
	r.GET("/login", func(c *gin.Context) { newSession(c, "0 "+User) })
	r.GET("/new", func(c *gin.Context) { newSession(c, "1 visitor") })
	r.GET("/read", func(c *gin.Context) {
		it, ok := load(c)
		if !ok {
			return
		}
		_, user, _ := strings.Cut(string(it.Value), " ")
		c.String(http.StatusOK, user)
	})
	r.GET("/write", func(c *gin.Context) {
		it, ok := load(c)
		if !ok {
			return
		}
		num, user, _ := strings.Cut(string(it.Value), " ")
		n, _ := strconv.Atoi(num)
		n++
		it.Value = append(append(strconv.AppendInt(it.Value[:0], int64(n), 10), ' '), user...)
		it.Expiration = IdleSeconds
		if err := mc.Set(it); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return
		}
		c.String(http.StatusOK, strconv.Itoa(n))
	})
	r.GET("/untouched", untouched)
	return r
}

// newID returns a random 256-bit base64url session ID, as ginsession's.
func newID() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Ginsession returns the ginsession engine, with its memcached client built
// by ginsession from addr and maxIdleConns.
func Ginsession(addr string, maxIdleConns int) *gin.Engine {
	return ginsessionEngine(ginsession.Options{Memcached: []string{addr}, MaxIdleConns: maxIdleConns})
}

// GinsessionStamp returns the ginsession engine with security stamps on
// (Options.UserStamp, checked once an hour, so reads fall between checks)
// and a /login that logs in with ginsession.Login, which records the stamp.
// /me reads the user, which is where the stamp is checked.
func GinsessionStamp(addr string, maxIdleConns int) *gin.Engine {
	return ginsessionEngine(ginsession.Options{
		Memcached:    []string{addr},
		MaxIdleConns: maxIdleConns,
		UserStamp:    func(*gin.Context, string) (string, error) { return "stamp-1", nil },
		StampCheck:   time.Hour,
	})
}

// GinsessionObserve returns the ginsession engine with a trivial
// Options.Observe: one atomic counter per event kind, the least a metrics
// exporter does. It measures what the hook itself costs (every store call
// is timed once it is set).
func GinsessionObserve(addr string, maxIdleConns int) *gin.Engine {
	var counts [16]atomic.Int64
	return ginsessionEngine(ginsession.Options{
		Memcached:    []string{addr},
		MaxIdleConns: maxIdleConns,
		Observe:      func(e ginsession.Event) { counts[e.Kind%16].Add(1) },
	})
}

// GinsessionTracked returns the ginsession engine with
// Options.TrackSessions on: every Login also updates its user's session
// list. All logins are of one user, so past the first 64 the list is full
// (MaxTrackedSessions), the largest it gets.
func GinsessionTracked(addr string, maxIdleConns int) *gin.Engine {
	return ginsessionEngine(ginsession.Options{
		Memcached:     []string{addr},
		MaxIdleConns:  maxIdleConns,
		TrackSessions: true,
	})
}

// ginsessionEngine builds the ginsession routes over o (Secret, cookie and
// timeout settings filled in).
func ginsessionEngine(o ginsession.Options) *gin.Engine {
	o.Secret, o.InsecureCookie, o.CookieName = Secret, true, CookieName
	o.IdleTimeout = IdleSeconds * time.Second
	r := gin.New()
	r.Use(ginsession.New(o))
	r.GET("/login", func(c *gin.Context) {
		if err := ginsession.Login(c, User); err != nil {
			return
		}
		ginsession.Default(c).Set("n", 0)
		c.String(http.StatusOK, "ok")
	})
	r.GET("/me", func(c *gin.Context) {
		c.String(http.StatusOK, ginsession.User(c))
	})
	var users atomic.Int64
	r.GET("/login-first", func(c *gin.Context) { // each request a new user's first login
		if err := ginsession.Login(c, "user-"+strconv.FormatInt(users.Add(1), 10)); err != nil {
			return
		}
		c.String(http.StatusOK, "ok")
	})
	r.GET("/new", func(c *gin.Context) {
		ginsession.Default(c).Set("visits", 1)
		c.String(http.StatusOK, "ok")
	})
	r.GET("/read", func(c *gin.Context) {
		c.String(http.StatusOK, ginsession.Default(c).GetString("user_name"))
	})
	r.GET("/write", func(c *gin.Context) {
		s := ginsession.Default(c)
		n := s.GetInt("n") + 1
		s.Set("n", n)
		c.String(http.StatusOK, strconv.Itoa(n))
	})
	r.GET("/untouched", untouched)
	return r
}

// GinContrib returns the gin-contrib/sessions engine with its memcached
// store in its default configuration (securecookie-encoded gob values),
// using mc.
func GinContrib(mc *memcache.Client) *gin.Engine {
	store := gcmemcached.NewStore(mc, "gincontrib:", []byte(Secret))
	store.Options(sessions.Options{Path: "/", MaxAge: IdleSeconds, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	// save stores the session or writes an error response.
	save := func(c *gin.Context, s sessions.Session) bool {
		if err := s.Save(); err != nil {
			c.String(http.StatusServiceUnavailable, err.Error())
			return false
		}
		return true
	}

	r := gin.New()
	r.Use(sessions.Sessions(CookieName, store))
	r.GET("/login", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("user_name", User)
		s.Set("n", 0)
		if save(c, s) {
			c.String(http.StatusOK, "ok")
		}
	})
	r.GET("/new", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("visits", 1)
		if save(c, s) {
			c.String(http.StatusOK, "ok")
		}
	})
	r.GET("/read", func(c *gin.Context) {
		user, _ := sessions.Default(c).Get("user_name").(string)
		c.String(http.StatusOK, user)
	})
	r.GET("/write", func(c *gin.Context) {
		s := sessions.Default(c)
		n, _ := s.Get("n").(int)
		n++
		s.Set("n", n)
		if save(c, s) {
			c.String(http.StatusOK, strconv.Itoa(n))
		}
	})
	r.GET("/untouched", untouched)
	return r
}
