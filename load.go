package ginsession

import "cmp"

// The session loads lazily: the middleware does no I/O, and the first
// method call reads the cookie and, when it verifies, the stored session.

// with runs fn on the loaded state, under the session's lock, loading it on
// first use. It returns the load error instead when the store failed; the
// first failure while the handler chain runs replaces the response with the
// ErrorHandler's (fail runs it without the lock, so an ErrorHandler may use
// the session).
func (s *Session) with(fn func(st *state)) error {
	s.mu.Lock()
	defer s.mu.Unlock() // also when a custom Client or Logger panics in the load
	if s.st.load == unloaded || s.st.load == stale {
		s.loadLocked()
		if s.st.load == loadFailed {
			s.fail(s.st.loadErr, inHandler)
			return s.st.loadErr
		}
	}
	if s.st.load == loadFailed {
		return s.st.loadErr
	}
	fn(&s.st)
	return nil
}

// loadLocked reads the cookie and, when it verifies, the stored session.
// Forged, malformed and oversized cookies are ignored without any store
// access; a missing, expired or unreadable record gives a fresh session.
// A verified cookie whose record is missing does not end the search: the
// next verified candidate is tried (one store read each, within the
// candidate limit), so a planted cookie of an ended session, sent before
// the real one, cannot make every request anonymous.
func (s *Session) loadLocked() {
	now := s.m.now()
	deadKey := ""         // the first verified cookie's key whose record was missing
	var result LoadResult // what the search found: the session, or why not
	var loadErr error
	loaded := requestCookies(s.req.Header, s.m.opts.CookieName, maxCandidate, func(value string) bool {
		who, ok := s.m.ids.resolve(value)
		if !ok {
			result = cmp.Or(result, LoadBadCookie)
			return false
		}
		cas, found, err := s.m.store.load(&s.st.rec, who.key, now)
		switch {
		case err != nil:
			loadErr = err
			return true
		case found != LoadFound:
			if deadKey == "" {
				deadKey, result = who.key, found // the first verified cookie's reason
			}
			return false
		}
		result = LoadFound
		s.st.startStored(who.id, who.key, cas)
		rec := &s.st.rec
		s.st.ch.refresh = s.m.opts.refreshDue(rec, now) || rec.oldSeal // re-seal with the current secret
		if !who.current {
			s.st.cookie = cookieResign
		}
		return true
	})
	if observe := s.m.opts.Observe; observe != nil && loadErr == nil && result != 0 {
		observe(Event{Kind: EventLoad, Load: result})
	}
	s.m.opts.observeFailure(loadErr)
	switch {
	case loadErr != nil:
		s.st.load, s.st.loadErr = loadFailed, loadErr
	case !loaded:
		s.st.startFresh(now, s.m.opts.Persistent)
		if deadKey != "" {
			s.st.ident.prev, s.st.ident.prevKey = prevDead, deadKey
		}
	}
}
