package ginsession

import (
	"cmp"
	"crypto/subtle"
	"errors"
	"slices"
	"time"

	"github.com/gin-gonic/gin"
)

// "Where you're signed in": with Options.TrackSessions, Login enters each
// new session in its user's list, and an account page lists them
// (Sessions) and ends one (EndSession) or all but the current one
// (EndOtherSessions). An ended session stays ended as a Logout does: its
// record is deleted (buried on a cluster), and a request still using it
// meanwhile cannot bring it back.

var (
	// ErrNotTracked is returned by Sessions, EndSession and
	// EndOtherSessions when Options.TrackSessions is off.
	ErrNotTracked = errors.New("ginsession: sessions are not tracked (set Options.TrackSessions)")

	// ErrUnknownSession is returned by EndSession for a handle that names
	// none of the current user's sessions: forged, another user's, already
	// ended, or sent by an anonymous visitor.
	ErrUnknownSession = errors.New("ginsession: no such session of the current user")
)

// SessionInfo describes one of a user's sessions, for an account page that
// shows where the user is signed in.
type SessionInfo struct {
	// Handle names the session for EndSession. It is opaque and may be put
	// in a page or a form: it is a hash of the session ID, which cannot be
	// turned into a cookie, and only the user's own handles are accepted.
	Handle string
	// Current is set for the session of the request that asked.
	Current bool
	// Device is the browser and operating system of the client that logged
	// in, read from its User-Agent, such as "Firefox on Linux".
	Device string
	// Created is when the session started: its Login.
	Created time.Time
	// LastSeen is when the session was last stored: by a request that
	// changed it or by its idle refresh, so at most a quarter of
	// IdleTimeout before its latest request. For the current session, now.
	LastSeen time.Time
	// Remembered is set for a "remember me" (persistent) session.
	Remembered bool
}

// Sessions returns the current user's sessions that are still alive, the
// current one first and the others most recently seen first; nil for an
// anonymous visitor. A store failure is returned and, while the header is
// unwritten, answered by the ErrorHandler. Each listed session costs one
// memcached read, so call
// it from the account page, not on every request. Sessions that ended
// (expired, evicted, logged out, or ended by a security stamp) are left out
// and dropped from the list. The list is a memcached item like any other:
// if it was evicted, only the sessions started since are listed (and the
// current one).
func Sessions(c *gin.Context) ([]SessionInfo, error) {
	s := Default(c)
	user, current, err := s.trackedIdentity(c)
	if err != nil || user == "" {
		return nil, err
	}
	now := s.m.now()
	var stamp []byte
	here := SessionInfo{Handle: s.m.store.handleOf(current), Current: true, LastSeen: now}
	_ = s.with(func(st *state) {
		here.Created, here.Remembered = time.Unix(st.rec.created, 0), st.rec.persistent
		if st.rec.stamped() {
			stamp = append([]byte(nil), st.rec.stamp[:]...)
		}
	})
	if s.m.opts.UserStamp == nil {
		stamp = nil // every session of the user counts, whatever it recorded
	}
	others, device, err := s.m.store.listSessions(user, current, stamp, now)
	if err != nil {
		s.failed(err)
		return nil, err
	}
	here.Device = cmp.Or(device, describeDevice(s.req.UserAgent()))
	slices.SortStableFunc(others, func(a, b SessionInfo) int { return b.LastSeen.Compare(a.LastSeen) })
	return append([]SessionInfo{here}, others...), nil
}

// EndSession ends the current user's session named by handle (from
// Sessions): it is deleted and leaves the list, and a browser still holding
// its cookie is anonymous from its next request on. Ending the current
// session is a Logout. A handle that names none of the user's sessions
// gets ErrUnknownSession and changes nothing. If memcached cannot delete
// the session it stays as it was: the error is returned and, while the
// header is unwritten, the ErrorHandler answers, so a "signed out" page
// never goes out for a session that still works.
func EndSession(c *gin.Context, handle string) error {
	s := Default(c)
	user, current, err := s.trackedIdentity(c)
	if err != nil {
		return err
	}
	if user == "" {
		return ErrUnknownSession
	}
	if subtle.ConstantTimeCompare([]byte(handle), []byte(s.m.store.handleOf(current))) == 1 {
		return s.Destroy()
	}
	ended, err := s.endTracked(user, func(h string) bool {
		return subtle.ConstantTimeCompare([]byte(h), []byte(handle)) == 1
	})
	if err == nil && ended == 0 {
		return ErrUnknownSession
	}
	return err
}

// EndOtherSessions ends every session of the current user but the current
// one, as EndSession does; nothing for an anonymous visitor. It stops at
// the first session memcached cannot delete and returns the error (the
// ErrorHandler answers); the sessions ended before it stay ended. To end
// sessions the list may have lost (evicted), change the user's security
// stamp instead (Options.UserStamp).
func EndOtherSessions(c *gin.Context) error {
	s := Default(c)
	user, current, err := s.trackedIdentity(c)
	if err != nil || user == "" {
		return err
	}
	own := s.m.store.handleOf(current)
	_, err = s.endTracked(user, func(h string) bool { return h != own })
	return err
}

// trackedIdentity returns the logged-in user and the storage key of the
// current session (user "" for an anonymous visitor), or ErrNotTracked, or
// the store failure that kept the session from loading.
func (s *Session) trackedIdentity(c *gin.Context) (user, key string, err error) {
	if !s.m.opts.TrackSessions {
		return "", "", ErrNotTracked
	}
	if err := s.with(func(*state) {}); err != nil {
		return "", "", err
	}
	if user = userName(c, s); user == "" {
		if p := s.phase(); p == phaseErrorPage || p == phaseFailed { // the stamp lookup failed
			return "", "", errAfterErrorResponse
		}
		return "", "", nil
	}
	_ = s.with(func(st *state) { key = s.m.store.key(&st.ident) })
	return user, key, nil
}

// endTracked ends the sessions of user's list whose handle pick chooses
// and returns how many it ended. A failure fails closed through the
// ErrorHandler.
func (s *Session) endTracked(user string, pick func(handle string) bool) (int, error) {
	ended, err := s.m.store.endSessions(user, s.m.now(), pick)
	if err != nil {
		s.failed(err)
	}
	return ended, err
}

// failed answers a store failure of the session list as one of the
// session's own: observed, and, while the header is unwritten, answered
// by the ErrorHandler, so a page never claims what the store did not do.
func (s *Session) failed(err error) {
	s.m.opts.observeFailure(err)
	s.failUnlocked(err, inHandler)
}

// device describes the request's client for the user's session list, or
// "" when sessions are not tracked.
func (s *Session) device() string {
	if !s.m.opts.TrackSessions {
		return ""
	}
	return describeDevice(s.req.UserAgent())
}
