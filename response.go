package ginsession

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
)

// phase is where a session's request is in its response. Only the
// lifecycle code advances it (this file, and the middleware's Handler,
// finish, close and abandon in manager.go), always under the session's
// lock; the response writer reads it without the lock.
type phase uint32

const (
	// phaseOpen: the handler chain runs and the header is unwritten, so a
	// commit may still set the cookie.
	phaseOpen phase = iota
	// phaseHeaderOut: the chain runs and the header went out (or is going
	// out): an existing session is still stored, a new one cannot be.
	phaseHeaderOut
	// phaseErrorPage: the ErrorHandler is replacing the response after a
	// store failure; its writes pass straight through.
	phaseErrorPage
	// phaseFailed: the error response is out. The handler's output is
	// dropped and nothing more is stored: the client was told the request
	// failed. Final.
	phaseFailed
	// phaseFinishing: the chain returned with the header unwritten and the
	// middleware commits; loads in other goroutines no longer answer with
	// the error page.
	phaseFinishing
	// phaseDetached: the middleware returned before the response started.
	// gin may hand the context to another request once the response is
	// done, so only the pre-header hook (an outer middleware writing) may
	// still set the cookie.
	phaseDetached
	// phaseDetachedOut: the middleware returned and the response started:
	// a change is stored only by Save.
	phaseDetachedOut
	// phaseDetachedWarned: phaseDetachedOut, and a change that only Save
	// can store has been logged (once per request).
	phaseDetachedWarned
)

// String returns the phase's name, for test failures and debugging.
func (p phase) String() string {
	return enumName("phase", []string{"phaseOpen", "phaseHeaderOut", "phaseErrorPage", "phaseFailed",
		"phaseFinishing", "phaseDetached", "phaseDetachedOut", "phaseDetachedWarned"}, int(p))
}

// response is the session's hold on its request's response: the hook
// writer installed as c.Writer, and the phase.
type response struct {
	c     *gin.Context // only while the middleware runs: gin recycles it
	w     hookWriter
	phase atomic.Uint32
	// pageDone is closed when the error page of phaseErrorPage is complete.
	pageDone chan struct{}
	// unanswered is a failed Save the handler has not answered yet: if the
	// chain writes nothing, the error page answers it.
	unanswered error
	vary       [1]string // backing for the Vary header this session adds
}

// commitTiming says whether a commit may set the cookie.
type commitTiming uint8

const (
	withCookie    commitTiming = iota // the header is unwritten: set (or expire) the cookie now
	withoutCookie                     // too late for a header: a new session cannot be stored
)

// phase returns the current phase.
func (s *Session) phase() phase { return phase(s.resp.phase.Load()) }

// setPhase moves to p; the caller holds s.mu.
func (s *Session) setPhase(p phase) { s.resp.phase.Store(uint32(p)) }

// saveTiming says whether Save may still set the cookie: only while the
// chain runs and the header has not started out. The pre-header hook
// records a call that sends the header under s.mu, unlike gin's writer
// state, which the handler changes while writing.
func (s *Session) saveTiming() commitTiming {
	if s.phase() == phaseOpen {
		return withCookie
	}
	return withoutCookie
}

// commitLocked writes the session if it changed, was regenerated or is due
// for an idle refresh, then sets or expires the cookie as timing allows. It
// returns ErrHeaderWritten when a new session changed too late to send its
// cookie.
func (s *Session) commitLocked(timing commitTiming) error {
	st := &s.st
	if st.load != loaded {
		return nil
	}
	write := st.needsWrite()
	if !write && (timing != withCookie || st.cookie == cookieKeep) {
		return nil // the common read-only request: not even a clock read
	}
	now := s.m.now()
	if write {
		if st.ident.state != idStored && timing == withoutCookie {
			st.dropChanges(now, s.m.opts.Persistent)
			return ErrHeaderWritten
		}
		if err := s.m.store.save(st, now, s.device()); err != nil {
			s.m.opts.observeFailure(err)
			return err
		}
	}
	if timing == withCookie && st.cookie != cookieKeep {
		s.writeCookie(now)
		st.cookie = cookieKeep
	}
	return nil
}

