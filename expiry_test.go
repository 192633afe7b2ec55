package ginsession

import (
	"net/http"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/memcluster"
)

func TestIdleTimeoutEndsSession(t *testing.T) {
	a, clock := clockApp(t, Options{IdleTimeout: 10 * time.Minute})
	a.get("/login")
	clock.Advance(9 * time.Minute)
	if a.get("/").Body.String() != "alice" {
		t.Fatal("session ended before the idle timeout")
	}
	// The read above refreshed the idle deadline (9 min ≥ a quarter of 10).
	clock.Advance(9 * time.Minute)
	if a.get("/").Body.String() != "alice" {
		t.Fatal("activity did not extend the idle deadline")
	}
	clock.Advance(11 * time.Minute)
	if got := a.get("/").Body.String(); got != "" {
		t.Fatalf("session survived the idle timeout: %q", got)
	}
}

func TestIdleRefreshIsThrottled(t *testing.T) {
	a, clock := clockApp(t, Options{IdleTimeout: 20 * time.Minute})
	a.get("/login")
	writes := a.store.writes()
	for range 4 { // 4 requests within the first quarter (5 min)
		clock.Advance(time.Minute)
		a.get("/")
	}
	if n := a.store.writes() - writes; n != 0 {
		t.Fatalf("%d writes for reads within a quarter of IdleTimeout, want 0", n)
	}
	clock.Advance(time.Minute) // 5 minutes since the last write
	a.get("/")
	if n := a.store.writes() - writes; n != 1 {
		t.Fatalf("%d writes once a quarter of IdleTimeout passed, want 1", n)
	}
	if got := a.storedRecord().touched; got != clock.Now().Unix() {
		t.Errorf("refresh did not move the idle deadline: touched %d, now %d", got, clock.Now().Unix())
	}
	a.get("/")
	if n := a.store.writes() - writes; n != 1 {
		t.Fatalf("a second read right after the refresh wrote again")
	}
}

func TestLifetimeEndsActiveSession(t *testing.T) {
	a, clock := clockApp(t, Options{IdleTimeout: 30 * time.Minute, Lifetime: 2 * time.Hour})
	a.get("/login")
	for range 7 { // stay active: 7 × 15 min = 1h45
		clock.Advance(15 * time.Minute)
		if a.get("/").Body.String() != "alice" {
			t.Fatal("active session ended before its Lifetime")
		}
	}
	clock.Advance(16 * time.Minute)
	if got := a.get("/").Body.String(); got != "" {
		t.Fatalf("session outlived its Lifetime: %q", got)
	}
}

func TestExpirationCappedByLifetime(t *testing.T) {
	a, clock := clockApp(t, Options{IdleTimeout: time.Hour, Lifetime: 90 * time.Minute})
	a.get("/login")
	clock.Advance(80 * time.Minute)
	a.get("/") // refresh: the memcached TTL must not run past the Lifetime
	clock.Advance(11 * time.Minute)
	key := a.m.key(a.cookie[:idLen])
	if _, err := a.store.Client.Get(key); !isMiss(err) {
		t.Fatalf("memcached kept the session past its Lifetime (err %v)", err)
	}
}

func TestExpirationsBeyond30DaysAreAbsolute(t *testing.T) {
	// memcached reads an expiration above 30 days as a Unix time: sent as
	// relative seconds, 40 days would mean 1970 and expire at once.
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{IdleTimeout: 40 * 24 * time.Hour, Lifetime: 90 * 24 * time.Hour})
		a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
		a.engine.GET("/", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("user_name")) })
		a.get("/login")
		if got := a.get("/").Body.String(); got != "alice" {
			t.Fatalf("a 40-day session was gone at once: %q", got)
		}
	})
}

func TestExpiredStoredRecordIsNotReused(t *testing.T) {
	// A record whose timestamps are past the limits (for example written
	// under longer settings) yields a fresh session even if memcached
	// still returns it.
	client := NewMemoryClient()
	prefix := uniquePrefix()
	long := newApp(t, client, Options{KeyPrefix: prefix, IdleTimeout: 5 * time.Hour})
	long.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
	long.get("/login")
	short, _ := clockApp(t, Options{KeyPrefix: prefix, IdleTimeout: time.Hour})
	short.store.Client = client
	short.m.store.client = short.store
	short.m.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	short.cookie = long.cookie
	if got := short.get("/").Body.String(); got != "" {
		t.Fatalf("idle-expired record reused: %q", got)
	}
}

