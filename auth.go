package ginsession

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// maxNextURL bounds the length of a "next" redirect target.
const maxNextURL = 2048

// Authenticated returns middleware that lets logged-in users through and
// turns everyone else away, as Tornado's @authenticated does. Logged in
// means the session's Options.UserKey holds a non-empty value: a name set
// by Login, or a numeric user ID an application stored itself. The user is
// then also available as c.GetString(gin.AuthUserKey) (an ID in decimal),
// as gin.BasicAuth does. Anonymous GET and
// HEAD requests get 302 Found to Options.LoginURL with next set to the
// requested URI; other methods get 403 Forbidden.
func Authenticated() gin.HandlerFunc {
	return func(c *gin.Context) { authenticate(c, Default(c)) }
}

// Authenticated is the package-level Authenticated for a manager with its
// own Options.ContextKey.
func (m *Manager) Authenticated() gin.HandlerFunc {
	return func(c *gin.Context) { authenticate(c, m.Session(c)) }
}

// authenticate implements Authenticated for session s.
func authenticate(c *gin.Context, s *Session) {
	user := userName(s)
	if c.IsAborted() { // the store failed; the error response is out
		return
	}
	if user != "" {
		c.Set(gin.AuthUserKey, user)
		return
	}
	if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
		c.AbortWithStatus(http.StatusForbidden)
		return
	}
	c.Redirect(http.StatusFound, loginRedirect(c.Request, s.m.opts.LoginURL))
	c.Abort()
}

// loginRedirect returns loginURL with next= the request URI, or the full
// request URL when loginURL is absolute (another host must come back here).
func loginRedirect(r *http.Request, loginURL string) string {
	next := r.URL.RequestURI()
	if u, err := url.Parse(loginURL); err == nil && (u.Scheme != "" || u.Host != "") {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		next = scheme + "://" + r.Host + next
	}
	sep := "?"
	if strings.Contains(loginURL, "?") {
		sep = "&"
	}
	return loginURL + sep + "next=" + url.QueryEscape(next)
}

// User returns the logged-in user's name, or "" for anonymous visitors. A
// numeric user ID is returned in decimal.
func User(c *gin.Context) string {
	return userName(Default(c))
}

// userName returns the user held under Options.UserKey as text: a string
// as is, an integer in decimal, any other value that is not empty (not nil,
// false, "" or an empty list or map) in fmt's %v form; "" when anonymous.
func userName(s *Session) string {
	key := s.m.opts.UserKey
	if name := s.GetString(key); name != "" { // the common case, unboxed
		return name
	}
	value := s.Get(key)
	switch v := value.(type) {
	case nil:
		return ""
	case string, []byte:
		return "" // empty: the fast path took any other
	case bool:
		if !v {
			return ""
		}
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case []any:
		if len(v) == 0 {
			return ""
		}
	case map[string]any:
		if len(v) == 0 {
			return ""
		}
	}
	return fmt.Sprint(value)
}

// errEmptyUser is returned by Login for an empty user name.
var errEmptyUser = errors.New("ginsession: login: empty user name")

// Login logs user in: it gives the session a new ID (defeating session
// fixation) whose absolute Lifetime starts now, stores user under
// Options.UserKey and saves at once, returning
// any store error. If the old session was deleted meanwhile (a logout in
// another tab), the user is logged in to a fresh, empty session instead.
func Login(c *gin.Context, user string) error {
	if user == "" {
		return errEmptyUser
	}
	s := Default(c)
	if err := s.regenerate(true); err != nil {
		return err
	}
	s.Set(s.m.opts.UserKey, user)
	err := s.Save()
	if errors.Is(err, ErrSessionEnded) {
		// The old session was deleted meanwhile (a logout in another tab):
		// the login still stands, in a fresh session.
		s.Set(s.m.opts.UserKey, user)
		err = s.Save()
	}
	return err
}

// Logout destroys the session: the stored data is deleted and the cookie
// expired.
func Logout(c *gin.Context) error {
	return Default(c).Destroy()
}

// NextURL returns the request's "next" parameter (query string first, then
// form) when it is a local path such as "/account?tab=1", and fallback
// otherwise. Protocol-relative ("//host"), backslash ("/\host"), absolute
// and control-character targets are refused, so a login link cannot
// redirect users to another site.
func NextURL(c *gin.Context, fallback string) string {
	next := c.Query("next")
	if next == "" {
		next = c.PostForm("next")
	}
	if isLocalPath(next) {
		return next
	}
	return fallback
}

// isLocalPath reports whether p is a path on this site.
func isLocalPath(p string) bool {
	if p == "" || p[0] != '/' || len(p) > maxNextURL {
		return false
	}
	if len(p) > 1 && (p[1] == '/' || p[1] == '\\') {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\' {
			return false
		}
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}