// beforeHeader commits just before the response header is written, in the
// goroutine writing it, and adds "Vary: Cookie" when the session was used.
// sends tells that the header goes out right after (false for WriteHeader,
// which gin only records). A store failure replaces the response with the
// ErrorHandler's.
func (s *Session) beforeHeader(sends bool) {
	committed := false
	defer func() {
		if !committed { // the commit panicked (a custom Client or Logger)
			s.abandon() // so the recovery's response does not re-enter it
		}
	}()
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.commitBeforeHeader(sends)
	committed = true
	if err != nil {
		s.fail(err, atHeader)
	}
}

// commitBeforeHeader is beforeHeader's commit, under the lock.
func (s *Session) commitBeforeHeader(sends bool) error {
	switch p := s.phase(); {
	case p == phaseOpen && sends:
		s.setPhase(phaseHeaderOut)
	case p == phaseDetached:
		s.setPhase(phaseDetachedOut) // changes after this need Save
	}
	if s.st.load != unloaded {
		s.addVary()
	}
	err := automatic(s.commitLocked(withCookie))
	if err == nil {
		if s.st.load != unloaded && s.setsCookie() {
			s.privateCache(s.resp.w.Header()) // a policy set after an early Save
		}
		return nil
	}
	// The error page answers for these changes: they must not be stored
	// once the response is out (nor the store waited on again).
	s.st.dropChanges(s.m.now(), s.m.opts.Persistent)
	return err
}

// automatic filters a commit error for the automatic commit: a session that
// ended during the request is normal there (the store logged it) and must
// not replace the response.
func automatic(err error) error {
	if errors.Is(err, ErrSessionEnded) {
		return nil
	}
	return err
}

// addVary adds "Vary: Cookie" once: a response that depends on the session
// must not be served to another visitor from a shared cache. The first Vary
// value uses the session's own backing array, saving an allocation.
func (s *Session) addVary() {
	h := s.resp.w.Header()
	old, ok := h["Vary"]
	if !ok {
		s.resp.vary[0] = "Cookie"
		h["Vary"] = s.resp.vary[:]
		return
	}
	for _, v := range old {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Cookie") {
				return
			}
		}
	}
	h["Vary"] = append(old, "Cookie")
}

// writeCookie adds the Set-Cookie header (replacing one this request set
// earlier) and Cache-Control: no-store unless the handler chose a policy.
func (s *Session) writeCookie(now time.Time) {
	o := &s.m.opts
	ck := http.Cookie{
		Name:     o.CookieName,
		Path:     o.CookiePath,
		Domain:   o.CookieDomain,
		HttpOnly: true,
		Secure:   !o.InsecureCookie,
		SameSite: o.SameSite,
	}
	if s.st.cookie == cookieExpire || s.st.ident.id == "" {
		ck.MaxAge = -1
	} else {
		ck.Value = s.m.cookies.encode(s.st.ident.id)
		if s.st.rec.persistent {
			ck.MaxAge = o.cookieMaxAge(&s.st.rec, now)
		}
	}
	h := s.resp.w.Header()
	prefix := o.CookieName + "="
	kept := h["Set-Cookie"][:0]
	for _, v := range h["Set-Cookie"] {
		if !strings.HasPrefix(v, prefix) {
			kept = append(kept, v)
		}
	}
	h["Set-Cookie"] = append(kept, ck.String())
	s.privateCache(h)
}

// setsCookie reports whether the response carries the session cookie.
func (s *Session) setsCookie() bool {
	prefix := s.m.opts.CookieName + "="
	for _, v := range s.resp.w.Header()["Set-Cookie"] {
		if strings.HasPrefix(v, prefix) {
			return true
		}
	}
	return false
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
		s.fail(err, afterResponse)
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
