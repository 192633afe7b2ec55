package main

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// sample is one metric line's value in Prometheus' text format, keyed by
// the series (name and labels as printed); a missing series reads as 0.
type samples map[string]float64

// parseSamples reads the text exposition format.
func parseSamples(t *testing.T, text string) samples {
	t.Helper()
	s := samples{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("not a metric line: %q", line)
		}
		s[line[:i]] = v
	}
	return s
}

// sessionFlowCounts is how much a login, a home page visit and a logout
// raise the session metrics, at least.
var sessionFlowCounts = map[string]float64{
	`ginsession_loads_total{result="found"}`:                    2, // the home page, the logout
	`ginsession_store_call_duration_seconds_count{op="add"}`:    1, // the login
	`ginsession_store_call_duration_seconds_count{op="cas"}`:    1, // the visit counter
	`ginsession_store_call_duration_seconds_count{op="delete"}`: 1, // the logout
	`ginsession_destroys_total`:                                 1,
}

// scrape fetches /metrics from b's app.
func scrape(t *testing.T, b *browser) samples {
	t.Helper()
	res := b.get("/metrics")
	res.expect(t, http.StatusOK, "")
	return parseSamples(t, res.body)
}

// /metrics counts what the sessions did: a login's Add, the home page's
// load and write, a logout's destroy; with memcached down, store errors by
// kind.
func TestMetrics(t *testing.T) {
	mc := startMemcached(t)
	h, err := newApp(testConfig(t, mc.Addr))
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, h)
	login(t, b, "alice")
	b.get("/").expect(t, http.StatusOK, "")
	b.post("/logout", nil).expect(t, http.StatusSeeOther, "/login")
	got := scrape(t, newBrowser(t, h))
	for series, atLeast := range sessionFlowCounts {
		if got[series] < atLeast {
			t.Errorf("%s = %v, want at least %v", series, got[series], atLeast)
		}
	}

	mc.Stop()
	b.get("/").expect(t, http.StatusServiceUnavailable, "")
	if got := scrape(t, newBrowser(t, h)); got[`ginsession_store_errors_total{kind="unreachable"}`] != 1 {
		t.Errorf(`with memcached stopped: ginsession_store_errors_total{kind="unreachable"} = %v, want 1`, got[`ginsession_store_errors_total{kind="unreachable"}`])
	}
}
