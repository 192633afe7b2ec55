package ginsession

import (
	"errors"
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
// means the session's Options.UserKey holds a non-blank string (a name set
// by Login) or a non-zero integer (an application's own user ID). The user
// is then also available as c.GetString(gin.AuthUserKey) (an ID in
// decimal), as gin.BasicAuth does. Anonymous visitors get
// Options.Unauthenticated: by default GET and HEAD requests get 302 Found to
// Options.LoginURL with next set to the requested URI, and other methods
// 403 Forbidden. Use AuthenticatedFunc for a route group that answers
// differently, such as a JSON API.
func Authenticated() gin.HandlerFunc {
	return func(c *gin.Context) { authenticate(c, Default(c), nil) }
}

// Authenticated is the package-level Authenticated for a manager with its
// own Options.ContextKey.
func (m *Manager) Authenticated() gin.HandlerFunc {
	return func(c *gin.Context) { authenticate(c, m.Session(c), nil) }
}

// AuthenticatedFunc is Authenticated with onAnonymous answering anonymous
// visitors instead of Options.Unauthenticated, for one route group: an API
// typically answers 401 with c.AbortWithStatusJSON. The chain is aborted
// after onAnonymous returns. It panics if onAnonymous is nil (a setup
// mistake).
func AuthenticatedFunc(onAnonymous gin.HandlerFunc) gin.HandlerFunc {
	mustHandler(onAnonymous)
	return func(c *gin.Context) { authenticate(c, Default(c), onAnonymous) }
}

// AuthenticatedFunc is the package-level AuthenticatedFunc for a manager
// with its own Options.ContextKey.
func (m *Manager) AuthenticatedFunc(onAnonymous gin.HandlerFunc) gin.HandlerFunc {
	mustHandler(onAnonymous)
	return func(c *gin.Context) { authenticate(c, m.Session(c), onAnonymous) }
}

// mustHandler panics on a nil anonymous-visitor handler.
func mustHandler(h gin.HandlerFunc) {
	if h == nil {
		panic("ginsession: AuthenticatedFunc needs a handler for anonymous visitors, got nil")
	}
}

// authenticate implements Authenticated for session s; onAnonymous nil
// means Options.Unauthenticated.
func authenticate(c *gin.Context, s *Session, onAnonymous gin.HandlerFunc) {
	user := userName(c, s)
	if c.IsAborted() { // the store failed; the error response is out
		return
	}
	if user != "" {
		c.Set(gin.AuthUserKey, user)
		return
	}
	if onAnonymous == nil {
		onAnonymous = s.m.opts.Unauthenticated
	}
	onAnonymous(c)
	c.Abort()
}

// loginRequired is the default Options.Unauthenticated, Tornado's: GET and
// HEAD go to the login page with next set to the requested URI; other
// methods, which a redirect would turn into a GET, get 403 with a short
// text saying why.
func loginRequired(loginURL, publicURL string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead {
			c.String(http.StatusForbidden, "Forbidden: login required.\n")
			return
		}
		c.Redirect(http.StatusFound, loginRedirect(c.Request, loginURL, publicURL))
	}
}

// loginRedirect returns loginURL with next= the request URI, made absolute
// with publicURL (never the client's Host header) when loginURL is absolute.
func loginRedirect(r *http.Request, loginURL, publicURL string) string {
	next := r.URL.RequestURI()
	if !isLocalPath(loginURL) {
		next = publicURL + next
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
	return userName(c, Default(c))
}

// userName returns the user held under Options.UserKey as text: a string
// that is not blank, or a non-zero integer in decimal. Anything else (0,
// booleans, blank strings, lists, maps, bytes) is anonymous: "".
func userName(c *gin.Context, s *Session) string {
	if user := storedUser(s); user != "" && s.stampHolds(c, user) {
		return user
	}
	return ""
}

// storedUser returns the user held under Options.UserKey as userName
// describes, without the stamp check.
func storedUser(s *Session) string {
	raw, ok := s.raw(s.m.opts.UserKey)
	if !ok {
		return ""
	}
	return userIn(raw)
}

// userIn returns the user a raw msgpack value under Options.UserKey stands
// for, as userName describes: a string that is not blank, or a non-zero
// integer in decimal; anything else is "".
func userIn(raw []byte) string {
	if name, n, ok := strAtStart(raw); ok && n == len(raw) {
		if strings.TrimSpace(name) == "" {
			return ""
		}
		return name
	}
	i, u, big, n, ok := intAt(raw)
	switch {
	case !ok || n != len(raw):
		return ""
	case big:
		return strconv.FormatUint(u, 10)
	case i != 0:
		return strconv.FormatInt(i, 10)
	}
	return ""
}

// errEmptyUser is returned by Login for a blank user name.
var errEmptyUser = errors.New("ginsession: login: blank user name")

// Login logs user in: it gives the session a new ID (defeating session
// fixation) whose absolute Lifetime starts now, stores user under
// Options.UserKey and saves at once, returning any store error.
//
// Over an anonymous session, or one of the same user, the data is kept (a
// cart survives sign-in). Over a session of another user it starts from
// empty data, flashes and persistence, as Django's login() does, so nothing
// one user stored reaches the next. Data stored before login was written by
// the visitor: never let it carry authority. If the old session was deleted
// meanwhile (a logout in another tab), the user is logged in to a fresh,
// empty session instead.
func Login(c *gin.Context, user string) error {
	if strings.TrimSpace(user) == "" {
		return errEmptyUser
	}
	s := Default(c)
	stamp, err := s.currentStamp(c, user)
	if err != nil {
		return err
	}
	// The previous user is read without the stamp check: a stale stamp (or
	// a deleted user whose lookup fails) must not stop another user's login,
	// and flushing already ends what the previous user left.
	current := storedUser(s)
	flush := current != "" && current != user
	for attempt := 0; ; attempt++ {
		if err := s.login(flush, stamp); err != nil {
			return err
		}
		s.Set(s.m.opts.UserKey, user)
		err := s.Save()
		if attempt == 0 && errors.Is(err, ErrSessionEnded) {
			// The old session was deleted meanwhile (a logout in another
			// tab): the login still stands, in a fresh session.
			flush = false
			continue
		}
		return err
	}
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
