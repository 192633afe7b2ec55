package ginsession

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestQualifiedPrivateIsRewritten: private="X-Foo" lets a shared cache
// store everything but X-Foo, the cookie included; on a response that sets
// the session cookie it becomes a bare private, whatever the field list.
func TestQualifiedPrivateIsRewritten(t *testing.T) {
	for policy, want := range map[string]string{
		`private="X-Foo", max-age=600`:         "max-age=600, private",
		`max-age=600, private="X-Foo, X-Bar"`:  "max-age=600, private",
		`PRIVATE="Set-Cookie", no-cache`:       "no-cache, private",
		`private, max-age=0`:                   "private, max-age=0", // already private: left as written
		`private="X, Y", public, s-maxage=100`: "private",
	} {
		a := newApp(t, NewMemoryClient(), Options{})
		a.engine.GET("/", func(c *gin.Context) {
			c.Header("Cache-Control", policy)
			Default(c).Set("k", "v")
			c.String(http.StatusOK, "page")
		})
		rec := a.get("/")
		if sessionCookie(rec, "session_id") == nil {
			t.Fatalf("%s: no session cookie", policy)
		}
		if got := rec.Header().Get("Cache-Control"); got != want {
			t.Errorf("Cache-Control %s became %q, want %q", policy, got, want)
		}
	}
}
