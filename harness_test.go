package ginsession

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
)

func init() { gin.SetMode(gin.TestMode) }

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

// backend is a store the behavioural tests run against.
type backend struct {
	name   string
	client func(t testing.TB) Client
}

// backends returns the real memcached and the memory client, so every
// behaviour is checked on both.
func backends() []backend {
	return []backend{
		{"memcached", func(t testing.TB) Client {
			c := memcache.New(requireMemcached(t))
			c.MaxIdleConns = 32
			return c
		}},
		{"memory", func(testing.TB) Client { return NewMemoryClient() }},
	}
}

// forEachBackend runs fn as a subtest per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, client Client)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { fn(t, b.client(t)) })
	}
}

// uniquePrefix returns a key prefix no other test uses.
func uniquePrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:]) + ":"
}

// countingClient counts the store operations passing through it and can
// inject failures.
type countingClient struct {
	Client
	gets, adds, sets, cas, deletes, touches atomic.Int64
	fail                                    atomic.Pointer[error] // returned by every call while set
}

func (c *countingClient) err() error {
	if p := c.fail.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *countingClient) Get(key string) (*memcache.Item, error) {
	c.gets.Add(1)
	if err := c.err(); err != nil {
		return nil, err
	}
	return c.Client.Get(key)
}

func (c *countingClient) Add(item *memcache.Item) error {
	c.adds.Add(1)
	if err := c.err(); err != nil {
		return err
	}
	return c.Client.Add(item)
}

func (c *countingClient) Set(item *memcache.Item) error {
	c.sets.Add(1)
	if err := c.err(); err != nil {
		return err
	}
	return c.Client.Set(item)
}

func (c *countingClient) CompareAndSwap(item *memcache.Item) error {
	c.cas.Add(1)
	if err := c.err(); err != nil {
		return err
	}
	return c.Client.CompareAndSwap(item)
}

func (c *countingClient) Delete(key string) error {
	c.deletes.Add(1)
	if err := c.err(); err != nil {
		return err
	}
	return c.Client.Delete(key)
}

func (c *countingClient) Touch(key string, seconds int32) error {
	c.touches.Add(1)
	if err := c.err(); err != nil {
		return err
	}
	return c.Client.Touch(key, seconds)
}

// total returns the number of operations so far.
func (c *countingClient) total() int64 {
	return c.gets.Load() + c.adds.Load() + c.sets.Load() + c.cas.Load() + c.deletes.Load() + c.touches.Load()
}

// writes returns the number of write operations so far.
func (c *countingClient) writes() int64 {
	return c.adds.Load() + c.sets.Load() + c.cas.Load() + c.deletes.Load() + c.touches.Load()
}

// logBuffer collects log output for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// app is a Gin engine with the session middleware and a cookie jar holding
// one browser's session cookie.
type app struct {
	t      testing.TB
	m      *Manager
	engine *gin.Engine
	store  *countingClient
	logs   *logBuffer
	cookie string // the session cookie value the "browser" holds
}

// newApp builds an app over client with opts (Secret, Client, KeyPrefix and
// Logger filled in when unset).
func newApp(t testing.TB, client Client, opts Options) *app {
	t.Helper()
	a := &app{t: t, store: &countingClient{Client: client}, logs: &logBuffer{}}
	if opts.Secret == "" {
		opts.Secret = testSecret
	}
	if opts.KeyPrefix == "" {
		opts.KeyPrefix = uniquePrefix()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	opts.Client = a.store
	m, err := NewManager(opts)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	a.m = m
	a.engine = gin.New()
	a.engine.Use(m.Handler())
	return a
}

// do sends a request with the jar's cookie and stores any session cookie
// the response sets (an expired one empties the jar).
func (a *app) do(method, target string, form url.Values, header ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	if a.cookie != "" {
		req.AddCookie(&http.Cookie{Name: a.m.opts.CookieName, Value: a.cookie})
	}
	rec := httptest.NewRecorder()
	a.engine.ServeHTTP(rec, req)
	if ck := sessionCookie(rec, a.m.opts.CookieName); ck != nil {
		if ck.MaxAge < 0 {
			a.cookie = ""
		} else {
			a.cookie = ck.Value
		}
	}
	return rec
}

// get is do for GET without a body.
func (a *app) get(target string) *httptest.ResponseRecorder {
	a.t.Helper()
	return a.do(http.MethodGet, target, nil)
}

// sessionCookie returns the response's session cookie, or nil.
func sessionCookie(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

// storedRecord returns what memcached holds for the jar's session (nil when
// nothing is stored).
func (a *app) storedRecord() *record {
	a.t.Helper()
	id, _, ok := a.m.cookies.decode(a.cookie)
	if !ok {
		a.t.Fatalf("jar holds no valid cookie (%q)", a.cookie)
	}
	item, err := a.store.Client.Get(a.m.key(id))
	if isMiss(err) {
		return nil
	}
	if err != nil {
		a.t.Fatalf("get stored session: %v", err)
	}
	rec, err := decodeRecord(item.Value)
	if err != nil {
		a.t.Fatalf("stored session is not a record: %v", err)
	}
	return rec
}

// fakeClock is a settable clock for expiry tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_900_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func httptestRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func httptestRequest(target string) *http.Request {
	return httptest.NewRequest(http.MethodGet, target, nil)
}

// discardLogger drops all log output.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// value returns the raw stored bytes of key, or nil.
func (r *record) value(key string) []byte {
	v, _ := r.get(key)
	return v
}
