// Package ginsession provides server-side sessions for the Gin web
// framework, stored in memcached and encoded with msgpack, with an
// Authenticated middleware that sends anonymous visitors to the login page.
//
// Install the middleware once and use the session from any handler:
//
//	r := gin.New()
//	r.Use(ginsession.New(ginsession.Options{Secret: os.Getenv("SESSION_SECRET")}))
//	r.POST("/login", func(c *gin.Context) {
//		// ... check the password ...
//		if err := ginsession.Login(c, name); err != nil { // new session ID, user stored
//			return
//		}
//		c.Redirect(http.StatusSeeOther, ginsession.NextURL(c, "/"))
//	})
//	private := r.Group("/", ginsession.Authenticated())
//	private.GET("/", func(c *gin.Context) {
//		c.String(http.StatusOK, "Hello, %s", ginsession.User(c))
//	})
//
// Sessions load lazily (a route that never calls Default costs nothing) and
// are saved automatically just before the response header is written; Save
// is there for handlers that want the error. Values of any msgpack-encodable
// type are stored without registration. The cookie carries only a random
// 256-bit ID and its HMAC-SHA256 tag; memcached keys are hashes of the ID.
// Concurrent requests on one session are merged key by key with CAS.
//
// Security stamps (Options.UserStamp) log a user out everywhere; with
// Options.TrackSessions, Sessions lists where the user is signed in and
// EndSession signs out one device.
package ginsession

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/gin-gonic/gin"
)

// Session is one request's view of a server-side session. Get it with
// Default. The first method call loads it from memcached; if the store
// fails, the response is replaced with Options.ErrorHandler's (503 by
// default), the session reads as empty and nothing is written back. Its
// methods may be called from goroutines the handler starts and waits for,
// once the handler itself has used the session.
//
// Once ginsession's middleware has finished, the session no longer touches
// the response on its own, since gin may already have handed it to another
// request. A middleware installed before ginsession may still change the
// session: the change is stored if that middleware then writes the response
// (the pre-header hook runs), or by Save, which stores an existing session
// but returns ErrHeaderWritten for a new or regenerated one, whose cookie it
// can no longer send. A change that neither stores is logged once the
// response has started or the request is over, and a store failure is only
// returned to the caller. The same holds for a goroutine that keeps the
// session past its request: it reads and saves its own visitor's session.
// A Save that must set the cookie (a new or regenerated session) writes the
// response header: from another goroutine, call it while the handler is not
// writing the response.
type Session struct {
	mu   sync.Mutex
	m    *Manager
	req  *http.Request // the request as the middleware saw it: its cookie
	st   state         // the session's data and identity (state.go)
	resp response      // the session's hold on the response (response.go)
}

// Default returns the request's session. The first call on a request makes
// it (the middleware only prepares it), so make that call in the handler's
// own goroutine, before starting goroutines that use the session; a
// c.Copy() taken before then gets a detached view that never touches the
// response. It panics with a message naming the fix when ginsession's
// middleware is not installed on the route.
func Default(c *gin.Context) *Session {
	return lookup(c, DefaultContextKey)
}

// changed gives a new session its ID at its first change and, once the
// middleware finished and the response started, logs (once per request)
// that only Save can still store the change.
func (s *Session) changed() {
	s.st.giveID(newID)
	if p := s.phase(); p == phaseDetachedOut || (p == phaseDetached && s.req.Context().Err() != nil) {
		s.setPhase(phaseDetachedWarned)
		s.m.opts.Logger.Warn("ginsession: session changed after its middleware finished and the response started; call Save to store the change")
	}
}

// ID returns the session ID: "" for a new session that has not changed yet.
// Treat it as a secret: it is the bearer credential in the cookie.
func (s *Session) ID() (id string) {
	_ = s.with(func(st *state) { id = st.ident.id })
	return id
}

// IsNew reports whether the session was created by this request (there was
// no valid cookie, the stored session had expired, or it was destroyed).
func (s *Session) IsNew() (isNew bool) {
	_ = s.with(func(st *state) { isNew = st.isNew })
	return isNew
}

// raw returns the stored bytes for key.
func (s *Session) raw(key string) (raw []byte, ok bool) {
	_ = s.with(func(st *state) { raw, ok = st.rec.get(key) })
	return raw, ok
}

