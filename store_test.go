package ginsession

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
)

// Concurrent requests on one session: their CompareAndSwaps conflict and
// each commit re-reads and replays its own changes; a session deleted
// meanwhile stays deleted.

func TestConcurrentWritesToDifferentKeysAllSurvive(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
		// Every request loads first, then waits for all the others to have
		// loaded, so their CompareAndSwaps genuinely race.
		const n = 16
		var loaded sync.WaitGroup
		loaded.Add(n)
		a.engine.GET("/set/:k", func(c *gin.Context) {
			s := Default(c)
			s.Has("user_name")
			loaded.Done()
			loaded.Wait()
			s.Set("k"+c.Param("k"), c.Param("k"))
			s.AddFlash("f" + c.Param("k"))
			if err := s.Save(); err != nil {
				t.Errorf("Save: %v", err)
			}
		})
		a.get("/login")
		cookie := a.cookie
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if rec := a.serve("/set/"+strconv.Itoa(i), cookie); rec.Code != http.StatusOK {
					t.Errorf("request %d: %d", i, rec.Code)
				}
			})
		}
		wg.Wait()
		r := a.storedRecord()
		if r.value("user_name") == nil {
			t.Error("user_name lost")
		}
		for i := range n {
			if r.value(fmt.Sprintf("k%d", i)) == nil {
				t.Errorf("key k%d lost", i)
			}
		}
		if len(r.flashes) != n {
			t.Errorf("%d flashes stored, want %d", len(r.flashes), n)
		}
		// All loaded the same version before any wrote, so all but one
		// conflicted at least once: the merge path ran.
		if a.store.cas.Load() <= n {
			t.Errorf("only %d CAS calls: the requests did not conflict", a.store.cas.Load())
		}
	})
}

func TestConcurrentFlashConsumption(t *testing.T) {
	a := newApp(t, backends()[0].client(t), Options{})
	a.engine.GET("/add", func(c *gin.Context) { Default(c).AddFlash("one"); Default(c).AddFlash("two") })
	a.get("/add")
	cookie := a.cookie
	var loaded sync.WaitGroup
	loaded.Add(2)
	a.engine.GET("/race/:what", func(c *gin.Context) {
		s := Default(c)
		s.Has("x")
		loaded.Done()
		loaded.Wait()
		if c.Param("what") == "read" {
			s.Flashes()
		} else {
			s.AddFlash("three")
		}
	})
	var wg sync.WaitGroup
	for _, what := range []string{"read", "add"} {
		wg.Go(func() { a.serve("/race/"+what, cookie) })
	}
	wg.Wait()
	r := a.storedRecord()
	if len(r.flashes) != 1 || string(r.flashes[0]) != "\xa5three" {
		t.Fatalf("want only the concurrently added flash left, got %q", r.flashes)
	}
}

func TestSameKeyLastWriterWins(t *testing.T) {
	a := newApp(t, backends()[0].client(t), Options{})
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("color", "none") })
	a.get("/login")
	cookie := a.cookie
	first, second := make(chan struct{}), make(chan struct{})
	a.engine.GET("/color/:c", func(c *gin.Context) {
		s := Default(c)
		s.Has("color")
		if c.Param("c") == "red" {
			close(first)
			<-second // blue loads and commits between our load and commit
		}
		s.Set("color", c.Param("c"))
	})
	done := make(chan struct{})
	go func() { a.serve("/color/red", cookie); close(done) }()
	<-first
	a.serve("/color/blue", cookie)
	close(second)
	<-done
	if got := string(a.storedRecord().value("color")); got != "\xa3red" {
		t.Fatalf("color = %q, want the last writer's red", got)
	}
}

