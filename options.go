package ginsession

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
)

// Client is the subset of *memcache.Client that ginsession uses to store
// sessions. A configured *memcache.Client satisfies it, and so does the
// in-process client returned by NewMemoryClient.
//
// Implementations must be safe for concurrent use, must report misses,
// failed adds and CAS conflicts with gomemcache's sentinel errors
// (memcache.ErrCacheMiss, memcache.ErrNotStored, memcache.ErrCASConflict),
// and must not keep the item passed to a write (or its Value) after the
// call returns, as *memcache.Client does not: ginsession reuses both.
type Client interface {
	Get(key string) (*memcache.Item, error)
	Add(item *memcache.Item) error
	Set(item *memcache.Item) error
	CompareAndSwap(item *memcache.Item) error
	Delete(key string) error
	Touch(key string, seconds int32) error
}

// maxKeyPrefix is the longest KeyPrefix: with the 43-byte hashed ID a key
// stays within memcached's 250-byte limit.
const maxKeyPrefix = 200

// Defaults applied by NewManager to zero-valued Options fields.
const (
	DefaultIdleTimeout  = 30 * time.Minute
	DefaultLifetime     = 24 * time.Hour
	DefaultRememberFor  = 30 * 24 * time.Hour
	DefaultStampCheck   = time.Minute
	DefaultCookieName   = "session_id"
	DefaultKeyPrefix    = "ginsession:"
	DefaultLoginURL     = "/login"
	DefaultUserKey      = "user_name"
	DefaultContextKey   = "github.com/ginsession/ginsession"
	DefaultMemcached    = "127.0.0.1:11211"
	DefaultTimeout      = 500 * time.Millisecond
	DefaultMaxIdleConns = 128
	DefaultMaxRetries   = 24
	DefaultDownBackoff  = 5 * time.Second

	// DefaultMaxSize keeps an encoded session, its key and memcached's item
	// header inside memcached's default 1 MiB item limit (-I 1m).
	DefaultMaxSize = 1<<20 - 4<<10

	// MinSecretLength is the shortest Secret (and OldSecrets entry) accepted.
	MinSecretLength = 32
)

