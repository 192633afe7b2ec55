package ginsession

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/internal/memcachedtest"
)

func init() { gin.SetMode(gin.TestMode) }

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

// sharedMemcachedAddr is the memcached server the integration tests use:
// MEMCACHED_ADDR when set, otherwise a process TestMain started.
var sharedMemcachedAddr string

// memcachedMissing explains why integration tests are skipped ("" when a
// server is available).
var memcachedMissing string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	stopNutcracker, ok := startNutcrackerBackend()
	if !ok {
		return 1
	}
	defer stopNutcracker()
	if addr := os.Getenv("MEMCACHED_ADDR"); addr != "" {
		sharedMemcachedAddr = addr
		return m.Run()
	}
	srv, err := memcachedtest.Launch("")
	if err != nil {
		if memcachedtest.Required() {
			fmt.Fprintf(os.Stderr, "ginsession tests: CI=true and no memcached: %v\n", err)
			return 1
		}
		memcachedMissing = err.Error()
		fmt.Fprintf(os.Stderr, "ginsession tests: integration tests skipped: %v\n", err)
		return m.Run()
	}
	defer srv.Stop()
	sharedMemcachedAddr = srv.Addr
	return m.Run()
}

// requireMemcached returns the shared server's address or skips the test
// when no memcached is installed (never under CI=true: TestMain fails then).
func requireMemcached(tb testing.TB) string {
	tb.Helper()
	if sharedMemcachedAddr == "" {
		tb.Skipf("no memcached: %s", memcachedMissing)
	}
	return sharedMemcachedAddr
}

// memcachedProc is a private memcached process that a test stops and
// restarts (see memcachedtest.Server).
type memcachedProc struct {
	srv  *memcachedtest.Server
	addr string // the server's address, the same across restarts
}

// startMemcached starts a private memcached for one test (fault tests kill
// and restart it); it is stopped when the test ends.
func startMemcached(tb testing.TB) *memcachedProc {
	tb.Helper()
	requireMemcached(tb)
	srv := memcachedtest.Start(tb)
	return &memcachedProc{srv: srv, addr: srv.Addr}
}

// stop kills the process and waits for it to exit.
func (p *memcachedProc) stop() { p.srv.Stop() }

// restart starts the process again, empty, on the same address after stop.
func (p *memcachedProc) restart(tb testing.TB) {
	tb.Helper()
	p.srv.Restart(tb)
}

// backend is a store the behavioural tests run against.
type backend struct {
	name   string
	client func(t testing.TB) Client
}

