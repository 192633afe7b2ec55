package ginsession

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
)

// The overhead benchmarks serve requests through Gin with the in-process
// memory client, so no network time hides the middleware's own CPU cost:
// "floor" is a plain handler making the same store calls by hand (one Get
// to read, Get+Set to write). The memcached comparison lives in _bench.

// overheadEngine returns an engine with /read, /write and /untouched routes,
// either through ginsession or (floor) by hand, and a request cookie header
// for an existing session.
func overheadEngine(b *testing.B, floor bool) (*gin.Engine, string) {
	b.Helper()
	client := NewMemoryClient()
	r := gin.New()
	if floor {
		const key = "floor:session"
		if err := client.Set(&memcache.Item{Key: key, Value: []byte("alice"), Expiration: 1800}); err != nil {
			b.Fatal(err)
		}
		r.GET("/read", func(c *gin.Context) {
			if _, err := c.Cookie("session_id"); err != nil {
				c.Status(http.StatusUnauthorized)
				return
			}
			it, err := client.Get(key)
			if err != nil {
				c.Status(http.StatusServiceUnavailable)
				return
			}
			c.String(http.StatusOK, string(it.Value))
		})
		r.GET("/write", func(c *gin.Context) {
			it, err := client.Get(key)
			if err != nil {
				c.Status(http.StatusServiceUnavailable)
				return
			}
			n, _ := strconv.Atoi(string(it.Value[:1]))
			it.Value = strconv.AppendInt(it.Value[:0], int64(n+1)%10, 10)
			if err := client.Set(it); err != nil {
				c.Status(http.StatusServiceUnavailable)
				return
			}
			c.String(http.StatusOK, strconv.Itoa(n))
		})
		r.GET("/untouched", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
		return r, "session_id=" + newID()
	}
	r.Use(New(Options{Client: client, Secret: testSecret}))
	r.GET("/login", func(c *gin.Context) {
		s := Default(c)
		s.Set("user_name", "alice")
		s.Set("n", 0)
		c.String(http.StatusOK, "ok")
	})
	r.GET("/read", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("user_name")) })
	r.GET("/write", func(c *gin.Context) {
		s := Default(c)
		n := s.GetInt("n") + 1
		s.Set("n", n)
		c.String(http.StatusOK, strconv.Itoa(n))
	})
	r.GET("/untouched", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		b.Fatalf("login set %d cookies", len(cookies))
	}
	return r, cookies[0].Name + "=" + cookies[0].Value
}

// discardWriter is a minimal reusable http.ResponseWriter.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

func BenchmarkOverhead(b *testing.B) {
	for _, route := range []string{"read", "write", "untouched"} {
		for _, floor := range []bool{true, false} {
			name := route + "/ginsession"
			if floor {
				name = route + "/floor"
			}
			b.Run(name, func(b *testing.B) {
				engine, cookie := overheadEngine(b, floor)
				tmpl := httptest.NewRequest(http.MethodGet, "/"+route, nil)
				tmpl.Header.Set("Cookie", cookie)
				w := &discardWriter{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					r := new(http.Request)
					*r = *tmpl
					clear(w.h)
					w.code = 0
					engine.ServeHTTP(w, r)
					if w.code != http.StatusOK {
						b.Fatalf("status %d", w.code)
					}
				}
			})
		}
	}
}
