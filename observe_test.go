package ginsession

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/memcluster"
)

// eventLog records what Options.Observe is told, from any goroutine.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) observe(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// take returns the events of kind since the last take, and forgets all.
func (l *eventLog) take(kind EventKind) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var of []Event
	for _, e := range l.events {
		if e.Kind == kind {
			of = append(of, e)
		}
	}
	l.events = nil
	return of
}

// observedApp is authApp (plus a session-reading /me) with an eventLog
// as Options.Observe.
func observedApp(t *testing.T, client Client, opts Options) (*app, *eventLog) {
	events := &eventLog{}
	opts.Observe = events.observe
	a := authApp(t, client, opts)
	faultRoutes(a)
	return a, events
}

// Each load reports what it found, once per request: the session, or why
// there was none (not stored, expired, unreadable, forged, a cookie that
// does not verify). A request without a session cookie reports nothing.
func TestObserveLoadResults(t *testing.T) {
	mem := NewMemoryClient()
	a, events := observedApp(t, mem, Options{})
	a.get("/me")
	if got := events.take(EventLoad); len(got) != 0 {
		t.Errorf("no cookie: %v, want no load event", got)
	}
	a.loginAs("alice")
	events.take(EventLoad)
	id := a.cookie[:idLen]
	key := a.m.key(id)
	old := time.Now().Add(-2 * DefaultIdleTimeout).Unix()
	other := a.sealed(newID(), recordOf(time.Now().Unix(), time.Now().Unix(), false, nil))
	for _, tc := range []struct {
		name  string
		setup func()
		want  LoadResult
	}{
		{"stored", func() {}, LoadFound},
		{"idle past IdleTimeout", func() { put(t, mem, key, a.sealed(id, recordOf(old, old, false, nil))) }, LoadExpired},
		{"not a record", func() { put(t, mem, key, []byte("\x92\x01garbage that is long enough to be sealed....")) }, LoadUnreadable},
		{"sealed for another key", func() { put(t, mem, key, other) }, LoadForged},
		{"gone", func() { _ = mem.Delete(key) }, LoadNotStored},
		{"signed with another secret", func() {
			a.cookie = newCookieCodec(DefaultCookieName, strings.Repeat("x", 32), nil).encode(id)
		}, LoadBadCookie},
	} {
		tc.setup()
		cookie := a.cookie
		a.get("/me")
		a.cookie = cookie
		if got := events.take(EventLoad); len(got) != 1 || got[0].Load != tc.want {
			t.Errorf("%s: load events %v, want one %v", tc.name, got, tc.want)
		}
	}
}

// put stores value under key with no expiration.
func put(t *testing.T, c Client, key string, value []byte) {
	t.Helper()
	if err := c.Set(&memcache.Item{Key: key, Value: value}); err != nil {
		t.Fatal(err)
	}
}

// A conflicting write reports the merges it took; one that gives up after
// MaxRetries reports FailureConflict, and so does its store error.
func TestObserveConflicts(t *testing.T) {
	race := newMergeRace()
	a, events := observedApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/a", func(c *gin.Context) {
		s := Default(c)
		s.Get("x")
		race.pause()
		s.Set("a", 1)
	})
	a.engine.GET("/b", func(c *gin.Context) { Default(c).Set("b", 1) })
	cookie := a.loginAs("alice")
	events.take(EventConflict)
	race.run(a, cookie, "/a", "/b")
	if got := events.take(EventConflict); len(got) != 1 || got[0].Merges != 1 || got[0].Failure != FailureNone {
		t.Errorf("a merged conflict: %v, want one EventConflict with 1 merge and no failure", got)
	}

	client := &conflictingClient{Client: NewMemoryClient()}
	b, events := observedApp(t, client, Options{MaxRetries: 3})
	b.loginAs("alice")
	events.take(EventConflict)
	b.engine.GET("/note", func(c *gin.Context) { Default(c).Set("note", "hi") })
	b.get("/note")
	var conflicts, failures []Event
	events.mu.Lock()
	for _, e := range events.events {
		switch e.Kind {
		case EventConflict:
			conflicts = append(conflicts, e)
		case EventStoreError:
			failures = append(failures, e)
		}
	}
	events.mu.Unlock()
	if len(conflicts) != 1 || conflicts[0].Merges != 3 || conflicts[0].Failure != FailureConflict {
		t.Errorf("a write that gave up: %v, want one EventConflict with 3 merges and FailureConflict", conflicts)
	}
	if len(failures) != 1 || failures[0].Failure != FailureConflict || !errors.Is(failures[0].Err, memcache.ErrCASConflict) {
		t.Errorf("store errors: %v, want one FailureConflict", failures)
	}
}

