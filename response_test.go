package ginsession

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

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
