package ginsession_test

// What the simulated users of the history test (history_test.go) do, and
// the seeded fault schedule they do it under.

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ginsession/ginsession/internal/faultproxy"
	"github.com/ginsession/ginsession/internal/history"
	"github.com/ginsession/ginsession/internal/memcachedtest"
)

// histUser names the accounts browsers log in as; fewer accounts than
// browsers, so several browsers share one user and login-over happens.
func histUser(rng *rand.Rand, browsers int) string {
	return fmt.Sprintf("user%d", rng.IntN(max(2, browsers)))
}

// histBrowser is one simulated browser: a jar shared by its tabs, and the
// next value of each key it writes (each key has a single writer, and its
// values only grow, across sessions too, so the checker can tell values
// apart and order them).
type histBrowser struct {
	site     *histSite
	name     string
	jar      histJar
	browsers int
	next     map[string]int64 // key -> last value written; one goroutine per key
	mu       sync.Mutex       // guards next's map structure
}

func (b *histBrowser) value(key string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next[key]++
	return b.next[key]
}

func (b *histBrowser) do(client string, op history.Op) history.Op {
	op.Client = b.name + "/" + client
	return b.site.browse(&b.jar, op, histCookie)
}

// run repeats sessions until the deadline: log in (sometimes with
// remember-me, sometimes over the session of another user), let 2 or 3
// tabs read and write their own keys while the main tab remembers or
// regenerates, maybe let a thief replay a copy of the cookie, then log
// out, log in as someone else, or just leave the session behind.
func (b *histBrowser) run(seed uint64, until time.Time) {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b9))
	for time.Now().Before(until) {
		if cookie, _ := b.jar.get(); cookie == "" || rng.IntN(4) == 0 {
			op := b.do("main", history.Op{Kind: history.Login, User: histUser(rng, b.browsers), Remember: rng.IntN(3) == 0})
			if !op.OK {
				time.Sleep(10 * time.Millisecond)
				continue
			}
		}
		stolen, victim := b.jar.get()
		var thief sync.WaitGroup
		stop := make(chan struct{})
		if rng.IntN(2) == 0 {
			xrng := rand.New(rand.NewPCG(rng.Uint64(), 1))
			thief.Go(func() { b.thief(stolen, victim, xrng, stop) })
		}
		var tabs sync.WaitGroup
		for t := range 2 + rng.IntN(2) {
			trng := rand.New(rand.NewPCG(rng.Uint64(), uint64(t)))
			steps := 3 + rng.IntN(8)
			tabs.Go(func() { b.tab(fmt.Sprintf("tab%d", t), trng, steps) })
		}
		for range 2 {
			switch rng.IntN(4) {
			case 0:
				b.do("main", history.Op{Kind: history.Remember})
			case 1:
				b.do("main", history.Op{Kind: history.Regenerate})
			default:
				b.do("main", history.Op{Kind: history.Read})
			}
		}
		if rng.IntN(2) == 0 {
			tabs.Wait() // else the session ends under the tabs' feet
		}
		switch n := rng.IntN(10); {
		case n < 5:
			b.do("main", history.Op{Kind: history.Logout})
		case n < 8:
			b.do("main", history.Op{Kind: history.Login, User: histUser(rng, b.browsers)})
		}
		tabs.Wait()
		close(stop)
		thief.Wait()
	}
}

// tab reads and writes its own key with the browser's cookie.
func (b *histBrowser) tab(name string, rng *rand.Rand, steps int) {
	key := histValuePrefix + b.name + name
	for range steps {
		if rng.IntN(2) == 0 {
			b.do(name, history.Op{Kind: history.Write, Key: key, Value: b.value(key)})
		} else {
			b.do(name, history.Op{Kind: history.Read})
		}
	}
}