// Get returns the value for key, or nil. Values come back with the same
// dynamic type before and after a round trip through memcached: integers as
// int64 (uint64 above MaxInt64), floats as float64, strings, []byte,
// time.Time, []any, and map[string]any for maps and structs (use Scan to get
// a struct back).
func (s *Session) Get(key string) any {
	raw, ok := s.raw(key)
	if !ok {
		return nil
	}
	return s.decode(key, raw)
}

// decode decodes the stored bytes of key, logging (and returning nil for)
// bytes that are not a readable value.
func (s *Session) decode(key string, raw []byte) any {
	v, err := decodeValue(raw)
	if err != nil {
		s.m.opts.Logger.Warn("ginsession: unreadable session value", "key", key, "error", err)
		return nil
	}
	return v
}

// Set stores value under key. The value is encoded with msgpack now, so a
// value that cannot be encoded fails here: the key keeps its old value, the
// failure is logged and Save returns an error naming the key. Setting a key
// to the value it already holds changes nothing.
func (s *Session) Set(key string, value any) {
	raw, err := s.m.values.encode(value)
	if err != nil {
		s.encodeFailed(fmt.Errorf("ginsession: set %q: %w", key, err))
		return
	}
	_ = s.with(func(st *state) {
		if st.set(key, raw) {
			s.changed()
		}
	})
}

// encodeFailed logs a value that could not be encoded and keeps the error
// for Save.
func (s *Session) encodeFailed(err error) {
	_ = s.with(func(st *state) {
		s.m.opts.Logger.Warn("ginsession: value not stored", "error", err)
		st.encodeErr = errors.Join(st.encodeErr, err)
	})
}

// Delete removes key.
func (s *Session) Delete(key string) {
	_ = s.with(func(st *state) {
		if st.del(key) {
			s.changed()
		}
	})
}

// Clear removes every key and pending flash message.
func (s *Session) Clear() {
	_ = s.with(func(st *state) {
		if st.clear() {
			s.changed()
		}
	})
}

// Has reports whether key is set.
func (s *Session) Has(key string) bool {
	_, ok := s.raw(key)
	return ok
}

// Keys returns the session's keys in sorted order.
func (s *Session) Keys() (keys []string) {
	_ = s.with(func(st *state) {
		keys = make([]string, 0, st.rec.count())
		for k := range st.rec.all() {
			keys = append(keys, k)
		}
	})
	slices.Sort(keys)
	return keys
}

// Scan decodes the value for key into dst, a non-nil pointer of any type:
// structs (msgpack or json tags), slices, maps, scalars. It returns
// ErrKeyNotFound when key is not set, and an error wrapping ErrTypeMismatch
// when the value does not fit dst (including an integer out of range).
// GetAs is the generic form.
func (s *Session) Scan(key string, dst any) error {
	return s.read(key, dst)
}

// Pop returns the value for key and deletes it.
func (s *Session) Pop(key string) any {
	v := s.Get(key)
	s.Delete(key)
	return v
}

// AddFlash queues a one-time message, returned by a later Flashes call
// (typically on the next page). Encoding failures are handled as in Set.
func (s *Session) AddFlash(value any) {
	raw, err := s.m.values.encode(value)
	if err != nil {
		s.encodeFailed(fmt.Errorf("ginsession: add flash: %w", err))
		return
	}
	_ = s.with(func(st *state) {
		st.addFlash(raw)
		s.changed()
	})
}

// Flashes returns the queued flash messages, oldest first, and removes them.
func (s *Session) Flashes() []any {
	var taken [][]byte
	_ = s.with(func(st *state) {
		if len(st.rec.flashes) == 0 {
			return
		}
		taken = st.takeFlashes()
		s.changed()
	})
	if len(taken) == 0 {
		return nil
	}
	out := make([]any, 0, len(taken))
	for _, raw := range taken {
		if v, err := decodeValue(raw); err == nil {
			out = append(out, v)
		}
	}
	return out
}

