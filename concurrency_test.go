package ginsession

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
)

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

// A login racing with a logout in another tab still logs the user in, in a
// fresh session, and never brings the logged-out session back.
func TestLoginWhileTheOldSessionIsLoggedOut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/visit", func(c *gin.Context) { Default(c).Set("cart", "full") })
		a.get("/visit")
		old := a.cookie
		var loginErr error
		rec := a.logoutDuring(old, func(c *gin.Context, _ *Session) { loginErr = Login(c, "bob") })
		if loginErr != nil {
			t.Fatalf("Login: %v", loginErr)
		}
		ck := sessionCookie(rec, a.m.opts.CookieName)
		if ck == nil || ck.Value == "" || ck.MaxAge < 0 {
			t.Fatalf("login sent no session cookie: %v", rec.Header().Values("Set-Cookie"))
		}
		if _, err := client.Get(a.m.key(old[:idLen])); !isMiss(err) {
			t.Errorf("the logged-out session was written back (err %v)", err)
		}
		a.cookie = ck.Value
		r := a.storedRecord()
		if r == nil || string(r.value("user_name")) != "\xa3bob" || r.count() != 1 {
			t.Errorf("the new session holds %v, want only user_name=bob", r)
		}
	})
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
