package ginsession

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// TestSessionListHistory: browsers of two users log in, read, end one
// another's sessions, end all others and log out at random and at once,
// over a store that fails and stalls operations at random (seeded). Every
// call is recorded with a logical start and end time, then checked:
//
//   - ended stays ended: after an EndSession, EndOtherSessions or Logout
//     that answered 200, no request that started later is served as the
//     ended session's user, whatever the faults;
//   - the list is true: once quiet, each user's Sessions lists exactly the
//     sessions that still work, and never another user's;
//   - nothing lost: every login that answered 200 and was not ended is
//     still logged in and listed.
func TestSessionListHistory(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, client Client) {
				runSessionListHistory(t, seed, client)
			})
		})
	}
}

// listEvent is one recorded call.
type listEvent struct {
	browser    int
	op         string // login, check, end, end-others, logout
	handle     string // the session the browser held (login: the new one)
	target     string // end: the handle it ended
	start, end int64  // logical times
	status     int
	user       string // check: who the request was served as
}

func runSessionListHistory(t *testing.T, seed uint64, client Client) {
	flaky := &flakyClient{Client: client, rng: rand.New(rand.NewPCG(seed, 7))}
	a := trackingApp(t, flaky, Options{Timeout: time.Second})
	users := []string{"alice", "alice", "alice", "alice", "alice", "bob", "bob", "bob"}
	var clock atomic.Int64
	var mu sync.Mutex
	var events []listEvent
	note := func(e listEvent) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	browsers := make([]*app, len(users))
	held := make([]string, len(users)) // each browser's session after its last call (under mu)
	for i := range browsers {
		browsers[i] = a.browser()
	}
	flaky.faulty.Store(true)
	var wg sync.WaitGroup
	for i, b := range browsers {
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		wg.Go(func() {
			for range 40 {
				e := listEvent{browser: i, handle: handleOfCookie(a, b.cookie), start: clock.Add(1)}
				var rec int
				switch r := rng.IntN(10); {
				case b.cookie == "" || r < 2:
					e.op = "login"
					rec = b.do(http.MethodPost, "/login", url.Values{"name": {users[i]}}, "User-Agent", uaFirefoxLinux).Code
					e.handle = handleOfCookie(a, b.cookie)
				case r < 6:
					e.op = "check"
					res := b.get("/private")
					rec = res.Code
					if rec == http.StatusOK {
						e.user = res.Body.String()[len("hello "):]
					}
				case r < 8:
					e.op = "end"
					mu.Lock()
					e.target = held[rng.IntN(len(held))] // another browser's session, as it last knew it
					mu.Unlock()
					rec = b.do(http.MethodPost, "/end", url.Values{"handle": {e.target}}).Code
				case r < 9:
					e.op = "end-others"
					rec = b.do(http.MethodPost, "/end-others", nil).Code
				default:
					e.op = "logout"
					rec = b.do(http.MethodPost, "/logout", nil).Code
				}
				e.status, e.end = rec, clock.Add(1)
				note(e)
				mu.Lock()
				held[i] = handleOfCookie(a, b.cookie)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	flaky.faulty.Store(false)

	// What the history says: each session's user, and when it ended.
	userOf := map[string]string{}
	endedAt := map[string]int64{} // the end time of the first call that ended it
	ended := func(h string, at int64) {
		if old, ok := endedAt[h]; !ok || at < old {
			endedAt[h] = at
		}
	}
	loginAt, loginStart := map[string]int64{}, map[string]int64{}
	mayHaveEnded := map[string]bool{} // by an end-others its Login overlapped
	for _, e := range events {
		if e.op == "login" && e.status == http.StatusSeeOther {
			userOf[e.handle], loginAt[e.handle], loginStart[e.handle] = users[e.browser], e.end, e.start
		}
	}
	for _, e := range events {
		if e.op == "end-others" && e.status >= 500 {
			// It stops at the first delete that fails: the sessions it
			// ended before that stay ended.
			for h, u := range userOf {
				if u == userOf[e.handle] && h != e.handle && loginStart[h] < e.end {
					mayHaveEnded[h] = true
				}
			}
		}
		if e.status != http.StatusOK {
			continue
		}
		switch e.op {
		case "end":
			if userOf[e.target] == userOf[e.handle] && e.target != "" {
				ended(e.target, e.end)
			}
		case "logout":
			ended(e.handle, e.end)
		case "end-others":
			// Every other session of the user whose login had answered
			// before this call started.
			for h, u := range userOf {
				switch {
				case u != userOf[e.handle] || h == e.handle:
				case loginAt[h] < e.start:
					ended(h, e.end)
				case loginStart[h] < e.end:
					mayHaveEnded[h] = true
				}
			}
		}
	}
	violations := 0
	for _, e := range events {
		if at, ok := endedAt[e.handle]; ok && e.op == "check" && e.start > at && e.user != "" {
			violations++
			t.Errorf("browser %d was served as %q after its session ended (check at %d, ended at %d)", e.browser, e.user, e.start, at)
		}
	}

	// Quiet now: the lists must be true.
	live := map[string]map[string]bool{"alice": {}, "bob": {}}
	for i, b := range browsers {
		if who := b.loggedInAs(); who != "" {
			h := handleOfCookie(a, b.cookie)
			if who != users[i] {
				t.Errorf("browser %d of %s is signed in as %s", i, users[i], who)
			}
			live[who][h] = true
			if _, gone := endedAt[h]; gone {
				t.Errorf("browser %d's ended session still works", i)
			}
		} else if h := handleOfCookie(a, b.cookie); h != "" && userOf[h] != "" {
			if _, gone := endedAt[h]; !gone && !mayHaveEnded[h] && lastLoginOK(events, i) {
				t.Errorf("browser %d's session (login answered 200, never ended) is gone", i)
				for _, x := range events {
					if x.handle == h || x.target == h || (x.op == "end-others" && userOf[x.handle] == users[i]) {
						t.Logf("  %+v", x)
					}
				}
			}
		}
	}
	orphans := 0
	for i, b := range browsers {
		if b.loggedInAs() == "" {
			continue
		}
		var listed []string
		for _, s := range b.sessions() {
			listed = append(listed, s.Handle)
		}
		for h := range live[users[i]] {
			if !slices.Contains(listed, h) {
				t.Errorf("browser %d (%s): a working session is not listed", i, users[i])
			}
		}
		for _, h := range listed {
			if live[users[i]][h] {
				continue
			}
			// Listed but held by no browser: it must still exist, as
			// the user's (a Login whose undo failed too leaves one).
			var r record
			if _, found, err := a.m.store.load(&r, a.m.store.keyOf(h), time.Now()); err != nil || found != LoadFound || a.m.store.trackedUser(&r) != users[i] {
				t.Errorf("browser %d (%s) lists a session that does not exist as the user's (%v, %v)", i, users[i], found, err)
			} else if i == 0 || i == 5 {
				orphans++
			}
		}
	}
	ok := 0
	for _, e := range events {
		if e.status < 500 {
			ok++
		}
	}
	t.Logf("seed %d: %d calls (%d answered below 500), %d faults injected, %d sessions ended, %d listed sessions held by no browser, %d violations",
		seed, len(events), ok, flaky.injected.Load(), len(endedAt), orphans, violations)
}

// lastLoginOK reports whether browser i's last login answered 200.
func lastLoginOK(events []listEvent, i int) bool {
	ok := false
	for _, e := range events {
		if e.browser == i && e.op == "login" {
			ok = e.status == http.StatusSeeOther
		}
	}
	return ok
}

// handleOfCookie returns the handle of the session a cookie value names,
// or "" for no valid cookie.
func handleOfCookie(a *app, cookie string) string {
	id, _, ok := a.m.cookies.decode(cookie)
	if !ok {
		return ""
	}
	return a.m.store.handleOf(a.m.key(id))
}

// flakyClient fails one operation in eight before it reaches the store
// (as a timeout would) and stalls one in eight briefly, while faulty is
// set, at random from its seeded source.
type flakyClient struct {
	Client
	faulty   atomic.Bool
	injected atomic.Int64
	mu       sync.Mutex
	rng      *rand.Rand
}

var errInjected = errors.New("memcache: i/o timeout (injected)")

// fault decides the next operation's fate.
func (f *flakyClient) fault() error {
	if !f.faulty.Load() {
		return nil
	}
	f.mu.Lock()
	n := f.rng.IntN(8)
	f.mu.Unlock()
	switch n {
	case 0:
		f.injected.Add(1)
		return errInjected
	case 1:
		time.Sleep(time.Millisecond)
	}
	return nil
}

func (f *flakyClient) Get(key string) (*memcache.Item, error) {
	if err := f.fault(); err != nil {
		return nil, err
	}
	return f.Client.Get(key)
}

func (f *flakyClient) Add(item *memcache.Item) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Client.Add(item)
}

func (f *flakyClient) CompareAndSwap(item *memcache.Item) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Client.CompareAndSwap(item)
}

func (f *flakyClient) Delete(key string) error {
	if err := f.fault(); err != nil {
		return err
	}
	return f.Client.Delete(key)
}
