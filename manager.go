package ginsession

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
)

// Errors returned by Session methods. Store failures are wrapped with
// context ("ginsession: load session: ...") and keep the underlying
// gomemcache error available to errors.Is.
var (
	// ErrTooLarge is returned by Save when the encoded session exceeds
	// Options.MaxSize. Nothing stored changed.
	ErrTooLarge = errors.New("ginsession: session too large")

	// ErrHeaderWritten is returned by Save when the response header was
	// already sent and the session cookie had to change: a new (or
	// regenerated) session is then not stored, since no cookie can point to
	// it; an existing one is stored, but its cookie (SetPersistent, Destroy's
	// expiry) could not be updated.
	ErrHeaderWritten = errors.New("ginsession: response header already written; the session cookie cannot be set")

	// ErrSessionEnded is returned by Save when the stored session was
	// deleted (a logout elsewhere), expired or reached its Lifetime during
	// the request. The changes were discarded rather than bringing the
	// session back; the session now reads as new and empty. The automatic
	// commit treats this as normal and only logs it.
	ErrSessionEnded = errors.New("ginsession: session ended during the request (deleted or expired)")

	// ErrKeyNotFound is returned by Scan for a key the session does not hold.
	ErrKeyNotFound = errors.New("ginsession: key not found")
)

// maxMemcachedRelative is the largest expiration memcached reads as relative
// seconds; larger values are absolute Unix times.
const maxMemcachedRelative = 30 * 24 * 60 * 60

// Manager holds the configuration and the memcached client shared by all
// requests. Create one with NewManager and install its Handler; it is safe
// for concurrent use.
type Manager struct {
	opts    Options
	client  Client
	cookies *cookieCodec
	values  *valueCodec
	now     func() time.Time
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
	return &Manager{
		opts:    o,
		client:  client,
		cookies: newCookieCodec(o.CookieName, o.Secret, o.OldSecrets),
		values:  newValueCodec(),
		now:     time.Now,
		ctxKey:  o.ContextKey,
	}, nil
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
		s := &Session{m: m, c: c, req: c.Request, sending: c.Writer.Written()}
		s.w.ResponseWriter = c.Writer
		s.w.s = s
		c.Writer = &s.w
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

// key returns the memcached key of a session ID.
func (m *Manager) key(id string) string {
	return storageKey(m.opts.KeyPrefix, id)
}

// expiration returns the memcached expiration for a session created at
// created, written now: the idle deadline capped by the absolute lifetime,
// as relative seconds or, beyond 30 days, an absolute Unix time. ok is false
// when the session's lifetime is over.
func (m *Manager) expiration(created int64, now time.Time) (exp int32, ok bool) {
	secs := int64(m.opts.IdleTimeout / time.Second)
	if left := created + int64(m.opts.Lifetime/time.Second) - now.Unix(); left < secs {
		secs = left
	}
	if secs <= 0 {
		return 0, false
	}
	return memcachedExpiration(now, secs), true
}

// memcachedExpiration encodes a lifetime of secs seconds from now as
// memcached expects: relative seconds up to 30 days, an absolute Unix time
// beyond (a relative 31 days would be read as a date in 1970).
func memcachedExpiration(now time.Time, secs int64) int32 {
	if secs > maxMemcachedRelative {
		return int32(min(now.Unix()+secs, math.MaxInt32))
	}
	return int32(secs)
}

// maxClockSkew is how far in the future a stored timestamp may lie (another
// server's clock running ahead); beyond it the record is not trusted, since
// a future creation time would stretch the Lifetime and a persistent
// cookie's Max-Age.
const maxClockSkew = time.Hour

// alive reports whether a stored record is still within its idle timeout
// and lifetime (memcached expires it too; this guards clock skew, the
// memory client and records written under other settings), with plausible
// timestamps.
func (m *Manager) alive(r *record, now time.Time) bool {
	t := now.Unix()
	future := t + int64(maxClockSkew/time.Second)
	return r.created <= future && r.touched <= future &&
		t < r.created+int64(m.opts.Lifetime/time.Second) &&
		t < r.touched+int64(m.opts.IdleTimeout/time.Second)
}

// refreshDue reports whether the idle deadline should be pushed forward:
// at most once per quarter of IdleTimeout.
func (m *Manager) refreshDue(r *record, now time.Time) bool {
	return now.Unix()-r.touched >= int64(m.opts.IdleTimeout/time.Second/4)
}

// load fetches and decodes the session stored under key. It returns
// (nil, 0, nil) when the session does not exist, is expired, or holds bytes
// that are not a valid record (logged); an error only for store failures.
func (m *Manager) load(key string, now time.Time) (*record, uint64, error) {
	item, err := m.client.Get(key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("ginsession: load session: %w", err)
	}
	rec, err := decodeRecord(item.Value)
	if err != nil {
		m.opts.Logger.Warn("ginsession: ignoring unreadable session record; starting a new session", "error", err, "bytes", len(item.Value))
		return nil, 0, nil
	}
	if !m.alive(rec, now) {
		return nil, 0, nil
	}
	return rec, item.CasID, nil
}
