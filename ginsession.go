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
package ginsession

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Cookie actions decided by a commit.
const (
	cookieNone = iota
	cookieSend
	cookieExpire
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
	mu  sync.Mutex
	m   *Manager
	c   *gin.Context  // only while the middleware runs: gin recycles it
	req *http.Request // the request as the middleware saw it: its cookie
	w   commitWriter

	loaded   bool
	loadErr  error
	isNew    bool   // not found in the store when loaded (or destroyed since)
	id       string // "" until a new session first changes
	stored   bool   // a record exists under key(id)
	casID    uint64
	casValid bool // casID is current (cleared after each write)
	rec      *record
	ch       changes
	oldKey   string // key to delete after a Regenerate is stored
	oldID    string // the ID before Regenerate, restored if storing fails
	oldStart int64  // rec.created before Login restarted it, restored likewise
	cookie   int    // cookieNone, cookieSend or cookieExpire
	refresh  bool   // idle deadline due to be pushed forward
	setErr   error  // values that failed to encode since the last Save
	reported bool   // the load error response was sent
	ending   bool   // finish has begun: loads no longer answer with the error page
	done     bool   // the middleware has finished: only the header hook or Save commits
	sent     bool   // done, and the response had started (or the hook ran since)
	sending  bool   // the header is going out (or went out before the middleware ran)
	failed   bool   // the store error response replaced the handler's
	warned   bool   // a change after done was logged
	keyID    string // the ID whose memcached key is keyVal
	keyVal   string
	vary     [1]string // backing for the Vary header this session adds

	// responding is closed when the error response of a failed load
	// (possibly in another goroutine) is complete; finish waits for it.
	responding chan struct{}
}

// changes are this request's own edits, replayed onto a fresh copy of the
// stored session when a CompareAndSwap conflicts.
type changes struct {
	dirty      bool
	cleared    bool
	edits      []edit // the last set or delete of each key changed
	flashAdded [][]byte
	flashTaken [][]byte
	persistent bool
	remerge    bool // the local record holds failed edits: rebuild from the store
}

// edit is a set (or delete) of one key.
type edit struct {
	key string
	set bool
}

// Default returns the request's session. It panics with a message naming the
// fix when ginsession's middleware is not installed on the route.
func Default(c *gin.Context) *Session {
	return lookup(c, DefaultContextKey)
}

// lookup finds the session stored under key.
func lookup(c *gin.Context, key string) *Session {
	if v, ok := c.Get(key); ok {
		if s, ok := v.(*Session); ok {
			return s
		}
	}
	panic("ginsession: no session on this route: install the middleware with r.Use(ginsession.New(opts)) " +
		"(or use Manager.Session for a manager with its own ContextKey)")
}

// begin locks the session and loads it on first use. It reports whether
// the session is usable; the caller must unlock s.mu either way.
func (s *Session) begin() bool {
	s.mu.Lock()
	if !s.loaded {
		s.loadLocked()
		if s.loadErr != nil && !s.reported {
			s.reported = true
			if s.ending {
				// The response may be over and the gin.Context recycled: the
				// error goes to the caller only.
				s.m.opts.Logger.Error("ginsession: session store failed after its middleware finished", "error", s.loadErr)
				return false
			}
			responded := make(chan struct{}) // finish waits for the error response
			s.responding = responded
			s.mu.Unlock()
			func() {
				defer func() { // relocked even if the ErrorHandler panics
					s.mu.Lock()
					s.responding = nil
					close(responded)
				}()
				s.respondError(s.loadErr)
			}()
		}
	}
	return s.loadErr == nil
}

// loadLocked reads the cookie and, when it verifies, the stored session.
func (s *Session) loadLocked() {
	s.loaded = true
	now := s.m.now()
	id, current, ok := s.cookieID()
	if ok {
		rec, cas, err := s.m.load(s.key(id), now)
		if err != nil {
			s.loadErr = err
			s.m.opts.Logger.Warn("ginsession: session store unavailable", "error", err)
			s.rec = s.m.freshRecord(now)
			return
		}
		if rec != nil {
			s.id, s.stored, s.casID, s.casValid, s.rec = id, true, cas, true, rec
			s.refresh = s.m.refreshDue(rec, now)
			if !current {
				s.cookie = cookieSend // re-sign with the current secret
			}
			return
		}
	}
	s.isNew = true
	s.rec = s.m.freshRecord(now)
}