// TestMergeReplaysADelete: request A loads a session holding cart, request
// B sets color and commits, then A deletes cart and commits. A's
// CompareAndSwap conflicts, so its commit re-reads and replays its own
// changes: the stored session must lack cart (A's delete) and keep color
// (B's set).
func TestMergeReplaysADelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/fill", func(c *gin.Context) {
			s := Default(c)
			s.Set("user_name", "alice")
			s.Set("cart", "full")
		})
		aLoaded, bCommitted := make(chan struct{}), make(chan struct{})
		a.engine.GET("/empty-cart", func(c *gin.Context) {
			s := Default(c)
			if !s.Has("cart") {
				t.Error("request A did not load the cart")
			}
			close(aLoaded)
			<-bCommitted // B loads and commits between A's load and A's delete
			s.Delete("cart")
			c.String(http.StatusOK, "emptied")
		})
		a.engine.GET("/color", func(c *gin.Context) {
			Default(c).Set("color", "red")
			c.String(http.StatusOK, "colored")
		})
		a.get("/fill")
		cookie := a.cookie
		if r := a.storedRecord(); r == nil || r.value("cart") == nil {
			t.Fatal("the cart was not stored")
		}
		casBefore := a.store.cas.Load()

		done := make(chan *httptest.ResponseRecorder)
		go func() { done <- a.serve("/empty-cart", cookie) }()
		<-aLoaded
		recB := a.serve("/color", cookie)
		close(bCommitted)
		recA := <-done

		if recA.Code != http.StatusOK || recA.Body.String() != "emptied" {
			t.Errorf("request A: %d %q", recA.Code, recA.Body.String())
		}
		if recB.Code != http.StatusOK || recB.Body.String() != "colored" {
			t.Errorf("request B: %d %q", recB.Code, recB.Body.String())
		}
		// B's CompareAndSwap, A's conflicting one and A's merged retry.
		if n := a.store.cas.Load() - casBefore; n < 3 {
			t.Errorf("%d CompareAndSwap calls: A's commit did not conflict and merge", n)
		}
		r := a.storedRecord()
		if r == nil {
			t.Fatal("the session is gone from the store")
		}
		if got := r.value("cart"); got != nil {
			t.Errorf("cart = %q after A deleted it: the merge did not replay the delete", got)
		}
		if got := string(r.value("color")); got != "\xa3red" {
			t.Errorf("color = %q, want B's red kept by A's merge", got)
		}
		if got := string(r.value("user_name")); got != "\xa5alice" {
			t.Errorf("user_name = %q, want the untouched alice", got)
		}
	})
}

func TestDeletedSessionIsNotResurrected(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
		a.get("/login")
		cookie := a.cookie
		rec := a.logoutDuring(cookie, func(_ *gin.Context, s *Session) { s.Set("cart", "full") })
		key := a.m.key(cookie[:idLen])
		if _, err := client.Get(key); !isMiss(err) {
			t.Fatalf("logged-out session was written back (err %v)", err)
		}
		if got := rec.Header().Values("Set-Cookie"); len(got) != 0 {
			t.Errorf("the racing request must leave the cookie alone (a login elsewhere may own it), got %v", got)
		}
	})
}

func TestSaveReportsASessionEndedMeanwhile(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
		a.get("/login")
		cookie := a.cookie
		var saveErr error
		var after string
		rec := a.logoutDuring(cookie, func(c *gin.Context, s *Session) {
			s.Set("cart", "full")
			saveErr = s.Save()
			after = s.GetString("user_name")
			c.String(http.StatusOK, "page")
		})
		if !errors.Is(saveErr, ErrSessionEnded) {
			t.Errorf("Save of a session logged out meanwhile: %v, want ErrSessionEnded", saveErr)
		}
		if after != "" {
			t.Errorf("after Save the ended session still reads user %q", after)
		}
		if rec.Code != http.StatusOK || rec.Body.String() != "page" {
			t.Errorf("the handler's response was replaced: %d %q", rec.Code, rec.Body.String())
		}
		if _, err := client.Get(a.m.key(cookie[:idLen])); !isMiss(err) {
			t.Fatalf("logged-out session was written back (err %v)", err)
		}
	})
}