// Regenerations, destroys and stamp mismatches are reported once each
// when they happened, and not when they did not.
func TestObserveRegenerateDestroyStamp(t *testing.T) {
	users := &stampTable{stamps: map[string]string{}}
	clock := newFakeClock()
	a, events := observedApp(t, NewMemoryClient(), Options{UserStamp: users.stamp, StampCheck: time.Minute})
	a.m.now = clock.Now
	a.get("/login") // an anonymous session with data: stored, not logged in
	if got := events.take(EventRegenerate); len(got) != 0 {
		t.Errorf("a first write: %v, want no regeneration", got)
	}
	if rec := a.do(http.MethodPost, "/login", url.Values{"name": {"alice"}}); rec.Code != http.StatusSeeOther {
		t.Fatalf("login: %d", rec.Code)
	}
	if got := events.take(EventRegenerate); len(got) != 1 {
		t.Errorf("login over a stored session: %v, want one regeneration", got)
	}
	a.do(http.MethodPost, "/logout", nil)
	if got := events.take(EventDestroy); len(got) != 1 {
		t.Errorf("logout: %v, want one destroy", got)
	}
	a.loginAs("bob")
	events.take(EventStampMismatch)
	a.get("/private")
	if got := events.take(EventStampMismatch); len(got) != 0 {
		t.Errorf("an unchanged stamp: %v, want no mismatch", got)
	}
	users.rotate("bob")
	clock.Advance(2 * time.Minute)
	a.get("/private")
	if got := events.take(EventStampMismatch); len(got) != 1 {
		t.Errorf("a rotated stamp: %v, want one mismatch", got)
	}
}

