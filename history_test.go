package ginsession_test

// TestHistory: many simulated users against real memcached servers behind
// fault-injecting proxies, every request and answer recorded, and the
// session invariants checked over the whole history afterwards
// (internal/history). The app is in history_app_test.go, the users and the
// fault schedule in history_sim_test.go.
//
// Knobs (environment): HISTORY_SEED (default 1) fixes the users' plans and
// the fault schedule (goroutine timing still varies between runs);
// HISTORY_USERS browsers at once (default 6); HISTORY_DURATION of the
// fault phase (default 3s); HISTORY_REMEMBERED browsers in the
// remember-me idle phase (default 6). _bench/history.sh runs a long one.

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ginsession/ginsession"
	"github.com/ginsession/ginsession/internal/faultproxy"
	"github.com/ginsession/ginsession/internal/history"
	"github.com/ginsession/ginsession/internal/memcachedtest"
)

const histCookie = "session_id"

// histKnobs sizes a run.
type histKnobs struct {
	seed       uint64
	users      int
	duration   time.Duration
	remembered int
}

func histKnobsFromEnv(t *testing.T) histKnobs {
	k := histKnobs{seed: 1, users: 6, duration: 3 * time.Second, remembered: 6}
	parse := func(name string, set func(string) error) {
		if v := os.Getenv(name); v != "" {
			if err := set(v); err != nil {
				t.Fatalf("%s=%q: %v", name, v, err)
			}
		}
	}
	parse("HISTORY_SEED", func(v string) (err error) { k.seed, err = strconv.ParseUint(v, 10, 64); return })
	parse("HISTORY_USERS", func(v string) (err error) { k.users, err = strconv.Atoi(v); return })
	parse("HISTORY_DURATION", func(v string) (err error) { k.duration, err = time.ParseDuration(v); return })
	parse("HISTORY_REMEMBERED", func(v string) (err error) { k.remembered, err = strconv.Atoi(v); return })
	return k
}

// histConfig is one deployment the same checker runs against.
type histConfig struct {
	name     string
	servers  int
	replicas int
	faults   []string // kinds histFaults injects
}

var histConfigs = []histConfig{
	{"3servers-replicas2", 3, 2, []string{"kill", "swallow", "slow"}},
	{"3servers-replicas1", 3, 1, []string{"kill", "swallow", "slow"}},
	{"1server", 1, 1, []string{"kill", "slow"}},
}

// Timings of every configuration: short, so faults are detected and
// healed many times in a few seconds, and sessions idle out in the
// remember-me phase.
const (
	histTimeout     = 200 * time.Millisecond
	histDownBackoff = 300 * time.Millisecond
	histIdleTimeout = 3 * time.Second
)

func TestHistory(t *testing.T) {
	knobs := histKnobsFromEnv(t)
	for _, cfg := range histConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			t.Parallel()
			runHistory(t, cfg, knobs)
		})
	}
}

func runHistory(t *testing.T, cfg histConfig, knobs histKnobs) {
	var servers []*memcachedtest.Server
	var proxies []*faultproxy.Proxy
	var addrs []string
	for range cfg.servers {
		srv := memcachedtest.Start(t)
		p, err := faultproxy.Start(srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		servers, proxies, addrs = append(servers, srv), append(proxies, p), append(addrs, p.Addr)
	}
	opts := ginsession.Options{
		Secret:         "history-test-secret-0123456789abcdef",
		Memcached:      addrs,
		Replicas:       cfg.replicas,
		Timeout:        histTimeout,
		DownBackoff:    histDownBackoff,
		IdleTimeout:    histIdleTimeout,
		InsecureCookie: true,
		Logger:         slog.New(slog.DiscardHandler),
	}
	site := &histSite{engine: historyApp(opts), rec: &history.Recorder{}}

	until := time.Now().Add(knobs.duration)
	var users sync.WaitGroup
	for i := range knobs.users {
		b := &histBrowser{site: site, name: fmt.Sprintf("b%d", i), next: map[string]int64{}, browsers: knobs.users}
		users.Go(func() { b.run(knobs.seed*1000+uint64(i), until) })
	}
	histFaults(t, cfg.faults, servers, proxies, site.rec, rand.New(rand.NewPCG(knobs.seed, 7)), until)
	users.Wait()
	for _, p := range proxies {
		p.SetMode(faultproxy.Pass)
	}
	// Let every server's backoff pass before the fault-free phase.
	time.Sleep(2 * histDownBackoff)
	alive := histIdle(site, knobs.remembered, histIdleTimeout, knobs.seed)

	rep := history.Check(site.rec.Ops())
	t.Logf("seed=%d %s: %s", knobs.seed, cfg.name, rep.Summary())
	if by := rep.ByFault(); by != "" {
		t.Logf("seed=%d %s: violations by the faults around them:\n%s", knobs.seed, cfg.name, by)
	}
	if alive > 0 {
		t.Errorf("seed=%d: %d control sessions without remember-me were still logged in after idling %v: the remember-me check proved nothing",
			knobs.seed, alive, histIdleTimeout)
	}
	if rep.IdleChecked == 0 && knobs.remembered > 0 {
		t.Errorf("seed=%d: no remembered session was read after idling", knobs.seed)
	}
	histReport(t, rep, knobs.seed)
}

// histReport fails the test once per broken invariant, with the seed and
// excerpts of the history around the first violations.
func histReport(t *testing.T, rep *history.Report, seed uint64) {
	const excerpts = 3
	for _, inv := range history.Invariants {
		n := rep.Count(inv)
		if n == 0 {
			continue
		}
		msg := fmt.Sprintf("seed=%d: invariant %s broken %d times (rerun: HISTORY_SEED=%d go test -race -run 'TestHistory/%s' .); first ones:\n",
			seed, inv, n, seed, t.Name()[len("TestHistory/"):])
		shown := 0
		for _, v := range rep.Violations {
			if v.Inv == inv && shown < excerpts {
				msg += rep.Excerpt(v, 16)
				shown++
			}
		}
		t.Error(msg)
	}
}