// cookieID returns the ID of the first of our cookies that verifies. Forged,
// malformed and oversized cookies are ignored without any store access.
func (s *Session) cookieID() (id string, current, ok bool) {
	ok = requestCookies(s.req.Header, s.m.opts.CookieName, maxCandidate, func(value string) bool {
		var valid bool
		id, current, valid = s.m.cookies.decode(value)
		return valid
	})
	return id, current, ok
}

// freshRecord returns an empty session record created now.
func (m *Manager) freshRecord(now time.Time) *record {
	t := now.Unix()
	return &record{created: t, touched: t, persistent: m.opts.Persistent}
}

// addVary adds "Vary: Cookie" once: a response that depends on the session
// must not be served to another visitor from a shared cache. The first Vary
// value uses the session's own backing array, saving an allocation.
func (s *Session) addVary(h http.Header) {
	old, ok := h["Vary"]
	if !ok {
		s.vary[0] = "Cookie"
		h["Vary"] = s.vary[:]
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

// respondError replaces the response with the ErrorHandler's when the
// header is still unwritten, and aborts the rest of the chain unless it
// has already run (finish is waiting for this response).
func (s *Session) respondError(err error) {
	c := s.c
	if s.w.mode != modeHook || s.w.Written() {
		_ = c.Error(err)
		s.m.opts.Logger.Error("ginsession: session store failed after the response started", "error", err)
		return
	}
	s.mu.Lock()
	s.addVary(s.w.Header()) // an ErrorHandler may send a cacheable page
	chainRan := s.ending
	s.failed = true
	s.mu.Unlock()
	s.w.mode = modePassthrough
	s.m.opts.ErrorHandler(c, err)
	s.w.mode = modeDiscard
	if !chainRan {
		c.Abort()
	}
}

// touch marks the session changed and gives a new session its ID.
func (s *Session) touch() {
	if s.done && !s.warned && s.late() {
		s.warned = true
		s.m.opts.Logger.Warn("ginsession: session changed after its middleware finished and the response started; call Save to store the change")
	}
	s.ch.dirty = true
	if s.id == "" {
		s.id = newID()
		s.cookie = cookieSend
	}
}

// ID returns the session ID: "" for a new session that has not changed yet.
// Treat it as a secret: it is the bearer credential in the cookie.
func (s *Session) ID() string {
	defer s.mu.Unlock()
	s.begin()
	return s.id
}

// IsNew reports whether the session was created by this request (there was
// no valid cookie, the stored session had expired, or it was destroyed).
func (s *Session) IsNew() bool {
	defer s.mu.Unlock()
	s.begin()
	return s.isNew
}

// raw returns the stored bytes for key.
func (s *Session) raw(key string) ([]byte, bool) {
	defer s.mu.Unlock()
	if !s.begin() {
		return nil, false
	}
	return s.rec.get(key)
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
	defer s.mu.Unlock()
	if !s.begin() {
		return
	}
	if err != nil {
		err = fmt.Errorf("ginsession: set %q: %w", key, err)
		s.m.opts.Logger.Warn("ginsession: value not stored", "key", key, "error", err)
		s.setErr = errors.Join(s.setErr, err)
		return
	}
	if old, ok := s.rec.get(key); ok && string(old) == string(raw) {
		return
	}
	s.rec.set(key, raw)
	s.ch.mark(key, true)
	s.touch()
}

// mark records a set (or delete) of key. A request changes few keys, so a
// slice searched linearly beats a map here.
func (ch *changes) mark(key string, set bool) {
	for i := range ch.edits {
		if ch.edits[i].key == key {
			ch.edits[i].set = set
			return
		}
	}
	ch.edits = append(ch.edits, edit{key: key, set: set})
}

// Delete removes key.
func (s *Session) Delete(key string) {
	defer s.mu.Unlock()
	if !s.begin() {
		return
	}
	if _, ok := s.rec.get(key); !ok {
		return
	}
	s.rec.del(key)
	s.ch.mark(key, false)
	s.touch()
}

// Clear removes every key and pending flash message.
func (s *Session) Clear() {
	defer s.mu.Unlock()
	if !s.begin() || (s.rec.count() == 0 && len(s.rec.flashes) == 0) {
		return
	}
	s.takeFlashes()
	s.rec.clearValues()
	s.rec.flashes = nil
	s.ch.cleared = true
	s.ch.edits, s.ch.flashAdded = nil, nil
	s.touch()
}

// Has reports whether key is set.
func (s *Session) Has(key string) bool {
	_, ok := s.raw(key)
	return ok
}

// Keys returns the session's keys in sorted order.
func (s *Session) Keys() []string {
	defer s.mu.Unlock()
	if !s.begin() {
		return nil
	}
	keys := make([]string, 0, s.rec.count())
	for k := range s.rec.all() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Scan decodes the value for key into dst, a non-nil pointer of any type:
// structs (msgpack or json tags), slices, maps, scalars. It returns
// ErrKeyNotFound when key is not set.
func (s *Session) Scan(key string, dst any) error {
	raw, ok := s.raw(key)
	if !ok {
		return fmt.Errorf("ginsession: scan %q: %w", key, ErrKeyNotFound)
	}
	if err := s.m.values.scan(raw, dst); err != nil {
		return fmt.Errorf("ginsession: scan %q: %w", key, err)
	}
	return nil
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
	defer s.mu.Unlock()
	if !s.begin() {
		return
	}
	if err != nil {
		err = fmt.Errorf("ginsession: add flash: %w", err)
		s.m.opts.Logger.Warn("ginsession: flash not stored", "error", err)
		s.setErr = errors.Join(s.setErr, err)
		return
	}
	s.rec.flashes = append(s.rec.flashes, raw)
	s.ch.flashAdded = append(s.ch.flashAdded, raw)
	s.touch()
}

// Flashes returns the queued flash messages, oldest first, and removes them.
func (s *Session) Flashes() []any {
	defer s.mu.Unlock()
	if !s.begin() || len(s.rec.flashes) == 0 {
		return nil
	}
	out := make([]any, 0, len(s.rec.flashes))
	for _, raw := range s.rec.flashes {
		if v, err := decodeValue(raw); err == nil {
			out = append(out, v)
		}
	}
	s.takeFlashes()
	s.touch()
	return out
}

// takeFlashes removes all flashes: those stored before this request are
// recorded as consumed, those added in it are simply dropped.
func (s *Session) takeFlashes() {
	stored := max(len(s.rec.flashes)-len(s.ch.flashAdded), 0)
	s.ch.flashTaken = append(s.ch.flashTaken, s.rec.flashes[:stored]...)
	s.ch.flashAdded = nil
	s.rec.flashes = nil
}

// SetPersistent turns "remember me" on or off for this session: a
// persistent session's cookie carries Max-Age (until the session's Lifetime
// ends) and survives a browser restart; otherwise it is a browser-session
// cookie. The idle timeout applies either way.
func (s *Session) SetPersistent(on bool) {
	defer s.mu.Unlock()
	if !s.begin() || s.rec.persistent == on {
		return
	}
	s.rec.persistent = on
	s.ch.persistent = true
	s.cookie = cookieSend
	s.touch()
}

// Save stores the session now and returns any error, for handlers that must
// know (the session is otherwise saved automatically). An error belongs to
// the caller: the automatic commit does not retry or report those changes
// again. Values that failed to encode in Set are reported here too, after
// the other changes are stored. ErrSessionEnded means the session was
// deleted or expired meanwhile (a logout in another tab); ErrHeaderWritten
// that the cookie had to change after the header went out (see its doc).
func (s *Session) Save() error {
	defer s.mu.Unlock()
	if !s.begin() {
		return s.loadErr
	}
	if s.failed { // the client was told the request failed: store nothing more
		s.dropChanges()
		return errAfterErrorResponse
	}
	timing := s.saveTiming()
	// A cookie change the handler asked for (not a re-signing with the
	// current secret, which can wait for the next response).
	cookieChange := s.cookie == cookieExpire || (s.cookie == cookieSend && s.ch.persistent)
	err := s.commitLocked(timing)
	if err != nil && !errors.Is(err, ErrSessionEnded) {
		s.dropChanges()
	}
	if err == nil && timing == cookieNever && cookieChange {
		s.cookie = cookieNone
		err = ErrHeaderWritten // stored, but the cookie change cannot go out
	}
	err = errors.Join(err, s.setErr)
	s.setErr = nil
	return err
}

// errAfterErrorResponse is returned by Save once the store error response
// has replaced the handler's.
var errAfterErrorResponse = fmt.Errorf("ginsession: session not saved: the store error response was already sent (%w)", ErrHeaderWritten)

// saveTiming says whether Save may still set the cookie. While the
// middleware runs, the header goes out through the pre-header hook, so the
// hook's own record of a call that sends it (kept under s.mu, unlike gin's
// writer state, which the handler changes while writing) tells whether the
// header is still to come. The exceptions are writes that bypass c.Writer:
// the store error page (Save checks failed first), a writer taken with
// Unwrap, and engine.HandleContext, which resets c.Writer. Once the
// middleware has finished, the response may already belong to another
// request (gin recycles it), and the header may go out without the hook
// (gin writes it itself after the chain): Save then never sets a cookie.
func (s *Session) saveTiming() int {
	if !s.done && !s.sending {
		return cookieNow
	}
	return cookieNever
}

// late reports, once the middleware has finished, whether the response
// has started or the request is over, so no pre-header hook will run.
func (s *Session) late() bool {
	return s.sent || s.req.Context().Err() != nil
}

// dropChanges forgets this request's pending edits after a failed Save, so
// the automatic commit rebuilds from the store instead of retrying them.
func (s *Session) dropChanges() {
	if s.oldKey != "" { // a failed Regenerate: keep the old session and cookie
		s.id, s.stored, s.oldKey, s.oldID, s.cookie = s.oldID, true, "", "", cookieNone
		s.rec.created = s.oldStart
	}
	s.ch = changes{remerge: s.stored}
	if !s.stored {
		// A new session that failed to store starts over.
		s.rec = s.m.freshRecord(s.m.now())
		if s.cookie == cookieSend && s.oldKey == "" {
			s.id, s.cookie = "", cookieNone
		}
	}
}

// Regenerate gives the session a new ID, keeping its data, and makes the old
// ID useless: call it at login (Login does) to defeat session fixation. The
// new record is stored and the old one deleted at commit. The absolute
// Lifetime still counts from the session's creation (Login restarts it).
func (s *Session) Regenerate() error {
	return s.regenerate(false)
}

// regenerate implements Regenerate; restart makes the absolute Lifetime
// count from now, as for a login.
func (s *Session) regenerate(restart bool) error {
	defer s.mu.Unlock()
	if !s.begin() {
		return s.loadErr
	}
	if s.stored {
		s.oldKey, s.oldID = s.key(s.id), s.id
		s.stored, s.casValid = false, false
	}
	s.oldStart = s.rec.created
	if restart {
		s.rec.created = s.m.now().Unix()
	}
	s.id = ""
	s.ch.remerge = false
	s.touch()
	return nil
}

// Destroy deletes the session from memcached now, empties it and expires
// the cookie (logout). A later Set in the same request starts a fresh
// session with a new ID.
func (s *Session) Destroy() error {
	defer s.mu.Unlock()
	if !s.begin() {
		return s.loadErr
	}
	for _, key := range []string{s.oldKey, s.storedKey()} {
		if key == "" {
			continue
		}
		if err := s.m.client.Delete(key); err != nil && !isMiss(err) {
			return fmt.Errorf("ginsession: destroy session: %w", err)
		}
	}
	s.id, s.stored, s.casValid, s.oldKey, s.refresh = "", false, false, "", false
	s.isNew = true
	s.rec = s.m.freshRecord(s.m.now())
	s.ch = changes{}
	s.cookie = cookieExpire
	return nil
}

// key returns the memcached key of id. It remembers the last key computed:
// a request needs the same one to load and to write.
func (s *Session) key(id string) string {
	if s.keyVal == "" || id != s.keyID {
		s.keyID, s.keyVal = id, s.m.key(id)
	}
	return s.keyVal
}

// storedKey returns the key of the stored record, or "".
func (s *Session) storedKey() string {
	if !s.stored {
		return ""
	}
	return s.key(s.id)
}

// beforeHeader commits just before the response header is written, in the
// goroutine writing it, and adds "Vary: Cookie" when the session was used.
// A store failure replaces the response with the ErrorHandler's.
func (s *Session) beforeHeader(sends bool) {
	// Passthrough while committing: if the commit panics (a custom Client
	// or Logger), a recovery middleware's error response must not re-enter
	// it.
	s.w.mode = modePassthrough
	err := s.commitBeforeHeader(sends)
	s.w.mode = modeHook
	if err != nil {
		// The error page answers for these changes: the middleware must not
		// store them once the response is out (nor wait on the store again).
		s.mu.Lock()
		s.dropChanges()
		s.refresh = false
		s.mu.Unlock()
		s.respondError(err)
	}
}

// commitBeforeHeader adds "Vary: Cookie" to a used session's response and
// commits with the cookie. sends tells that the header goes out right after.
func (s *Session) commitBeforeHeader(sends bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = s.done // a late hook: changes after this need Save
	s.sending = s.sending || sends
	if s.loaded {
		s.addVary(s.w.Header())
	}
	return automatic(s.commitLocked(cookieNow))
}

// abandon drops every change not yet stored when the handler chain
// panicked and marks the session finished. The session goes back to its
// unloaded state, so a recovery middleware that reads it sees what is
// stored, and no cookie goes out with its error page.
func (s *Session) abandon() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ending, s.done = true, true
	s.loaded, s.loadErr, s.isNew = false, nil, false
	s.id, s.stored, s.casID, s.casValid, s.rec = "", false, 0, false, nil
	s.ch, s.oldKey, s.oldID, s.cookie, s.refresh, s.setErr = changes{}, "", "", cookieNone, false, nil
}

// finish runs after the handler chain: it commits what is still pending.
// It first waits for an error response that a load in another goroutine
// may be writing, and stops later loads from writing one.
func (s *Session) finish() {
	s.mu.Lock()
	s.ending = true
	responding := s.responding
	s.mu.Unlock()
	if responding != nil {
		<-responding
	}
	if s.w.mode == modeHook && !s.w.Written() {
		s.beforeHeader(false) // gin (or an outer middleware) sends it later
	}
	if err := s.close(); err != nil {
		_ = s.c.Error(err)
		s.m.opts.Logger.Error("ginsession: session not saved after the response was sent", "error", err)
	}
}

// close marks the middleware finished and commits what changed after the
// response started (the cookie can no longer be sent). After an error
// response nothing more is stored: the client was told the request failed.
func (s *Session) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	s.sent = s.w.mode != modeHook || s.w.Written()
	if s.failed {
		if s.ch.dirty {
			s.m.opts.Logger.Warn("ginsession: session changed after the store error response; the change was not stored")
		}
		return nil
	}
	if !s.sent {
		return nil
	}
	return automatic(s.commitLocked(cookieNever))
}

// automatic filters a commit error for the automatic commit: a session that
// ended during the request is normal there (forget logged it) and must not
// replace the response.
func automatic(err error) error {
	if errors.Is(err, ErrSessionEnded) {
		return nil
	}
	return err
}
