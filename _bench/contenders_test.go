package bench

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ginsession/ginsession/_bench/contenders"
	"github.com/ginsession/ginsession/internal/memcachedtest"
)

// get serves GET path with the given Cookie header on h.
func get(h http.Handler, path, cookie string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestContenders checks that every contender does the work its benchmarks
// claim: /read returns the stored user, /write increments a stored counter,
// /new creates a session (a cookie that reads back), and /untouched sends no
// cookie.
func TestContenders(t *testing.T) {
	for _, name := range contenders.Names {
		t.Run(name, func(t *testing.T) {
			e := getEnv(t, name)
			cookie := login(t, e.engine)
			if w := get(e.engine, "/read", cookie); w.Code != 200 || w.Body.String() != contenders.User {
				t.Fatalf("/read = %d %q, want 200 %q", w.Code, w.Body, contenders.User)
			}
			for _, want := range []string{"1", "2", "3"} {
				if w := get(e.engine, "/write", cookie); w.Code != 200 || w.Body.String() != want {
					t.Fatalf("/write = %d %q, want 200 %q", w.Code, w.Body, want)
				}
			}
			if w := get(e.engine, "/read", cookie); w.Body.String() != contenders.User {
				t.Fatalf("/read after writes = %q", w.Body)
			}
			w := get(e.engine, "/new", "")
			if w.Code != 200 || !strings.Contains(w.Header().Get("Set-Cookie"), contenders.CookieName+"=") {
				t.Fatalf("/new = %d, Set-Cookie %q", w.Code, w.Header().Get("Set-Cookie"))
			}
			if w := get(e.engine, "/untouched", cookie); w.Code != 200 || w.Header().Get("Set-Cookie") != "" {
				t.Fatalf("/untouched = %d, Set-Cookie %q", w.Code, w.Header().Get("Set-Cookie"))
			}
		})
	}
}

// TestSink checks the benchmark ResponseWriter against the untouched route
// of the two baselines.
func TestSink(t *testing.T) {
	for _, name := range []string{"bare", "ginset"} {
		e := getEnv(t, name)
		c := newClient(e.engine, "/untouched", e.cookies[0])
		for range 3 {
			if code := c.do(); code != http.StatusOK {
				t.Fatalf("%s: status %d", name, code)
			}
		}
	}
}

// mcStats returns memcached's "stats" counters.
func mcStats(t *testing.T) map[string]int64 {
	t.Helper()
	stats, err := memcachedtest.Stats(mcAddr)
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

// TestRoundTrips checks that every contender makes the same memcached
// requests per HTTP request, so the benchmarks compare like with like:
// read = 1 get; write = 1 get + 1 store (set, or cas for ginsession);
// new visitor = 1 store (add); untouched = none.
func TestRoundTrips(t *testing.T) {
	need(t)
	want := map[string]struct{ get, store int64 }{
		"/read": {1, 0}, "/write": {1, 1}, "/new": {0, 1}, "/untouched": {0, 0},
	}
	const n = 50
	for _, name := range contenders.Names {
		e := getEnv(t, name)
		for _, path := range []string{"/read", "/write", "/new", "/untouched"} {
			cookie := e.cookies[0]
			if path == "/new" {
				cookie = ""
			}
			c := newClient(e.engine, path, cookie)
			before := mcStats(t)
			for range n {
				if code := c.do(); code != http.StatusOK {
					t.Fatalf("%s %s: status %d", name, path, code)
				}
			}
			after := mcStats(t)
			d := func(k string) int64 { return after[k] - before[k] }
			other := d("cmd_touch") + d("delete_hits") + d("delete_misses") + d("incr_hits") + d("incr_misses")
			// This package's memcached serves nothing else meanwhile (unless
			// MEMCACHED_ADDR points at a shared one), so the deltas are this
			// loop's alone.
			if got, w := d("cmd_get"), want[path].get*n; got != w {
				t.Errorf("%s %s: %d gets for %d requests, want %d", name, path, got, n, w)
			}
			if got, w := d("cmd_set"), want[path].store*n; got != w { // cmd_set counts set, add and cas
				t.Errorf("%s %s: %d stores for %d requests, want %d", name, path, got, n, w)
			}
			if other != 0 {
				t.Errorf("%s %s: %d touch/delete/incr commands for %d requests, want 0", name, path, other, n)
			}
		}
	}
}
