package ginsession

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Manager holds the configuration and the memcached client shared by all
// requests. Create one with NewManager and install its Handler; it is safe
// for concurrent use. It remembers what up to 4096 recently verified cookie
// values stand for (about 0.9 MB when full with the default KeyPrefix) and
// the last authentic record of up to 1024 keys (about 0.55 MB), so a
// visitor's repeat requests skip the cookie's HMAC, the hashing of its
// memcached key and, while the record is unchanged, the record's HMAC.
type Manager struct {
	opts    Options
	store   store
	cookies *cookieCodec
	ids     *cookieResolver // the request cookie's session, remembered per value
	values  *valueCodec
	now     func() time.Time
	faults  *faultLog
	ended   *endedMarker // stored in the context once the middleware returned without a session
	ctxKey  any          // opts.ContextKey, boxed once so c.Set does not allocate
}

// NewManager validates opts, applies defaults and returns a Manager. The
// error names the field to fix.
func NewManager(opts Options) (*Manager, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	client := o.Client
	if client == nil {
		if client, err = newStoreClient(o); err != nil {
			return nil, err
		}
	}
	if o.Observe != nil {
		client = observeClient(client, o.Observe)
	}
	m := &Manager{
		opts:    o,
		cookies: newCookieCodec(o.CookieName, o.Secret, o.OldSecrets),
		values:  newValueCodec(),
		now:     time.Now,
		ctxKey:  o.ContextKey,
	}
	m.ids = newCookieResolver(m.cookies, o.KeyPrefix, cookieMemoSlots)
	m.store = store{client: client, opts: &m.opts, records: newRecordSealer(o.Secret, o.OldSecrets)}
	m.ended = &endedMarker{m}
	m.faults = newFaultLog(o.Logger, func() time.Time { return m.now() })
	return m, nil
}

// endedMarker stands in the context for a manager whose middleware
// returned before the request used its session.
type endedMarker struct{ m *Manager }

// New returns the session middleware for opts. It panics with a message
// naming the field to fix when opts is invalid (a setup mistake); use
// NewManager to get the error instead.
func New(opts Options) gin.HandlerFunc {
	m, err := NewManager(opts)
	if err != nil {
		panic(err.Error())
	}
	return m.Handler()
}

// Handler returns the middleware that gives each request a lazily loaded
// Session and commits it just before the response header is written. It
// does no I/O and allocates no session itself: the session is made by the
// first Default (or Manager.Session) call, so a route that never touches it
// costs no memcached round trip and sends no cookie. When the handler chain
// panics, the request's unsaved changes are dropped (as Django and Rails
// do): a recovery middleware installed before ginsession then sends its
// error page without storing a half-made change or a new session's cookie.
//
// The first use wraps c.Writer as it is then. A middleware installed after
// ginsession that replaces c.Writer and later restores it (a timeout or
// buffering middleware) takes the hook out of the chain for what is written
// after the restore: install it before ginsession, or use the session
// before it. engine.HandleContext starts the context afresh: Save what the
// first handler changed before calling it.
func (m *Manager) Handler() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Set(m.ctxKey, m) // Default makes the session on first use
		finished := false
		defer func() {
			if !finished { // a panic (or Goexit) unwinds through here
				m.end(c, (*Session).abandon)
			}
		}()
		c.Next()
		m.end(c, (*Session).finish)
		finished = true
	}
}

// end runs done on the request's session when the handler chain made one,
// and otherwise marks the request as past the middleware, so a session made
// later (by an outer middleware) knows it no longer owns the response.
func (m *Manager) end(c *gin.Context, done func(*Session)) {
	v, _ := c.Get(m.ctxKey)
	switch v := v.(type) {
	case *Manager:
		c.Set(m.ctxKey, m.ended)
	case *Session:
		done(v)
	}
}

// start makes the request's session on its first use: the hook writer goes
// in front of c.Writer so the session commits before the header. A session
// first used after the middleware returned, or on a c.Copy() made before the
// first use (which has no response of its own), starts detached: it reads
// and Save stores an existing session, but it cannot set a cookie.
func (m *Manager) start(c *gin.Context, afterMiddleware bool) *Session {
	s := &Session{m: m, req: c.Request}
	s.resp.c = c
	s.resp.w = hookWriter{ResponseWriter: c.Writer, s: s}
	switch {
	case isCopy(c):
		s.setPhase(phaseDetachedOut)
		c.Set(m.ctxKey, s)
		return s
	case afterMiddleware && c.Writer.Written():
		s.setPhase(phaseDetachedOut)
	case afterMiddleware:
		s.setPhase(phaseDetached)
	case c.Writer.Written(): // an outer middleware sent the header
		s.setPhase(phaseHeaderOut)
	}
	c.Writer = &s.resp.w
	c.Set(m.ctxKey, s)
	return s
}

// isCopy reports whether c is a gin Context.Copy, whose writer has no
// response behind it.
func isCopy(c *gin.Context) bool {
	u, ok := c.Writer.(interface{ Unwrap() http.ResponseWriter })
	return ok && u.Unwrap() == nil
}

// Session returns the request's session for this manager. Use it instead of
// Default when the manager has its own Options.ContextKey. It panics, like
// Default, when the manager's Handler is not installed on the route.
func (m *Manager) Session(c *gin.Context) *Session {
	return lookup(c, m.opts.ContextKey)
}

// lookup finds the session stored under key, making it on first use.
func lookup(c *gin.Context, key string) *Session {
	v, _ := c.Get(key)
	switch v := v.(type) {
	case *Session:
		return v
	case *Manager:
		return v.start(c, false)
	case *endedMarker:
		return v.m.start(c, true)
	}
	panic("ginsession: no session on this route: install the middleware with r.Use(ginsession.New(opts)) " +
		"(or use Manager.Session for a manager with its own ContextKey)")
}