// backends returns the real memcached, the memory client and memcached
// behind nutcracker (twemproxy), so every behaviour is checked on all
// three.
func backends() []backend {
	return []backend{
		{"memcached", func(t testing.TB) Client {
			c := memcache.New(requireMemcached(t))
			c.MaxIdleConns = 32
			return c
		}},
		{"memory", func(testing.TB) Client { return NewMemoryClient() }},
		{"nutcracker", func(t testing.TB) Client {
			return nutcrackerClient(requireNutcracker(t), memcachedtest.DefaultNutcrackerTimeout)
		}},
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

// failOnce makes the next call of one operation fail.
type failOnce struct {
	Client
	op  string
	err error
}

func (f *failOnce) take(op string) error {
	if f.op == op {
		f.op = ""
		return f.err
	}
	return nil
}

func (f *failOnce) Add(it *memcache.Item) error {
	if err := f.take("add"); err != nil {
		return err
	}
	return f.Client.Add(it)
}

func (f *failOnce) CompareAndSwap(it *memcache.Item) error {
	if err := f.take("cas"); err != nil {
		return err
	}
	return f.Client.CompareAndSwap(it)
}

// panickingClient panics on every write, as a broken custom Client might.
type panickingClient struct{ Client }

func (panickingClient) Add(*memcache.Item) error            { panic("store exploded") }
func (panickingClient) CompareAndSwap(*memcache.Item) error { panic("store exploded") }

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

// serve runs one request carrying cookie on a's engine (safe concurrently).
func (a *app) serve(target, cookie string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.AddCookie(&http.Cookie{Name: a.m.opts.CookieName, Value: cookie})
	rec := httptest.NewRecorder()
	a.engine.ServeHTTP(rec, req)
	return rec
}

// logoutDuring serves a request carrying cookie whose handler loads the
// session and, once a logout in another request has deleted it, runs then.
// It returns the first request's response.
func (a *app) logoutDuring(cookie string, then func(c *gin.Context, s *Session)) *httptest.ResponseRecorder {
	loaded, resume := make(chan struct{}), make(chan struct{})
	a.engine.GET("/racing", func(c *gin.Context) {
		s := Default(c)
		s.Has("user_name")
		close(loaded)
		<-resume
		then(c, s)
	})
	a.engine.GET("/racing-logout", func(c *gin.Context) { _ = Logout(c) })
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- a.serve("/racing", cookie) }()
	<-loaded
	a.serve("/racing-logout", cookie)
	close(resume)
	return <-done
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

// sealed returns r as the app stores it for session id: encoded and sealed
// for the session's memcached key with the app's current secret.
func (a *app) sealed(id string, r *record) []byte {
	return a.m.store.records.seal(a.m.key(id), r.encode(nil))
}

// key returns the memcached key of a session ID, as the store computes it.
func (m *Manager) key(id string) string {
	return storageKey(m.opts.KeyPrefix, id)
}

// value returns the raw stored bytes of key, or nil.
func (r *record) value(key string) []byte {
	v, _ := r.get(key)
	return v
}

// recordOf returns a record holding kv, set in key order, and flashes.
func recordOf(created, touched int64, persistent bool, kv map[string][]byte, flashes ...[]byte) *record {
	r := &record{meta: meta{created: created, touched: touched, persistent: persistent}, flashes: flashes}
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		r.set(k, kv[k])
	}
	return r
}

// faultRoutes adds /login, a session-reading page and a plain page.
func faultRoutes(a *app) {
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	a.engine.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, "me=%s", Default(c).GetString("user_name")) })
	a.engine.GET("/plain", func(c *gin.Context) { c.String(http.StatusOK, "plain") })
}

// authApp has /login (POST name=...), /logout and a protected group.
func authApp(t *testing.T, client Client, opts Options) *app {
	a := newApp(t, client, opts)
	a.engine.POST("/login", func(c *gin.Context) {
		if err := Login(c, c.PostForm("name")); err != nil {
			c.String(http.StatusBadRequest, err.Error())
			return
		}
		c.Redirect(http.StatusSeeOther, NextURL(c, "/"))
	})
	a.engine.POST("/logout", func(c *gin.Context) { _ = Logout(c) })
	private := a.engine.Group("/", Authenticated())
	private.GET("/private", func(c *gin.Context) {
		c.String(http.StatusOK, "hello %s %s", User(c), c.GetString(gin.AuthUserKey))
	})
	private.HEAD("/private", func(c *gin.Context) {})
	private.POST("/private", func(c *gin.Context) { c.String(http.StatusOK, "posted") })
	return a
}

// clockApp is an app whose manager and memory store share a fake clock.
func clockApp(t *testing.T, opts Options) (*app, *fakeClock) {
	clock := newFakeClock()
	a := newApp(t, newMemoryClient(clock.Now), opts)
	a.m.now = clock.Now
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	a.engine.GET("/", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("user_name")) })
	return a, clock
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

// discardWriter is a minimal reusable http.ResponseWriter.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *discardWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

// The fuzz targets' secrets: the current one and an old one still accepted,
// shared by the cookie and the record fuzzers.
const (
	fuzzSecret    = "fuzz-secret-0123456789abcdef0123456789"
	fuzzOldSecret = "fuzz-old-secret-0123456789abcdef012345"
)

// decodeRecord decodes stored bytes into a new record (tag unchecked).
func decodeRecord(b []byte) (*record, error) {
	r := new(record)
	if err := r.decode(b); err != nil {
		return nil, err
	}
	return r, nil
}

// openRecord verifies and decodes stored bytes into a new record.
func openRecord(rs *recordSealer, key string, b []byte) (*record, error) {
	r := new(record)
	if err := rs.open(r, key, b); err != nil {
		return nil, err
	}
	return r, nil
}