// Save refuses a session whose encoded record exceeds MaxSize.

func TestTooLarge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{MaxSize: 1000})
		var saveErr error
		a.engine.GET("/small", func(c *gin.Context) { Default(c).Set("k", "small") })
		a.engine.GET("/big", func(c *gin.Context) {
			s := Default(c)
			s.Set("k", strings.Repeat("x", 2000))
			saveErr = s.Save()
			c.String(http.StatusOK, "handled") // the handler answers the error itself
		})
		a.engine.GET("/big-auto", func(c *gin.Context) { Default(c).Set("k", strings.Repeat("x", 2000)) })
		a.get("/small")
		rec := a.get("/big")
		if !errors.Is(saveErr, ErrTooLarge) {
			t.Fatalf("Save = %v, want ErrTooLarge", saveErr)
		}
		if rec.Code != http.StatusOK {
			t.Errorf("a Save error handled by the handler must not replace its response: %d", rec.Code)
		}
		if got := a.storedRecord().value("k"); string(got) != "\xa5small" {
			t.Errorf("stored session changed: %q", got)
		}
		rec = a.get("/big-auto")
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "" {
			t.Errorf("automatic commit of an oversized session: status %d, Retry-After %q; want the default ErrorHandler's 503 without Retry-After (a retry cannot help; never a 500)", rec.Code, rec.Header().Get("Retry-After"))
		}
		if got := a.storedRecord().value("k"); string(got) != "\xa5small" {
			t.Errorf("stored session changed: %q", got)
		}
	})
}

// TestMaxSizeBoundary: a session whose encoded record is exactly MaxSize
// bytes is stored; one byte more and Save returns ErrTooLarge, leaving the
// stored bytes as they were. The record overhead (header, key, string
// header, flash list) is measured from what the store holds for a smaller
// value of the same string class, so the boundary is hit exactly.
func TestMaxSizeBoundary(t *testing.T) {
	const maxSize = 1000
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{MaxSize: maxSize})
		var size int // length of the value the next request stores
		var saveErr error
		a.engine.GET("/set", func(c *gin.Context) {
			s := Default(c)
			s.Set("k", strings.Repeat("x", size))
			saveErr = s.Save()
			c.String(http.StatusOK, "done")
		})
		stored := func() []byte {
			t.Helper()
			id, _, ok := a.m.cookies.decode(a.cookie)
			if !ok {
				t.Fatalf("jar holds no valid cookie (%q)", a.cookie)
			}
			item, err := a.store.Client.Get(a.m.key(id))
			if err != nil {
				t.Fatalf("get stored session: %v", err)
			}
			return item.Value
		}
		set := func(n int) (status int) {
			t.Helper()
			size, saveErr = n, nil
			return a.get("/set").Code
		}

		// 300 and the boundary length both take a str16 header.
		const probe = 300
		if set(probe); saveErr != nil {
			t.Fatalf("Save of a %d-byte value: %v", probe, saveErr)
		}
		overhead := len(stored()) - probe
		exact := maxSize - overhead
		if exact <= 0xff || exact >= 0xffff {
			t.Fatalf("boundary value length %d leaves the str16 class; pick another MaxSize", exact)
		}

		status := set(exact)
		if saveErr != nil {
			t.Fatalf("Save of a record of exactly MaxSize (%d) bytes: %v", maxSize, saveErr)
		}
		if status != http.StatusOK {
			t.Errorf("exactly MaxSize: status %d", status)
		}
		atLimit := stored()
		if len(atLimit) != maxSize {
			t.Fatalf("stored record is %d bytes, want exactly MaxSize %d", len(atLimit), maxSize)
		}
		r, err := decodeRecord(atLimit)
		if err != nil {
			t.Fatalf("stored record: %v", err)
		}
		if v := r.value("k"); len(v) != 3+exact {
			t.Fatalf("stored value is %d bytes, want %d", len(v), 3+exact)
		}

		status = set(exact + 1)
		if !errors.Is(saveErr, ErrTooLarge) {
			t.Fatalf("Save of a record of MaxSize+1 bytes = %v, want ErrTooLarge", saveErr)
		}
		if status != http.StatusOK {
			t.Errorf("a Save error handled by the handler must not replace its response: %d", status)
		}
		if after := stored(); string(after) != string(atLimit) {
			t.Errorf("the refused save changed the stored record (%d bytes, was %d)", len(after), len(atLimit))
		}
	})
}