// Stored timestamps far in the future are not trusted: they would stretch
// the Lifetime and a persistent cookie's Max-Age. Servers' clocks may
// disagree a little, so a minute ahead is fine.
func TestImplausibleStoredTimestamps(t *testing.T) {
	for _, tc := range []struct {
		name             string
		created, touched time.Duration // relative to now
	}{
		{"created in the future", 2 * time.Hour, 2 * time.Hour},
		{"touched in the future", -time.Minute, 2 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, clock := clockApp(t, Options{Persistent: true})
			a.get("/login")
			id, _, _ := a.m.cookies.decode(a.cookie)
			now := clock.Now()
			r := &record{meta: meta{created: now.Add(tc.created).Unix(), touched: now.Add(tc.touched).Unix(), persistent: true}}
			r.set("user_name", []byte("\xa5alice"))
			if err := a.store.Client.Set(&memcache.Item{Key: a.m.key(id), Value: a.sealed(id, r), Expiration: 600}); err != nil {
				t.Fatal(err)
			}
			if got := a.get("/").Body.String(); got != "" {
				t.Fatalf("record with %s was trusted: user %q", tc.name, got)
			}
		})
	}
	a, clock := clockApp(t, Options{})
	a.get("/login")
	id, _, _ := a.m.cookies.decode(a.cookie)
	ahead := clock.Now().Add(time.Minute).Unix()
	r := &record{meta: meta{created: ahead, touched: ahead}}
	r.set("user_name", []byte("\xa5alice"))
	if err := a.store.Client.Set(&memcache.Item{Key: a.m.key(id), Value: a.sealed(id, r), Expiration: 600}); err != nil {
		t.Fatal(err)
	}
	if got := a.get("/").Body.String(); got != "alice" {
		t.Fatalf("a record one minute ahead was refused: %q", got)
	}
}

// "Remember me" keeps its promise: a persistent session stays valid
// RememberFor from login, however long it sits idle, and its cookie's
// Max-Age never outlives what the server keeps. Sessions without it keep
// IdleTimeout and Lifetime.
func TestRememberForOutlastsIdleTimeout(t *testing.T) {
	a, clock := clockApp(t, Options{IdleTimeout: 30 * time.Minute, Lifetime: 24 * time.Hour})
	a.engine.GET("/remember", func(c *gin.Context) {
		if err := Login(c, "alice"); err != nil {
			t.Error(err)
		}
		Default(c).SetPersistent(true)
	})
	rec := a.get("/remember")
	ck := sessionCookie(rec, "session_id")
	if want := int(DefaultRememberFor / time.Second); ck == nil || ck.MaxAge != want {
		t.Fatalf("remember-me cookie %v, want Max-Age %d (RememberFor)", ck, want)
	}
	clock.Advance(29 * 24 * time.Hour) // idle far past IdleTimeout and Lifetime
	rec = a.get("/")
	if rec.Body.String() != "alice" {
		t.Fatalf("remembered session gone after 29 idle days: %q", rec.Body.String())
	}
	if ck := sessionCookie(rec, "session_id"); ck != nil {
		t.Errorf("a read of a remembered session re-sent its cookie: %v", ck)
	}
	clock.Advance(24*time.Hour + time.Second) // past login + RememberFor
	if got := a.get("/").Body.String(); got != "" {
		t.Fatalf("remembered session outlived RememberFor: %q", got)
	}

	// Without remember-me, the idle timeout still ends it.
	a.cookie = ""
	a.get("/login")
	clock.Advance(31 * time.Minute)
	if got := a.get("/").Body.String(); got != "" {
		t.Fatalf("a browser session outlived IdleTimeout: %q", got)
	}
}

// A remembered session of more than 30 days is stored with an absolute
// expiration in real memcached (relative seconds over 30 days mean 1970),
// and its cookie's Max-Age matches what memcached keeps.
func TestRememberForBeyond30DaysInMemcached(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{RememberFor: 45 * 24 * time.Hour, Persistent: true})
		a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
		a.engine.GET("/", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("user_name")) })
		ck := sessionCookie(a.get("/login"), "session_id")
		if ck == nil || ck.MaxAge > 45*24*3600 || ck.MaxAge < 45*24*3600-5 {
			t.Fatalf("cookie %v, want Max-Age of 45 days", ck)
		}
		if got := a.get("/").Body.String(); got != "alice" {
			t.Fatalf("a 45-day remembered session was gone at once: %q", got)
		}
	})
}

