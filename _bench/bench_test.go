package bench

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/_bench/contenders"
)

// Benchmark knobs, overridable from the environment.
var (
	// maxIdleConns is every contender's gomemcache idle pool size
	// (BENCH_MAXIDLE, default 64).
	maxIdleConns = envInt("BENCH_MAXIDLE", 64)
	// parallelism is the b.SetParallelism factor of the *Parallel
	// benchmarks: GOMAXPROCS×parallelism goroutines (BENCH_PARALLELISM,
	// default 4).
	parallelism = envInt("BENCH_PARALLELISM", 4)
)

// poolSize is the number of sessions created per contender for the
// parallel workloads: each goroutine replays its own session's cookie, as
// concurrent users would.
const poolSize = 64

// envInt reads a positive integer from the environment, or returns def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// env is one contender's engine with the cookies of sessions created
// through its /login route. Engines are built once per run and shared by
// all workloads and -count repetitions, so connection pools stay warm.
type env struct {
	engine  *gin.Engine
	cookies []string // "session_id=..." request header values
}

var (
	envMu sync.Mutex
	envs  = map[string]*env{}
)

// getEnv returns the named contender's engine, creating it (and poolSize
// sessions for contenders that have sessions) on first use.
func getEnv(tb testing.TB, name string) *env {
	tb.Helper()
	need(tb)
	envMu.Lock()
	defer envMu.Unlock()
	if e := envs[name]; e != nil {
		return e
	}
	engine, ok := contenders.New(name, mcAddr, maxIdleConns)
	if !ok {
		tb.Fatalf("unknown contender %q", name)
	}
	e := &env{engine: engine}
	if name == "bare" || name == "ginset" {
		// The same header size as a real session cookie, unread.
		e.cookies = []string{contenders.CookieName + "=" + strings.Repeat("x", 87)}
	} else {
		for range poolSize {
			e.cookies = append(e.cookies, login(tb, engine))
		}
	}
	envs[name] = e
	return e
}

// login creates a session through /login and returns its Cookie header.
func login(tb testing.TB, h http.Handler) string {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("/login: status %d: %s", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == contenders.CookieName && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	tb.Fatalf("/login sent no %s cookie (Set-Cookie: %q)", contenders.CookieName, rec.Header().Values("Set-Cookie"))
	return ""
}

// sink is a cheap reusable http.ResponseWriter: it keeps the status and
// discards the body, so the benchmarks measure the handlers, not a
// recorder's buffers.
type sink struct {
	h    http.Header
	code int
}

func newSink() *sink { return &sink{h: make(http.Header, 8)} }

// Header returns the response header map.
func (w *sink) Header() http.Header { return w.h }

// WriteHeader records the first status code.
func (w *sink) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

// Write discards p, recording status 200 if none was set.
func (w *sink) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

// WriteString discards s, recording status 200 if none was set.
func (w *sink) WriteString(s string) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(s), nil
}

// reset prepares w for the next request, keeping the header map's storage.
func (w *sink) reset() {
	clear(w.h)
	w.code = 0
}

// client replays one request template against one engine.
type client struct {
	h    http.Handler
	tmpl *http.Request
	w    *sink
}

// newClient returns a client for GET path with the given Cookie header
// ("" for none).
func newClient(h http.Handler, path, cookie string) *client {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return &client{h: h, tmpl: r, w: newSink()}
}

// do serves one request and returns its status. Each request is a shallow
// copy of the template (one allocation for every contender, as a server's
// own request would be), because some contenders attach per-request state
// to the request (gorilla/sessions' registry replaces its context).
func (c *client) do() int {
	r := new(http.Request)
	*r = *c.tmpl
	c.w.reset()
	c.h.ServeHTTP(c.w, r)
	return c.w.code
}

