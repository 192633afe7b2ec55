package main

import (
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestUsers(t *testing.T) {
	u := newUsers()
	alice := u.stamp("alice")
	if b, err := hex.DecodeString(alice); err != nil || len(b) != stampBytes {
		t.Fatalf("stamp %q: want %d random bytes in hex", alice, stampBytes)
	}
	if again := u.stamp("alice"); again != alice {
		t.Errorf("a user's stamp changed by itself: %q, then %q", alice, again)
	}
	if bob := u.stamp("bob"); bob == alice {
		t.Errorf("two users share the stamp %q", bob)
	}
	renewed := u.renew("alice")
	if renewed == alice || u.stamp("alice") != renewed {
		t.Errorf("renew: stamp %q -> %q, table holds %q", alice, renewed, u.stamp("alice"))
	}
	if s, err := u.userStamp(nil, "carol"); err != nil || s != u.stamp("carol") {
		t.Errorf("userStamp(carol) = %q, %v; want the table's stamp", s, err)
	}

	// Safe for concurrent use (go test -race): first lookups of one user
	// agree on one stamp, renewals included.
	var wg sync.WaitGroup
	seen := make([]string, 16)
	for i := range seen {
		wg.Go(func() {
			seen[i] = u.stamp("dave")
			u.renew("erin")
			u.stamp("erin")
		})
	}
	wg.Wait()
	for _, s := range seen {
		if s != seen[0] {
			t.Fatalf("concurrent first lookups of one user disagree: %q", seen)
		}
	}
}

// stampTestApp builds the app on a fresh memcached with a short StampCheck,
// so a revoked session notices within milliseconds.
func stampTestApp(t *testing.T, stampCheck time.Duration) http.Handler {
	t.Helper()
	cfg := testConfig(t, startMemcached(t).Addr)
	cfg.stampCheck = stampCheck
	h, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// loggedOutWithin requests / with b until it is sent to the login page, for
// at most limit (a bound on the wait, not a measure of speed), and fails the
// test if that never happens.
func loggedOutWithin(t *testing.T, b *browser, limit time.Duration) response {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		res := b.get("/")
		if res.StatusCode == http.StatusFound && res.Header.Get("Location") == "/login?next=%2F" {
			return res
		}
		res.expect(t, http.StatusOK, "") // still logged in: anything else is wrong
		if time.Now().After(deadline) {
			t.Fatalf("still logged in %v after the stamp changed", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLogoutEverywhere(t *testing.T) {
	const stampCheck = 50 * time.Millisecond
	h := stampTestApp(t, stampCheck)
	phone, laptop, erin := newBrowser(t, h), newBrowser(t, h), newBrowser(t, h)
	login(t, phone, "alice")
	login(t, laptop, "alice")
	login(t, erin, "erin")
	res := laptop.get("/")
	res.expect(t, http.StatusOK, "")
	if !strings.Contains(res.body, `<form method="post" action="/logout-everywhere">`) || !strings.Contains(res.body, "within 50ms") {
		t.Errorf("home page lacks the log-out-everywhere form and its delay:\n%s", res.body)
	}
	phoneCookie := phone.cookie

	// Anonymous and cross-site posts change nothing.
	newBrowser(t, h).post("/logout-everywhere", nil).expect(t, http.StatusForbidden, "")
	laptop.post("/logout-everywhere", nil, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example").expect(t, http.StatusForbidden, "")
	time.Sleep(2 * stampCheck) // let a stamp check fall due: the stamp must still match
	phone.get("/").expect(t, http.StatusOK, "")

	// The laptop logs out everywhere: it is logged out at once, with a flash.
	loggedIn := laptop.cookie
	laptop.post("/logout-everywhere", nil).expect(t, http.StatusSeeOther, "/login")
	if laptop.cookie == "" || laptop.cookie == loggedIn {
		t.Fatalf("log out everywhere must leave a new session (for the flash), got cookie %q", laptop.cookie)
	}
	if res := laptop.get("/login"); !strings.Contains(res.body, "You have been logged out everywhere.") {
		t.Errorf("login page lacks the flash:\n%s", res.body)
	}
	laptop.get("/").expect(t, http.StatusFound, "/login?next=%2F")
	laptop.with(loggedIn).get("/").expect(t, http.StatusFound, "/login?next=%2F")

	// The phone's session ends at its next stamp check: the session is
	// destroyed and its cookie expired.
	res = loggedOutWithin(t, phone, 10*time.Second)
	if res.cookie == nil || res.cookie.MaxAge >= 0 || phone.cookie != "" {
		t.Errorf("the ended session's cookie was not expired: Set-Cookie %q", res.Header.Values("Set-Cookie"))
	}
	phone.with(phoneCookie).get("/api/me").expectJSON(t, http.StatusUnauthorized, `{"error":"login required"}`)

	// Other users keep their sessions.
	erin.get("/").expect(t, http.StatusOK, "")

	// Alice signs in again: the new session carries the new stamp and
	// outlives its stamp checks.
	login(t, phone, "alice")
	time.Sleep(2 * stampCheck)
	phone.get("/").expect(t, http.StatusOK, "")
	phone.get("/api/me").expectJSON(t, http.StatusOK, `{"user":"alice"}`)
}