// Turning "remember me" off on a session older than Lifetime keeps the
// visitor logged in as a browser session (stored as such, its other
// changes kept) whose Lifetime runs from then, never past what RememberFor
// promised.
func TestForgettingAnOldRememberedSession(t *testing.T) {
	a, clock := clockApp(t, Options{IdleTimeout: 24 * time.Hour, Lifetime: 24 * time.Hour, RememberFor: 30 * 24 * time.Hour})
	a.engine.GET("/remember", func(c *gin.Context) {
		s := Default(c)
		s.Set("user_name", "alice")
		s.SetPersistent(true)
	})
	var saveErr error
	a.engine.GET("/forget", func(c *gin.Context) {
		s := Default(c)
		s.SetPersistent(false)
		s.Set("note", "forgot")
		saveErr = s.Save()
	})
	a.get("/remember")
	clock.Advance(48 * time.Hour) // past Lifetime, within RememberFor
	rec := a.get("/forget")
	if saveErr != nil {
		t.Fatalf("Save after SetPersistent(false) = %v", saveErr)
	}
	if ck := sessionCookie(rec, "session_id"); ck == nil || ck.MaxAge != 0 {
		t.Errorf("cookie after forgetting %v, want a browser-session cookie", ck)
	}
	r := a.storedRecord()
	if r == nil || r.persistent || string(r.value("note")) != "\xa6forgot" {
		t.Fatalf("stored after forgetting: %+v", r)
	}
	clock.Advance(23 * time.Hour)
	if got := a.get("/").Body.String(); got != "alice" {
		t.Errorf("forgotten session ended before its new Lifetime: %q", got)
	}

	// Near the end of RememberFor, forgetting cannot stretch the session.
	a.cookie = ""
	a.get("/remember")
	clock.Advance(29*24*time.Hour + 12*time.Hour) // 12 h of RememberFor left
	a.get("/forget")
	clock.Advance(13 * time.Hour)
	if got := a.get("/").Body.String(); got != "" {
		t.Errorf("forgetting stretched the session past RememberFor: %q", got)
	}
}

// A remembered session that is read gets the same refresh write as a browser
// session (its end stays fixed), so every replica of a cluster holds it.
func TestRememberedSessionIsRefreshed(t *testing.T) {
	a, clock := clockApp(t, Options{IdleTimeout: 20 * time.Minute, Persistent: true})
	a.get("/login")
	before := a.storedRecord()
	writes := a.store.writes()
	clock.Advance(6 * time.Minute) // past a quarter of IdleTimeout
	a.get("/")
	after := a.storedRecord()
	if a.store.writes() != writes+1 || after.touched != clock.Now().Unix() || after.created != before.created {
		t.Errorf("read of a remembered session: %d writes, touched %d (now %d), created %d→%d; want one refresh keeping created",
			a.store.writes()-writes, after.touched, clock.Now().Unix(), before.created, after.created)
	}
}

// The expiry guards at their boundaries: a session with no second left is
// over (memcached would read an expiration of 0 as "never"), 30 days is the
// last relative expiration, and a stored record is dead at exactly its idle
// or absolute limit and trusted up to exactly maxClockSkew in the future.
func TestExpiryBoundaries(t *testing.T) {
	o := &Options{IdleTimeout: time.Hour, Lifetime: 2 * time.Hour, RememberFor: 40 * 24 * time.Hour}
	now := time.Unix(2_000_000_000, 0)
	born := now.Unix() - 2*3600
	if exp, ok := o.expiration(&record{meta: meta{created: born}}, now); ok {
		t.Errorf("no second left: expiration %d, ok; want the session over", exp)
	}
	if exp, ok := o.expiration(&record{meta: meta{created: born + 1}}, now); !ok || exp != 1 {
		t.Errorf("one second left: expiration %d, %v; want 1", exp, ok)
	}
	if got := memcluster.Expiration(now, memcluster.MaxRelativeExpiration); got != memcluster.MaxRelativeExpiration {
		t.Errorf("30 days: %d, want relative", got)
	}
	if got := memcluster.Expiration(now, memcluster.MaxRelativeExpiration+1); got != int32(now.Unix()+memcluster.MaxRelativeExpiration+1) {
		t.Errorf("30 days and a second: %d, want an absolute time", got)
	}
	t0 := now.Unix()
	skew := int64(maxClockSkew / time.Second)
	cases := []struct {
		name string
		r    record
		want bool
	}{
		{"touched exactly IdleTimeout ago", record{meta: meta{created: t0 - 10, touched: t0 - 3600}}, false},
		{"touched a second less", record{meta: meta{created: t0 - 10, touched: t0 - 3599}}, true},
		{"created exactly Lifetime ago", record{meta: meta{created: t0 - 7200, touched: t0 - 1}}, false},
		{"created a second less", record{meta: meta{created: t0 - 7199, touched: t0 - 1}}, true},
		{"created maxClockSkew ahead", record{meta: meta{created: t0 + skew, touched: t0}}, true},
		{"created a second more", record{meta: meta{created: t0 + skew + 1, touched: t0}}, false},
		{"touched maxClockSkew ahead", record{meta: meta{created: t0, touched: t0 + skew}}, true},
		{"touched a second more", record{meta: meta{created: t0, touched: t0 + skew + 1}}, false},
		{"remembered, exactly RememberFor", record{meta: meta{created: t0 - 40*24*3600, touched: t0 - 10*24*3600, persistent: true}}, false},
		{"remembered, a second less", record{meta: meta{created: t0 - 40*24*3600 + 1, touched: t0 - 10*24*3600, persistent: true}}, true},
	}
	for _, tc := range cases {
		if got := o.alive(&tc.r, now); got != tc.want {
			t.Errorf("%s: alive = %v, want %v", tc.name, got, tc.want)
		}
	}
}