// SetPersistent turns "remember me" on or off for this session. A
// persistent session stays valid Options.RememberFor from its creation (or
// Login, which is when to call this), idle or not, and its cookie carries a
// Max-Age of the time left, so it survives a browser restart. Otherwise the
// session ends after IdleTimeout without use or Lifetime in all, and its
// cookie ends with the browser session.
//
// Turning it off on a remembered session keeps the visitor logged in as a
// browser session: its Lifetime then runs from now, but never past the end
// its remember-me period promised.
func (s *Session) SetPersistent(on bool) {
	_ = s.with(func(st *state) {
		if !st.setPersistent(on) {
			return
		}
		if !on {
			st.rec.created = s.m.opts.forgottenStart(st.rec.created, s.m.now())
		}
		s.changed()
	})
}

// Save stores the session now and returns any error, for handlers that must
// know (the session is otherwise saved automatically). An error belongs to
// the caller: the automatic commit does not retry or report those changes
// again. Values that failed to encode in Set are reported here too, after
// the other changes are stored. ErrSessionEnded means the session was
// deleted or expired meanwhile (a logout in another tab); ErrHeaderWritten
// that the cookie had to change after the header went out (see its doc).
func (s *Session) Save() error {
	var err error
	if loadErr := s.with(func(st *state) { err = s.saveLocked(st) }); loadErr != nil {
		return loadErr
	}
	return err
}

// saveLocked implements Save with the session locked.
func (s *Session) saveLocked(st *state) error {
	encodeErr := st.encodeErr
	st.encodeErr = nil
	if p := s.phase(); p == phaseErrorPage || p == phaseFailed { // the client is told the request failed: store nothing more
		st.dropChanges(s.m.now(), s.m.opts.Persistent)
		return errors.Join(errAfterErrorResponse, encodeErr)
	}
	timing := s.saveTiming()
	// A cookie change the handler asked for (not a re-signing with the
	// current secret, which can wait for the next response).
	cookieChange := st.cookie == cookieExpire || st.cookie == cookieSend
	err := s.commitLocked(timing)
	if err != nil && !errors.Is(err, ErrSessionEnded) {
		st.dropChanges(s.m.now(), s.m.opts.Persistent)
		if !errors.Is(err, ErrHeaderWritten) {
			s.fail(err, inSave)
		}
	}
	if err == nil && timing == withoutCookie && cookieChange {
		st.cookie = cookieKeep
		err = ErrHeaderWritten // stored, but the cookie change cannot go out
	}
	return errors.Join(err, encodeErr)
}

// Regenerate gives the session a new ID, keeping its data, and makes the old
// ID useless: call it at login (Login does) to defeat session fixation. The
// new record is stored and the old one deleted at commit. The absolute
// Lifetime still counts from the session's creation (Login restarts it).
func (s *Session) Regenerate() error {
	return s.with(func(st *state) {
		st.regenerate(newID, 0)
		s.changed()
	})
}

// login regenerates the session for a login: the absolute Lifetime counts
// from now, flush (another user was logged in) empties the data, the
// flashes and the persistence first, and stamp (nil when UserStamp is off)
// is recorded as the user's security stamp.
func (s *Session) login(flush bool, stamp []byte) error {
	return s.with(func(st *state) {
		if flush {
			st.clear()
			st.setPersistent(s.m.opts.Persistent)
		}
		now := s.m.now().Unix()
		st.regenerate(newID, now)
		st.setGuard(stamp, now)
		s.changed()
	})
}

// Destroy deletes the session from memcached now, empties it and expires
// the cookie (logout). A later Set in the same request starts a fresh
// session with a new ID.
//
// If memcached cannot delete it, the session still works: Destroy returns
// the error and, while the header is unwritten, the ErrorHandler's response
// replaces the handler's, so a "logged out" page never goes out for a
// session that is still alive, whether or not the handler checks the error.
func (s *Session) Destroy() error {
	var err error
	if loadErr := s.with(func(st *state) {
		if err = s.m.store.remove(st, s.m.now()); err == nil {
			st.destroyed(s.m.now(), s.m.opts.Persistent)
		}
	}); loadErr != nil {
		return loadErr
	}
	if err != nil {
		s.m.opts.observeFailure(err)
		s.failUnlocked(err, inHandler)
	} else if observe := s.m.opts.Observe; observe != nil {
		observe(Event{Kind: EventDestroy})
	}
	return err
}