// runSerial benchmarks GET path on the named contender from one goroutine,
// with the first pooled session's cookie when withCookie is set.
func runSerial(b *testing.B, name, path string, withCookie bool) {
	e := getEnv(b, name)
	cookie := ""
	if withCookie {
		cookie = e.cookies[0]
	}
	c := newClient(e.engine, path, cookie)
	for range 10 { // warm the connection pool and caches
		if code := c.do(); code != http.StatusOK {
			b.Fatalf("%s %s: status %d", name, path, code)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var bad, last int
	for b.Loop() {
		if code := c.do(); code != http.StatusOK {
			bad, last = bad+1, code
		}
	}
	b.StopTimer()
	reportCPU(b, cpu0)
	checkErrors(b, name, path, bad, last)
}

// reportCPU reports the benchmark process's CPU time per operation since
// cpu0 (user + system, all threads, GC included; memcached's own CPU is
// not). On a VM where wall-clock latency is dominated by waiting for
// memcached, this shows each contender's own cost more steadily than ns/op.
func reportCPU(b *testing.B, cpu0 int64) {
	if cpu0 > 0 && b.N > 0 {
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// checkErrors fails the benchmark when more than 1% of its responses were
// not 200, and logs any smaller number (such as a memcached client timeout
// on a busy machine), since those requests still cost their time.
func checkErrors(b *testing.B, name, path string, bad, last int) {
	switch {
	case bad == 0:
	case bad*100 > b.N:
		b.Fatalf("%s %s: %d of %d responses were not 200 (last: %d)", name, path, bad, b.N, last)
	default:
		b.Logf("warning: %s %s: %d of %d responses were not 200 (last: %d)", name, path, bad, b.N, last)
	}
}

// runParallel benchmarks GET path on the named contender from
// GOMAXPROCS×parallelism goroutines, each replaying its own session's
// cookie when withCookie is set.
func runParallel(b *testing.B, name, path string, withCookie bool) {
	e := getEnv(b, name)
	for range 10 {
		if code := newClient(e.engine, path, cookieAt(e, 0, withCookie)).do(); code != http.StatusOK {
			b.Fatalf("%s %s: status %d", name, path, code)
		}
	}
	var next, bad, last atomic.Int64
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		c := newClient(e.engine, path, cookieAt(e, int(next.Add(1)), withCookie))
		for pb.Next() {
			if code := c.do(); code != http.StatusOK {
				bad.Add(1)
				last.Store(int64(code))
			}
		}
	})
	b.StopTimer()
	reportCPU(b, cpu0)
	checkErrors(b, name, path, int(bad.Load()), int(last.Load()))
}

// cookieAt returns the i-th pooled cookie (wrapping), or "" when
// withCookie is false.
func cookieAt(e *env, i int, withCookie bool) string {
	if !withCookie {
		return ""
	}
	return e.cookies[i%len(e.cookies)]
}

// each runs fn as a sub-benchmark per contender name.
func each(b *testing.B, names []string, fn func(b *testing.B, name string)) {
	for _, name := range names {
		b.Run(name, func(b *testing.B) { fn(b, name) })
	}
}

// BenchmarkRead: an existing session; the handler reads user_name.
func BenchmarkRead(b *testing.B) {
	each(b, contenders.Names, func(b *testing.B, n string) { runSerial(b, n, "/read", true) })
}

// BenchmarkReadParallel is BenchmarkRead from concurrent goroutines, each
// with its own session.
func BenchmarkReadParallel(b *testing.B) {
	each(b, contenders.Names, func(b *testing.B, n string) { runParallel(b, n, "/read", true) })
}

// BenchmarkWrite: an existing session; the handler increments a counter.
func BenchmarkWrite(b *testing.B) {
	each(b, contenders.Names, func(b *testing.B, n string) { runSerial(b, n, "/write", true) })
}

// BenchmarkWriteParallel is BenchmarkWrite from concurrent goroutines,
// each with its own session.
func BenchmarkWriteParallel(b *testing.B) {
	each(b, contenders.Names, func(b *testing.B, n string) { runParallel(b, n, "/write", true) })
}

// BenchmarkNewVisitor: no cookie; the handler sets a value, creating a
// session.
func BenchmarkNewVisitor(b *testing.B) {
	each(b, contenders.Names, func(b *testing.B, n string) { runSerial(b, n, "/new", false) })
}

// BenchmarkNewVisitorParallel is BenchmarkNewVisitor from concurrent
// goroutines.
func BenchmarkNewVisitorParallel(b *testing.B) {
	each(b, contenders.Names, func(b *testing.B, n string) { runParallel(b, n, "/new", false) })
}

// untouchedNames are the contenders of the untouched workload: a bare Gin
// route; the same route under a middleware that only calls gin's c.Set
// (the least any middleware handing per-request state to handlers through
// c.Keys costs); and routes under each library's installed middleware that
// never touch the session.
var untouchedNames = []string{"bare", "ginset", "ginsession", "gincontrib"}

// BenchmarkUntouched: a route that never calls Default(c), against a bare
// Gin route with no middleware. Every request carries a session cookie.
func BenchmarkUntouched(b *testing.B) {
	each(b, untouchedNames, func(b *testing.B, n string) { runSerial(b, n, "/untouched", true) })
}

// BenchmarkUntouchedParallel is BenchmarkUntouched from concurrent
// goroutines.
func BenchmarkUntouchedParallel(b *testing.B) {
	each(b, untouchedNames, func(b *testing.B, n string) { runParallel(b, n, "/untouched", true) })
}

// BenchmarkUserParallel: an existing session; the handler reads the
// logged-in user, with security stamps off and on (between checks, so no
// stamp lookup), from concurrent goroutines. The two should be within noise.
func BenchmarkUserParallel(b *testing.B) {
	each(b, []string{"ginsession", "ginsession-stamp"}, func(b *testing.B, n string) { runParallel(b, n, "/me", true) })
}

// observeNames are the contenders of the Observe workloads: ginsession
// without a hook and with a trivial one.
var observeNames = []string{"ginsession", "ginsession-observe"}

// BenchmarkObserveRead is BenchmarkRead without and with Options.Observe.
func BenchmarkObserveRead(b *testing.B) {
	each(b, observeNames, func(b *testing.B, n string) { runSerial(b, n, "/read", true) })
}

// BenchmarkObserveWrite is BenchmarkWrite without and with Options.Observe.
func BenchmarkObserveWrite(b *testing.B) {
	each(b, observeNames, func(b *testing.B, n string) { runSerial(b, n, "/write", true) })
}

// trackedNames are the contenders of the session-list workloads:
// ginsession without and with Options.TrackSessions.
var trackedNames = []string{"ginsession", "ginsession-tracked"}

// BenchmarkTrackedLogin: a new visitor logs in (Login, then a value set),
// without and with the user's session list, which is full (64 entries).
func BenchmarkTrackedLogin(b *testing.B) {
	each(b, trackedNames, func(b *testing.B, n string) { runSerial(b, n, "/login", false) })
}

// BenchmarkTrackedFirstLogin: a new visitor logs in as a user with no
// session yet, without and with the user's session list (created by this
// Login: one entry).
func BenchmarkTrackedFirstLogin(b *testing.B) {
	each(b, trackedNames, func(b *testing.B, n string) { runSerial(b, n, "/login-first", false) })
}

// BenchmarkTrackedRead is BenchmarkRead without and with TrackSessions.
func BenchmarkTrackedRead(b *testing.B) {
	each(b, trackedNames, func(b *testing.B, n string) { runSerial(b, n, "/read", true) })
}

// BenchmarkTrackedWrite is BenchmarkWrite without and with TrackSessions:
// the session list is not written when a session is.
func BenchmarkTrackedWrite(b *testing.B) {
	each(b, trackedNames, func(b *testing.B, n string) { runSerial(b, n, "/write", true) })
}