// Every store call is reported with its command and duration: a login's
// Add, a read's Get, a logout's Delete; on a cluster the logout still
// leaves tombstones (the observer keeps the cluster's DeleteFor).
func TestObserveStoreCalls(t *testing.T) {
	a, events := observedApp(t, NewMemoryClient(), Options{})
	for _, step := range []struct {
		do   func()
		want []StoreOp
	}{
		{func() { a.loginAs("alice") }, []StoreOp{OpAdd}},
		{func() { a.get("/me") }, []StoreOp{OpGet}},
		{func() { a.do(http.MethodPost, "/logout", nil) }, []StoreOp{OpGet, OpDelete}},
	} {
		events.take(EventStoreCall)
		step.do()
		var ops []StoreOp
		for _, e := range events.take(EventStoreCall) {
			ops = append(ops, e.Op)
			if e.Duration < 0 || e.Failure != FailureNone {
				t.Errorf("store call %v: duration %v, failure %v", e.Op, e.Duration, e.Failure)
			}
		}
		if !slices.Equal(ops, step.want) {
			t.Errorf("store calls %v, want %v", ops, step.want)
		}
	}

	procs := []*memcachedProc{startMemcached(t), startMemcached(t)}
	cluster, err := memcluster.New([]string{procs[0].addr, procs[1].addr}, memcluster.Options{Replicas: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	c, _ := observedApp(t, cluster, Options{})
	c.loginAs("alice")
	key := c.m.key(c.cookie[:idLen])
	c.do(http.MethodPost, "/logout", nil)
	for _, p := range procs {
		if item, err := memcache.New(p.addr).Get(key); err != nil || item.Flags != memcluster.TombstoneFlags {
			t.Errorf("after an observed logout the server holds %v (%v), want a tombstone", item, err)
		}
	}
}

// A store failure is reported once, with its kind: memcached stopped,
// memcached hung, a session over MaxSize.
func TestObserveStoreErrors(t *testing.T) {
	mc := startMemcached(t)
	a, events := observedApp(t, memcache.New(mc.addr), Options{MaxSize: 300})
	a.engine.GET("/big", func(c *gin.Context) { Default(c).Set("blob", strings.Repeat("x", 400)) })
	a.get("/big")
	if got := events.take(EventStoreError); len(got) != 1 || got[0].Failure != FailureTooLarge {
		t.Errorf("oversized: %v, want one FailureTooLarge", got)
	}
	a.loginAs("alice")
	mc.srv.Pause(t)
	a.get("/me")
	mc.srv.Resume(t)
	if got := events.take(EventStoreError); len(got) != 1 || got[0].Failure != FailureTimeout {
		t.Errorf("memcached hung: %v, want one FailureTimeout", got)
	}
	mc.stop()
	a.get("/me")
	if got := events.take(EventStoreError); len(got) != 1 || got[0].Failure != FailureUnreachable {
		t.Errorf("memcached stopped: %v, want one FailureUnreachable", got)
	}
}

// A logout whose delete fails is one store error, and no destroy.
func TestObserveFailedDestroy(t *testing.T) {
	a, events := observedApp(t, &failingDelete{&countingClient{Client: NewMemoryClient()}}, Options{})
	a.loginAs("alice")
	events.take(EventStoreError)
	a.do(http.MethodPost, "/logout", nil)
	events.mu.Lock()
	defer events.mu.Unlock()
	var kinds []string
	for _, e := range events.events {
		if e.Kind != EventStoreCall && e.Kind != EventLoad {
			kinds = append(kinds, e.Kind.String()+"/"+e.Failure.String())
		}
	}
	if !slices.Equal(kinds, []string{"store_error/other"}) {
		t.Errorf("a failed logout reported %v, want [store_error/other] (the error is a bare errors.New)", kinds)
	}
}

func TestFailureOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want FailureKind
	}{
		{nil, FailureNone},
		{memcache.ErrCacheMiss, FailureNone},
		{memcache.ErrNotStored, FailureNone},
		{ErrSessionEnded, FailureNone},
		{fmt.Errorf("ginsession: save session: %w", memcluster.ErrTLS), FailureTLS},
		{fmt.Errorf("%w: 3 bytes", ErrTooLarge), FailureTooLarge},
		{memcluster.ErrUnconfirmed, FailureUnconfirmed},
		{fmt.Errorf("x: %w (gave up)", memcache.ErrCASConflict), FailureConflict},
		{&memcache.ConnectTimeoutError{}, FailureTimeout},
		{memcache.ErrNoServers, FailureUnreachable},
		{syscall.ECONNREFUSED, FailureUnreachable},
		{io.ErrUnexpectedEOF, FailureUnreachable},
		{memcache.ErrServerError, FailureServer},
		{errors.New("something else"), FailureOther},
	} {
		if got := failureOf(tc.err); got != tc.want {
			t.Errorf("failureOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// The enums print their names, so a failing test or a metric label says
// what it means; a value without a name prints its number.
func TestEventEnumsPrintTheirNames(t *testing.T) {
	for _, tc := range []struct {
		v    fmt.Stringer
		want string
	}{
		{EventLoad, "load"}, {EventStoreCall, "store_call"}, {EventKind(99), "EventKind(99)"},
		{LoadFound, "found"}, {LoadBadCookie, "bad_cookie"}, {LoadResult(0), "LoadResult(0)"},
		{OpCompareAndSwap, "cas"}, {OpTouch, "touch"},
		{FailureNone, "none"}, {FailureOther, "other"}, {FailureKind(42), "FailureKind(42)"},
	} {
		if got := tc.v.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.v, got, tc.want)
		}
	}
}
