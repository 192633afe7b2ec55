// Command faultserver serves a small ginsession app over real HTTP for the
// fault scenarios of ../../faults.sh. Unlike cmd/server it takes the store
// settings the scenarios vary (several servers, replicas, timeout,
// backoff) and logs ginsession's records to stderr, one line each, so the
// script can count them:
//
//	faultserver -addr 127.0.0.1:8080 -memcached 127.0.0.1:11211,127.0.0.1:11212 -replicas 2
//
// Routes (GET): /login?user=NAME logs NAME in and sends the session
// cookie; /me answers the user name, or 401 for an anonymous visitor;
// /write increments a counter in the session. Store failures get
// ginsession's default error page (503).
package main

import (
	"flag"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	servers := flag.String("memcached", "127.0.0.1:11211", "memcached servers, comma-separated")
	replicas := flag.Int("replicas", 1, "Options.Replicas")
	timeout := flag.Duration("timeout", 0, "Options.Timeout (0: ginsession's default)")
	backoff := flag.Duration("downbackoff", 0, "Options.DownBackoff (0: ginsession's default)")
	maxIdle := flag.Int("maxidle", 64, "Options.MaxIdleConns")
	flag.Parse()

	gin.SetMode(gin.ReleaseMode)
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m, err := ginsession.NewManager(ginsession.Options{
		Memcached:      strings.Split(*servers, ","),
		Replicas:       *replicas,
		Timeout:        *timeout,
		DownBackoff:    *backoff,
		MaxIdleConns:   *maxIdle,
		Secret:         "faults-secret-0123456789abcdef-0123456789abcdef",
		InsecureCookie: true,
		Logger:         logger,
	})
	if err != nil {
		log.Fatalf("faultserver: %v", err)
	}
	r := gin.New()
	r.Use(m.Handler())
	r.GET("/login", func(c *gin.Context) {
		if err := ginsession.Login(c, c.Query("user")); err == nil {
			c.String(http.StatusOK, "ok")
		}
	})
	authed := r.Group("/", m.AuthenticatedFunc(func(c *gin.Context) { c.String(http.StatusUnauthorized, "anonymous") }))
	authed.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, "%s", ginsession.User(c)) })
	authed.GET("/write", func(c *gin.Context) {
		s := ginsession.Default(c)
		n := s.GetInt("n") + 1
		s.Set("n", n)
		c.String(http.StatusOK, "%d", n)
	})

	// No graceful shutdown: faults.sh kills the server between scenarios.
	srv := &http.Server{Addr: *addr, Handler: r, ReadHeaderTimeout: 5 * time.Second}
	log.Fatalf("faultserver: %v", srv.ListenAndServe())
}
