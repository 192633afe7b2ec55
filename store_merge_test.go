package ginsession

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
)

// TestMergeKeepsWhatTheMergedRecordIs: request A loads a browser session;
// request B turns on "remember me" and commits; A's write then conflicts
// and merges. The merged record is remembered, so it must be written with
// the remembered expiration, not A's idle one: after idling past
// IdleTimeout the user is still logged in.
func TestMergeKeepsWhatTheMergedRecordIs(t *testing.T) {
	a, clock := clockApp(t, Options{IdleTimeout: 30 * time.Minute})
	race := newMergeRace()
	a.engine.GET("/note", func(c *gin.Context) {
		s := Default(c)
		_ = s.Get("user_name")
		race.pause()
		s.Set("note", "hi")
		c.String(http.StatusOK, "noted")
	})
	a.engine.GET("/remember", func(c *gin.Context) {
		Default(c).SetPersistent(true)
		c.String(http.StatusOK, "remembered")
	})
	a.get("/login")
	race.run(a, a.cookie, "/note", "/remember")
	clock.Advance(2 * time.Hour) // idle far past IdleTimeout
	if got := a.get("/").Body.String(); got != "alice" {
		t.Fatalf("the remembered session is gone after the merge and an idle spell: %q", got)
	}
	if r := a.storedRecord(); r == nil || string(r.value("note")) != "\xa2hi" || !r.persistent {
		t.Fatalf("stored record after the merge: %+v", r)
	}
}

// mergeRace makes request A's commit conflict: A's handler calls pause
// between its load and its change, and request B, served meanwhile on the
// same cookie, commits first.
type mergeRace struct{ loaded, resume chan struct{} }

func newMergeRace() *mergeRace {
	return &mergeRace{loaded: make(chan struct{}), resume: make(chan struct{})}
}

// pause is called by A's handler after its load: it waits until B has
// committed.
func (m *mergeRace) pause() {
	close(m.loaded)
	<-m.resume
}

// run serves A at pathA and, while A waits, B at pathB, both on cookie; it
// fails unless both answer 200 and A's commit conflicted and merged (B's
// CompareAndSwap, A's conflicting one and A's retry).
func (m *mergeRace) run(a *app, cookie, pathA, pathB string) {
	a.t.Helper()
	casBefore := a.store.cas.Load()
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- a.serve(pathA, cookie) }()
	<-m.loaded
	recB := a.serve(pathB, cookie)
	close(m.resume)
	recA := <-done
	if recA.Code != http.StatusOK || recB.Code != http.StatusOK {
		a.t.Fatalf("requests: A %d, B %d", recA.Code, recB.Code)
	}
	if n := a.store.cas.Load() - casBefore; n < 3 {
		a.t.Fatalf("%d CompareAndSwap calls: A's commit did not conflict and merge", n)
	}
}

// conflictingClient answers every CompareAndSwap with a conflict, and
// counts them.
type conflictingClient struct {
	Client
	cas atomic.Int64
}

func (c *conflictingClient) CompareAndSwap(*memcache.Item) error {
	c.cas.Add(1)
	return memcache.ErrCASConflict
}

// TestMergeRetriesExactlyMaxRetries: against a store where every
// CompareAndSwap conflicts, a commit tries once and then re-reads and
// merges exactly MaxRetries times before it gives up, with an error that
// says so and matches memcache.ErrCASConflict.
func TestMergeRetriesExactlyMaxRetries(t *testing.T) {
	client := &conflictingClient{Client: NewMemoryClient()}
	a := newApp(t, client, Options{MaxRetries: 3})
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	var saveErr error
	a.engine.GET("/note", func(c *gin.Context) {
		s := Default(c)
		s.Set("note", "hi")
		saveErr = s.Save()
	})
	a.get("/login")
	a.get("/note")
	if n := client.cas.Load(); n != 4 {
		t.Errorf("%d CompareAndSwap calls, want 4 (one, then MaxRetries=3 merges)", n)
	}
	if !errors.Is(saveErr, memcache.ErrCASConflict) || !strings.Contains(saveErr.Error(), "gave up after 3") {
		t.Errorf("Save = %v, want an error that gave up after 3 merges", saveErr)
	}
}

// TestMergeReplaysAClear: request A clears the session and sets a theme;
// request B adds a note and commits between A's load and A's commit. A's
// merge replays the Clear as a Clear: the record holds exactly {theme}.
func TestMergeReplaysAClear(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/fill", func(c *gin.Context) {
			s := Default(c)
			s.Set("cart", "full")
			s.Set("role", "admin")
		})
		race := newMergeRace()
		a.engine.GET("/reset", func(c *gin.Context) {
			s := Default(c)
			_ = s.Get("cart")
			race.pause()
			s.Clear()
			s.Set("theme", "dark")
			c.String(http.StatusOK, "reset")
		})
		a.engine.GET("/note", func(c *gin.Context) {
			Default(c).Set("note", "hi")
			c.String(http.StatusOK, "noted")
		})
		a.get("/fill")
		race.run(a, a.cookie, "/reset", "/note")
		r := a.storedRecord()
		if r == nil {
			t.Fatal("the session is gone from the store")
		}
		var keys []string
		for k := range r.all() {
			keys = append(keys, k)
		}
		if len(keys) != 1 || string(r.value("theme")) != "\xa4dark" {
			t.Fatalf("stored keys %v after the merge, want exactly [theme]", keys)
		}
	})
}