// Options configures a Manager. The zero value of every field selects the
// documented default; Secret is the only required field.
type Options struct {
	// Memcached lists the memcached servers ("host:port"). Default
	// {"127.0.0.1:11211"}. Ignored when Client is set. With more than one
	// server, sessions are spread by rendezvous hashing with failover.
	Memcached []string

	// Client is a ready memcached client, such as a configured
	// *memcache.Client or NewMemoryClient(). When nil, one is built from
	// Memcached, Timeout and MaxIdleConns.
	Client Client

	// Secret signs the session cookie with HMAC-SHA256. Required; at least
	// 32 bytes. Keep it out of source control.
	Secret string

	// OldSecrets are still accepted when verifying a cookie, so the Secret
	// can be rotated without logging everyone out. A cookie signed with an
	// old secret is re-signed with Secret by the next request that loads
	// the session.
	OldSecrets []string

	// IdleTimeout ends a browser session after about this long without use.
	// The deadline is pushed forward by a write, at most once per quarter
	// of IdleTimeout (so steady traffic costs no extra round trip): a
	// session ends between 3/4 of IdleTimeout and IdleTimeout after its last
	// request. Default 30 minutes.
	IdleTimeout time.Duration

	// Lifetime ends a session this long after its creation (or after the
	// Login that last gave it a new ID), whatever its activity. Default 24
	// hours.
	Lifetime time.Duration

	// CookieName is the session cookie's name. Default "session_id". For
	// HTTPS sites without a CookieDomain, "__Host-session_id" is stronger:
	// browsers then refuse the same name from sibling subdomains (cookie
	// tossing), so an attacker cannot plant their own session on a visitor.
	CookieName string

	// CookiePath is the cookie's Path attribute. Default "/".
	CookiePath string

	// CookieDomain is the cookie's Domain attribute. Default none (host-only).
	CookieDomain string

	// InsecureCookie leaves out the Secure attribute. Only for plain-HTTP
	// development on hosts other than localhost (browsers treat
	// http://localhost as secure and accept Secure cookies there).
	InsecureCookie bool

	// SameSite is the cookie's SameSite attribute. Default http.SameSiteLaxMode.
	SameSite http.SameSite

	// Persistent makes new sessions "remember me" sessions: they stay valid
	// RememberFor from their creation (or Login), idle or not, and their
	// cookie carries a Max-Age of the time left, so it survives a browser
	// restart. Session.SetPersistent changes it for one session. Without it
	// sessions end after IdleTimeout without use or Lifetime in all, with a
	// browser-session cookie.
	Persistent bool

	// RememberFor is how long a persistent ("remember me") session stays
	// valid from its creation or Login, idle or not; IdleTimeout and
	// Lifetime do not apply to it. Default 30 days. Values beyond 30 days
	// are sent to memcached as absolute times, as its protocol requires.
	RememberFor time.Duration

	// KeyPrefix starts every memcached key. Default "ginsession:".
	KeyPrefix string

	// LoginURL is where Authenticated sends anonymous GET and HEAD requests.
	// Default "/login". A local path, or an absolute http(s) URL
	// ("https://sso.example.com/login"), which then needs PublicURL.
	LoginURL string

	// PublicURL is the site's external base URL ("https://shop.example.com"),
	// from which an absolute LoginURL's next parameter is built. Required
	// with an absolute LoginURL: the request's Host header is chosen by the
	// client, so a forged one would become the return address.
	PublicURL string

	// Unauthenticated answers anonymous visitors of routes guarded by
	// Authenticated. Default: GET and HEAD get 302 Found to LoginURL with
	// next set to the requested URI (made absolute with PublicURL when
	// LoginURL is absolute); other methods get 403 Forbidden with a short
	// "login required" text. The chain is aborted after it.
	Unauthenticated gin.HandlerFunc

	// UserStamp returns the user's current security stamp: a value the
	// application replaces when the user's credentials change or the user
	// asks to "log out everywhere" (a random string it stores with the user,
	// or a hash of the password hash). Login records it in the session; when
	// the logged-in user is read (Authenticated, AuthenticatedFunc, User), a
	// session whose last check is older than StampCheck asks again, and a
	// different stamp ends the session: every other device of that user is
	// logged out within StampCheck. An error fails closed: the ErrorHandler
	// answers. nil (the default) turns the check off at no cost. Only those
	// three read the user through the check: a route that reads UserKey
	// with Get or GetString itself must be behind Authenticated (or call
	// User first) to be covered. A session logged in before the feature was
	// turned on has no stamp and ends at its first check.
	UserStamp func(c *gin.Context, user string) (string, error)

	// StampCheck is how often a session re-checks its user's stamp; between
	// checks there is no lookup. Default 1 minute.
	StampCheck time.Duration

	// UserKey is the session key whose non-empty value means "logged in".
	// Default "user_name".
	UserKey string

	// ContextKey is the gin.Context key the session is stored under. Set a
	// distinct one to run two managers on one route, and fetch that
	// session with Manager.Session.
	ContextKey string

	// Replicas is the number of servers each session is written to when
	// Memcached lists several. Default 1.
	Replicas int

	// MaxSize limits the encoded session in bytes; Save fails with
	// ErrTooLarge beyond it. Default DefaultMaxSize (fits memcached's 1 MiB
	// item limit).
	MaxSize int

	// ErrorHandler writes the response when the session store fails (for
	// example memcached is down) while the header is unwritten: a failed
	// load, the automatic commit, a failed Destroy, a failed Save or Login
	// the handler did not answer itself, or a session over MaxSize
	// (ErrTooLarge). Default: 503 Service Unavailable with a short body,
	// JSON ({"error": "..."}) when the request's Accept header names a JSON
	// type and not text/html, plain text otherwise; and Retry-After except
	// for ErrTooLarge, which a retry cannot fix. The error is recorded with
	// c.Error and logged whatever the handler does.
	ErrorHandler func(c *gin.Context, err error)

	// Logger receives store faults, failed saves and corrupt data. A fault
	// that repeats (an outage) is logged once per 10 seconds with a count of
	// the repeats left out. It never receives session IDs. Default
	// slog.Default().
	Logger *slog.Logger

	// Timeout is the memcached socket read/write timeout of the client built
	// from Memcached. Default 500ms. It bounds each memcached operation, not
	// the request: a write that must re-read and merge, or a Login that adds
	// the new ID and deletes the old one, makes several operations and may
	// wait several Timeouts. A write that timed out may still have been
	// stored (memcached may apply it after the client gave up), so a 503
	// after a write timeout does not prove the change was lost.
	Timeout time.Duration

	// MaxIdleConns is the idle-connection pool size per server of the client
	// built from Memcached. Set it above your peak concurrent requests.
	// Default 128 (gomemcache's own default is 2, which forces a new TCP
	// connection for most concurrent requests).
	MaxIdleConns int

	// MaxRetries bounds the re-read-and-merge attempts after a CAS conflict.
	// Each round lets at least one of the racing requests through, so a
	// fixed group of N requests racing on one session needs at most N
	// attempts. A continuous stream of concurrent writes to one session can
	// still starve one request past the bound: it then fails with the CAS
	// conflict (503 by default) and stores nothing. Default 24.
	MaxRetries int

	// DownBackoff is how long a server that failed is skipped when Memcached
	// lists several servers. Default 5 seconds.
	DownBackoff time.Duration

	// TLS, when set, makes every connection to every Memcached server use
	// TLS with this configuration (memcached -Z, or a managed memcached with
	// in-transit encryption). A client certificate in it authenticates
	// ginsession to a memcached that requires one (ssl_verify_mode=2).
	// With an empty ServerName each server's host name or IP address is
	// verified. A failed handshake fails the operation like any store
	// fault (the ErrorHandler answers); nothing falls back to plain TCP.
	// It configures the client built from Memcached: with Client, set
	// your client's DialContext instead. Default nil: plain TCP.
	TLS *tls.Config

	// Observe, when set, is told about what the sessions do, for metrics:
	// each load and what it found, CAS conflicts and the merges they took,
	// store failures and their kind, regenerations, destroys, security
	// stamp mismatches, and the duration of every memcached call (see
	// Event). It runs synchronously on the request's goroutine, so it must
	// be cheap and must not block: count, and leave the rest to the metrics
	// library. Default nil: nothing is observed and nothing is timed.
	Observe func(Event)

	// TrackSessions keeps, for each user, a list of the sessions Login
	// started (at most MaxTrackedSessions, the oldest dropped), so that an
	// account page can show where the user is signed in (Sessions) and end
	// one of them (EndSession, EndOtherSessions). The list is one sealed
	// record per user in memcached, next to the sessions: a Login and a
	// logout each make one more read and write of it; other requests pay
	// nothing. memcached may evict it like any item: the list then shows
	// fewer sessions (the current one always), and a security stamp
	// (UserStamp) still ends them all. Default false.
	TrackSessions bool
}