// Two requests both due for the idle refresh: the second one's conflicting
// CompareAndSwap finds the refresh already done and writes nothing more.
func TestRefreshDoneByAnotherRequestIsNotRepeated(t *testing.T) {
	a, clock := clockApp(t, Options{IdleTimeout: 20 * time.Minute})
	aLoaded, bCommitted := make(chan struct{}), make(chan struct{})
	a.engine.GET("/slow-read", func(c *gin.Context) {
		name := Default(c).GetString("user_name")
		close(aLoaded)
		<-bCommitted
		c.String(http.StatusOK, name)
	})
	a.get("/login")
	cookie := a.cookie
	clock.Advance(6 * time.Minute) // past a quarter of IdleTimeout: both are due
	casBefore := a.store.cas.Load()
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- a.serve("/slow-read", cookie) }()
	<-aLoaded
	if rec := a.serve("/", cookie); rec.Body.String() != "alice" {
		t.Fatalf("request B read %q", rec.Body.String())
	}
	close(bCommitted)
	if rec := <-done; rec.Body.String() != "alice" {
		t.Fatalf("request A read %q", rec.Body.String())
	}
	// B's refresh, then A's conflicting one; no merged retry.
	if n := a.store.cas.Load() - casBefore; n != 2 {
		t.Errorf("%d CompareAndSwap calls for two refreshes of one session, want 2 (A must not rewrite B's refresh)", n)
	}
}

// A regeneration whose delete of the old ID fails takes its new copy back:
// the old session decides, and no second live copy of the data is left.
func TestRegenerationUndoneWhenTheOldIDCannotBeDeleted(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	var regenErr error
	a.engine.GET("/rotate", func(c *gin.Context) {
		s := Default(c)
		if err := s.Regenerate(); err != nil {
			t.Error(err)
		}
		regenErr = s.Save()
		c.String(http.StatusOK, "rotated")
	})
	a.get("/login")
	old := a.cookie
	id, _, _ := a.m.cookies.decode(old)
	client := &oldKeyUndeletable{Client: a.store, old: a.m.key(id)}
	a.m.store.client = client
	rec := a.get("/rotate")
	if regenErr == nil || sessionCookie(rec, "session_id") != nil {
		t.Fatalf("Save = %v, cookies %v; want the delete error and no new cookie", regenErr, rec.Header().Values("Set-Cookie"))
	}
	if client.added == "" {
		t.Fatal("the regeneration never stored its new copy")
	}
	if _, err := a.store.Client.Get(client.added); !isMiss(err) {
		t.Errorf("the new copy is still stored (err %v): two live copies of one session", err)
	}
	a.m.store.client = a.store
	if got := a.storedRecord(); got == nil || string(got.value("user_name")) != "\xa5alice" {
		t.Errorf("the old session was lost: %+v", got)
	}
}

// oldKeyUndeletable fails the Delete of one key, and remembers the key of
// the last Add.
type oldKeyUndeletable struct {
	Client
	old, added string
}

func (c *oldKeyUndeletable) Add(item *memcache.Item) error {
	err := c.Client.Add(item)
	if err == nil {
		c.added = item.Key
	}
	return err
}

func (c *oldKeyUndeletable) Delete(key string) error {
	if key == c.old {
		return errors.New("memcache: i/o timeout")
	}
	return c.Client.Delete(key)
}
