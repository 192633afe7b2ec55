package ginsession_test

// The application and the browsers of the concurrent history test
// (history_test.go): a small Gin app on the public API only, served
// in-process, and per-browser cookie jars whose every request is recorded.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/ginsession/ginsession/internal/history"
)

// histValuePrefix marks the session keys the simulated tabs write.
const histValuePrefix = "v:"

// histAnswer is what every route of the history app answers.
type histAnswer struct {
	User   string           `json:"user"`   // who the request's cookie was served as, before any change
	Values map[string]int64 `json:"values"` // the tab values in the session (read only)
}

// historyApp builds the app. Every route reports the user its cookie was
// served as before it changed anything, so the checker sees what each
// cookie was worth at each moment. Store errors answer 503 (by the
// handler for Login, Logout, Regenerate and Remember, which check their
// errors; by the ErrorHandler for the automatic commit of a write).
func historyApp(opts ginsession.Options) *gin.Engine {
	r := gin.New()
	r.Use(ginsession.New(opts))
	fail := func(c *gin.Context, err error) { c.String(http.StatusServiceUnavailable, "store: %v", err) }
	anonymous := ginsession.AuthenticatedFunc(func(c *gin.Context) {
		c.JSON(http.StatusForbidden, histAnswer{})
	})
	r.GET("/me", func(c *gin.Context) {
		s := ginsession.Default(c)
		a := histAnswer{User: ginsession.User(c), Values: map[string]int64{}}
		for _, k := range s.Keys() {
			if strings.HasPrefix(k, histValuePrefix) {
				a.Values[k] = s.GetInt64(k)
			}
		}
		c.JSON(http.StatusOK, a)
	})
	r.POST("/login", func(c *gin.Context) {
		prev := ginsession.User(c)
		if err := ginsession.Login(c, c.Query("user")); err != nil {
			fail(c, err)
			return
		}
		if c.Query("remember") == "1" {
			s := ginsession.Default(c)
			s.SetPersistent(true)
			if err := s.Save(); err != nil {
				fail(c, err)
				return
			}
		}
		c.JSON(http.StatusOK, histAnswer{User: prev})
	})
	r.POST("/logout", func(c *gin.Context) {
		prev := ginsession.User(c)
		if err := ginsession.Logout(c); err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, histAnswer{User: prev})
	})
	auth := r.Group("/", anonymous)
	auth.POST("/write", func(c *gin.Context) {
		// Committed automatically before the answer goes out: a failed
		// commit turns the answer into the ErrorHandler's 503.
		v, _ := strconv.ParseInt(c.Query("v"), 10, 64)
		ginsession.Default(c).Set(histValuePrefix+c.Query("key"), v)
		c.JSON(http.StatusOK, histAnswer{User: ginsession.User(c)})
	})
	auth.POST("/regenerate", func(c *gin.Context) {
		user := ginsession.User(c)
		if err := ginsession.Default(c).Regenerate(); err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, histAnswer{User: user})
	})
	auth.POST("/remember", func(c *gin.Context) {
		s := ginsession.Default(c)
		s.SetPersistent(true)
		if err := s.Save(); err != nil {
			fail(c, err)
			return
		}
		c.JSON(http.StatusOK, histAnswer{User: ginsession.User(c)})
	})
	return r
}

// histSite is the app under test and the recorder of everything sent to it.
type histSite struct {
	engine *gin.Engine
	rec    *history.Recorder
}

// histJar is one browser's session cookie and the user it logged in as,
// shared by the browser's tabs.
type histJar struct {
	mu     sync.Mutex
	cookie string
	user   string
}

func (j *histJar) get() (cookie, user string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cookie, j.user
}

// update applies an answer's Set-Cookie, unless the jar changed while the
// request was in flight: a slow answer for the old cookie must not undo a
// login or regenerate that finished first. (A real browser would take it;
// the simulation keeps its sessions instead, to keep testing them.)
func (j *histJar) update(sent string, op *history.Op, user string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cookie != sent {
		return
	}
	switch {
	case op.Cleared:
		j.cookie, j.user = "", ""
	case op.SetCookie != "":
		if op.SetCookie != sent {
			j.user = user
		}
		j.cookie = op.SetCookie
	}
}

// send performs op (Kind and arguments filled in) with cookie, records it
// and returns it with its answer. The caller passes the Op's Cookie.
func (s *histSite) send(op history.Op, cookieName string) history.Op {
	method, path := http.MethodPost, "/"+string(op.Kind)
	q := url.Values{}
	switch op.Kind {
	case history.Read:
		method, path = http.MethodGet, "/me"
	case history.Login:
		q.Set("user", op.User)
		if op.Remember {
			q.Set("remember", "1")
		}
	case history.Write:
		q.Set("key", strings.TrimPrefix(op.Key, histValuePrefix))
		q.Set("v", strconv.FormatInt(op.Value, 10))
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	req := httptest.NewRequest(method, path, nil)
	if op.Cookie != "" {
		req.Header.Set("Cookie", cookieName+"="+op.Cookie)
	}
	w := httptest.NewRecorder()
	op.Start = s.rec.Now()
	s.engine.ServeHTTP(w, req)
	res := w.Result()
	op.Status = res.StatusCode
	op.OK = res.StatusCode == http.StatusOK
	if res.StatusCode == http.StatusServiceUnavailable {
		op.Note = strings.TrimSpace(w.Body.String()) // the store error, for reports
		op.Note = op.Note[:min(len(op.Note), 80)]
	}
	if op.OK {
		var a histAnswer
		if err := json.NewDecoder(res.Body).Decode(&a); err == nil {
			op.Served, op.Seen = a.User, a.Values
		}
	}
	for _, c := range res.Cookies() {
		if c.Name != cookieName {
			continue
		}
		op.SetCookie, op.MaxAge = c.Value, c.MaxAge
		op.Cleared = c.MaxAge < 0 || c.Value == ""
	}
	return s.rec.Add(op)
}

// browse sends op with the jar's cookie and applies the answer to the jar.
func (s *histSite) browse(j *histJar, op history.Op, cookieName string) history.Op {
	cookie, user := j.get()
	op.Cookie = cookie
	if op.Kind == history.Write {
		op.User = user // who the tab believes it writes for (checked by (d))
	}
	op = s.send(op, cookieName)
	next := user
	if op.Kind == history.Login && op.SetCookie != "" {
		next = op.User // even a 503 login answer may carry the new session's cookie
	}
	j.update(cookie, &op, next)
	return op
}
