package ginsession

import (
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"
)

// Manager holds the configuration and the memcached client shared by all
// requests. Create one with NewManager and install its Handler; it is safe
// for concurrent use.
type Manager struct {
	opts    Options
	store   store
	cookies *cookieCodec
	values  *valueCodec
	now     func() time.Time
	faults  *faultLog
	ctxKey  any // opts.ContextKey, boxed once so c.Set does not allocate
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
	m := &Manager{
		opts:    o,
		cookies: newCookieCodec(o.CookieName, o.Secret, o.OldSecrets),
		values:  newValueCodec(),
		now:     time.Now,
		ctxKey:  o.ContextKey,
	}
	m.store = store{client: client, opts: &m.opts, records: newRecordSealer(o.Secret, o.OldSecrets)}
	m.faults = newFaultLog(o.Logger, func() time.Time { return m.now() })
	return m, nil
}

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

// Handler returns the middleware that attaches a lazily loaded Session to
// each request and commits it just before the response header is written.
// It does no I/O itself: a route that never touches the session costs no
// memcached round trip. When the handler chain panics, the request's
// unsaved changes are dropped (as Django and Rails do): a recovery
// middleware installed before ginsession then sends its error page without
// storing a half-made change or a new session's cookie.
func (m *Manager) Handler() gin.HandlerFunc {
	return func(c *gin.Context) {
		s := &Session{m: m, req: c.Request}
		s.resp.c = c
		s.resp.w = hookWriter{ResponseWriter: c.Writer, s: s}
		if c.Writer.Written() { // an outer middleware sent the header
			s.setPhase(phaseHeaderOut)
		}
		c.Writer = &s.resp.w
		c.Set(m.ctxKey, s)
		finished := false
		defer func() {
			if !finished { // a panic (or Goexit) unwinds through here
				s.abandon()
			}
		}()
		c.Next()
		s.finish()
		finished = true
	}
}

// Session returns the request's session for this manager. Use it instead of
// Default when the manager has its own Options.ContextKey. It panics, like
// Default, when the manager's Handler is not installed on the route.
func (m *Manager) Session(c *gin.Context) *Session {
	return lookup(c, m.opts.ContextKey)
}

// finish runs after the handler chain: it commits what is still pending.
// It first waits for an error response that a load in another goroutine
// may be writing, and stops later loads from writing one.
func (s *Session) finish() {
	s.mu.Lock()
	s.waitErrorPageLocked()
	if s.phase() == phaseOpen {
		s.setPhase(phaseFinishing)
	}
	s.mu.Unlock()
	if s.phase() == phaseFinishing && !s.resp.w.Written() && !s.answerUnanswered() {
		s.beforeHeader(false) // gin (or an outer middleware) sends it later
	}
	s.close()
}

// close marks the middleware finished and commits what changed after the
// response started (the cookie can no longer be sent). After an error
// response nothing more is stored: the client was told the request failed.
func (s *Session) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.phase() {
	case phaseFailed:
		if s.st.ch.edited() {
			s.m.opts.Logger.Warn("ginsession: session changed after the store error response; the change was not stored")
		}
		return
	case phaseFinishing:
		if !s.resp.w.Written() {
			s.setPhase(phaseDetached)
			return
		}
	}
	s.setPhase(phaseDetachedOut)
	if err := automatic(s.commitLocked(withoutCookie)); err != nil {
		_ = s.resp.c.Error(err)
		s.m.faults.log(slog.LevelError, "ginsession: session not saved after the response was sent", err)
	}
}

// abandon drops every change not yet stored when the handler chain
// panicked and marks the session finished. The session goes back to its
// unloaded state, so a recovery middleware that reads it sees what is
// stored, and no cookie goes out with its error page.
func (s *Session) abandon() {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch p := s.phase(); {
	case p == phaseFailed || p >= phaseDetachedOut:
	case s.resp.w.Written():
		s.setPhase(phaseDetachedOut)
	default:
		s.setPhase(phaseDetached)
	}
	s.st = state{}
}