// errOption marks Options validation failures.
var errOption = errors.New("ginsession: invalid options")

// withDefaults returns a copy of o with defaults applied, or an error naming
// the field to fix.
func (o Options) withDefaults() (Options, error) {
	bad := func(format string, args ...any) (Options, error) {
		return o, fmt.Errorf("%w: "+format, append([]any{errOption}, args...)...)
	}
	if len(o.Secret) < MinSecretLength {
		return bad("Secret must be at least %d bytes (got %d); generate one with: openssl rand -base64 48", MinSecretLength, len(o.Secret))
	}
	for i, s := range o.OldSecrets {
		if len(s) < MinSecretLength {
			return bad("OldSecrets[%d] must be at least %d bytes", i, MinSecretLength)
		}
	}
	if o.Client != nil && len(o.Memcached) > 0 {
		return bad("set Client or Memcached, not both")
	}
	if o.Client != nil && o.TLS != nil {
		return bad("TLS configures the client built from Memcached; with Client, set its DialContext to a tls.Dialer instead")
	}
	if o.Client == nil && len(o.Memcached) == 0 {
		o.Memcached = []string{DefaultMemcached}
	}
	for i, addr := range o.Memcached {
		if err := checkServer(addr); err != nil {
			return bad("Memcached[%d] %q: %v", i, addr, err)
		}
	}
	if o.IdleTimeout < 0 || o.Lifetime < 0 || o.RememberFor < 0 || o.Timeout < 0 || o.DownBackoff < 0 {
		return bad("IdleTimeout, Lifetime, RememberFor, Timeout and DownBackoff must not be negative")
	}
	if o.StampCheck < 0 {
		return bad("StampCheck must not be negative")
	}
	if o.StampCheck == 0 {
		o.StampCheck = DefaultStampCheck
	}
	if o.RememberFor == 0 {
		o.RememberFor = DefaultRememberFor
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.Lifetime == 0 {
		o.Lifetime = DefaultLifetime
	}
	if o.IdleTimeout < time.Second || o.Lifetime < time.Second || o.RememberFor < time.Second {
		return bad("IdleTimeout, Lifetime and RememberFor must be at least one second (memcached expirations are whole seconds)")
	}
	if o.CookieName == "" {
		o.CookieName = DefaultCookieName
	}
	if !validCookieName(o.CookieName) {
		return bad("CookieName %q is not a valid cookie name", o.CookieName)
	}
	if o.CookiePath == "" {
		o.CookiePath = "/"
	}
	if strings.ContainsAny(o.CookiePath, ";\r\n\x00") {
		return bad("CookiePath must not contain ';' or control characters")
	}
	if o.CookieDomain != "" && !validDomain(o.CookieDomain) {
		return bad("CookieDomain %q is not a domain name", o.CookieDomain)
	}
	if o.SameSite == 0 {
		o.SameSite = http.SameSiteLaxMode
	}
	if o.SameSite < http.SameSiteDefaultMode || o.SameSite > http.SameSiteNoneMode {
		return bad("SameSite %d is not an http.SameSite value", o.SameSite)
	}
	// Cookie name prefixes (RFC 6265bis): browsers reject a "__Secure-"
	// cookie without Secure, and a "__Host-" one unless it is also
	// host-only with Path "/", which is what defeats cookie tossing from
	// sibling subdomains.
	name := strings.ToLower(o.CookieName)
	if (strings.HasPrefix(name, "__secure-") || strings.HasPrefix(name, "__host-")) && o.InsecureCookie {
		return bad("CookieName %q requires Secure cookies; unset InsecureCookie", o.CookieName)
	}
	if strings.HasPrefix(name, "__host-") && (o.CookiePath != "/" || o.CookieDomain != "") {
		return bad("CookieName %q requires CookiePath \"/\" and no CookieDomain", o.CookieName)
	}
	if o.SameSite == http.SameSiteNoneMode && o.InsecureCookie {
		return bad("SameSite=None requires Secure cookies; unset InsecureCookie")
	}
	if o.KeyPrefix == "" {
		o.KeyPrefix = DefaultKeyPrefix
	}
	if len(o.KeyPrefix) > maxKeyPrefix || strings.IndexFunc(o.KeyPrefix, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return bad("KeyPrefix must be at most " + strconv.Itoa(maxKeyPrefix) + " bytes without spaces or control characters")
	}
	if o.LoginURL == "" {
		o.LoginURL = DefaultLoginURL
	}
	absolute, err := checkLoginURL(o.LoginURL)
	if err != nil {
		return bad("LoginURL %q: %v", o.LoginURL, err)
	}
	if o.PublicURL != "" {
		if u, err := url.Parse(o.PublicURL); err != nil || !isHTTPBase(u) {
			return bad("PublicURL %q must be an absolute http(s) URL without query or fragment", o.PublicURL)
		}
		o.PublicURL = strings.TrimSuffix(o.PublicURL, "/")
	}
	if absolute && o.PublicURL == "" {
		return bad("LoginURL %q is absolute: set PublicURL, the site's external base URL, to build its next parameter", o.LoginURL)
	}
	if o.Unauthenticated == nil {
		o.Unauthenticated = loginRequired(o.LoginURL, o.PublicURL)
	}
	if o.UserKey == "" {
		o.UserKey = DefaultUserKey
	}
	if o.ContextKey == "" {
		o.ContextKey = DefaultContextKey
	}
	if o.Replicas < 0 {
		return bad("Replicas must not be negative")
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.Client == nil && o.Replicas > len(o.Memcached) {
		return bad("Replicas (%d) exceeds the number of Memcached servers (%d)", o.Replicas, len(o.Memcached))
	}
	if o.MaxSize < 0 {
		return bad("MaxSize must not be negative")
	}
	if o.MaxSize == 0 {
		o.MaxSize = DefaultMaxSize
	}
	if o.ErrorHandler == nil {
		o.ErrorHandler = defaultErrorHandler
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxIdleConns <= 0 {
		o.MaxIdleConns = DefaultMaxIdleConns
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.DownBackoff == 0 {
		o.DownBackoff = DefaultDownBackoff
	}
	return o, nil
}