// thief replays a copy of victim's cookie taken at login, reading and
// writing its own key, until stop; then a few more requests, which come
// after whatever ended the session and must find it dead.
func (b *histBrowser) thief(cookie, victim string, rng *rand.Rand, stop <-chan struct{}) {
	key := histValuePrefix + b.name + "thief"
	step := func() {
		op := history.Op{Client: b.name + "/thief", Kind: history.Read, Cookie: cookie}
		if rng.IntN(2) == 0 {
			op.Kind, op.Key, op.Value, op.User = history.Write, key, b.value(key), victim
		}
		b.site.send(op, histCookie)
	}
	for {
		select {
		case <-stop:
			for range 3 {
				step()
			}
			return
		default:
			step()
			time.Sleep(time.Millisecond)
		}
	}
}

// histFaults runs the seeded fault schedule until the deadline, one fault
// at a time (so Replicas 2 always has a server left for every key), and
// records each as an operation spanning its duration. It runs on the test
// goroutine: Restart may fail the test.
func histFaults(t *testing.T, kinds []string, servers []*memcachedtest.Server, proxies []*faultproxy.Proxy,
	rec *history.Recorder, rng *rand.Rand, until time.Time) {
	for {
		time.Sleep(time.Duration(100+rng.IntN(300)) * time.Millisecond)
		if len(kinds) == 0 || !time.Now().Before(until) {
			return
		}
		i, kind := rng.IntN(len(servers)), kinds[rng.IntN(len(kinds))]
		d := time.Duration(200+rng.IntN(600)) * time.Millisecond
		op := history.Op{Client: "faults", Kind: history.Fault, Start: rec.Now()}
		switch kind {
		case "kill":
			op.Note = fmt.Sprintf("kill s%d, restart empty after %v", i, d)
			servers[i].Stop()
			time.Sleep(d)
			servers[i].Restart(t)
		case "swallow":
			op.Note = fmt.Sprintf("partition s%d (proxy swallows) for %v", i, d)
			proxies[i].SetMode(faultproxy.Swallow)
			time.Sleep(d)
			proxies[i].SetMode(faultproxy.Pass)
		case "slow":
			delay := time.Duration(20+rng.IntN(300)) * time.Millisecond
			op.Note = fmt.Sprintf("slow s%d (+%v per answer) for %v", i, delay, d)
			proxies[i].SetDelay(delay)
			proxies[i].SetMode(faultproxy.Slow)
			time.Sleep(d)
			proxies[i].SetMode(faultproxy.Pass)
		}
		rec.Add(op)
	}
}

// histIdle is the remember-me phase, with no faults: n browsers log in
// with remember-me (half at login, half by a Remember request racing the
// tabs' writes, so it is merged), n/2 control browsers log in without it;
// after idling past idle all are read again. The checker holds the
// remembered ones to invariant (c); the controls must be logged out, or
// the phase did not idle long enough to test anything. It returns the
// controls still logged in.
func histIdle(site *histSite, n int, idle time.Duration, seed uint64) (controlsAlive int) {
	var wg sync.WaitGroup
	var bs []*histBrowser
	var remembered []bool
	for i := range n + n/2 {
		b := &histBrowser{site: site, name: fmt.Sprintf("idle%d", i), next: map[string]int64{}, browsers: 1}
		bs, remembered = append(bs, b), append(remembered, i < n)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			if !b.do("main", history.Op{Kind: history.Login, User: fmt.Sprintf("idler%d", i), Remember: i < n && i%2 == 0}).OK {
				return
			}
			var tabs sync.WaitGroup
			for t := range 2 {
				trng := rand.New(rand.NewPCG(rng.Uint64(), uint64(t)))
				tabs.Go(func() { b.tab(fmt.Sprintf("tab%d", t), trng, 6) })
			}
			if i < n && i%2 == 1 {
				b.do("main", history.Op{Kind: history.Remember})
			}
			tabs.Wait()
		})
	}
	wg.Wait()
	// memcached counts expirations in whole seconds: a second more than
	// the idle timeout, and one for its clock's tick.
	time.Sleep(idle + 2*time.Second)
	for i, b := range bs {
		if cookie, _ := b.jar.get(); cookie == "" {
			continue
		}
		op := b.do("main", history.Op{Kind: history.Read, Idle: true})
		if !remembered[i] && op.Served != "" {
			controlsAlive++
		}
	}
	return controlsAlive
}
