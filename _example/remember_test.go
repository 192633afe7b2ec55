package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRememberMe checks that "Remember me" gives the cookie a Max-Age of
// RememberFor (the session's whole time, as the login just started it), that
// the login page says how long, and that without it the cookie is a
// browser-session cookie.
func TestRememberMe(t *testing.T) {
	for _, tc := range []struct {
		name        string
		rememberFor time.Duration // config; 0 = ginsession's default
		want        time.Duration
		label       string
	}{
		{"default", 0, 30 * 24 * time.Hour, "Remember me for 30 days"},
		{"configured", 7 * 24 * time.Hour, 7 * 24 * time.Hour, "Remember me for 7 days"},
		{"beyond memcached's 30-day relative limit", 45 * 24 * time.Hour, 45 * 24 * time.Hour, "Remember me for 45 days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, startMemcached(t).Addr)
			cfg.rememberFor = tc.rememberFor
			h, err := newApp(cfg)
			if err != nil {
				t.Fatal(err)
			}

			if body := newBrowser(t, h).get("/login").body; !strings.Contains(body, tc.label+"</label>") {
				t.Errorf("login page lacks %q:\n%s", tc.label, body)
			}

			b := newBrowser(t, h)
			res := login(t, b, "alice", "remember", "on")
			if res.cookie == nil {
				t.Fatal("remember me: no session cookie")
			}
			// The session's time starts at Login; a second boundary may
			// pass before the cookie is written, hence one second of slack.
			want := int(tc.want / time.Second)
			if got := res.cookie.MaxAge; got != want && got != want-1 {
				t.Errorf("remember me: Max-Age %d, want %d (RememberFor); Set-Cookie %q", got, want, res.Header.Values("Set-Cookie"))
			}
			// The session works; a cookie sent again stays persistent.
			res = b.get("/")
			res.expect(t, http.StatusOK, "")
			if res.cookie != nil && (res.cookie.MaxAge <= 0 || res.cookie.MaxAge > want) {
				t.Errorf("remember me, next request: Set-Cookie %q, want Max-Age in 1..%d", res.Header.Values("Set-Cookie"), want)
			}

			res = login(t, newBrowser(t, h), "bob")
			if res.cookie == nil || res.cookie.MaxAge != 0 || !res.cookie.Expires.IsZero() {
				t.Errorf("without remember me: want no Max-Age nor Expires, got %q", res.Header.Values("Set-Cookie"))
			}
		})
	}
}

func TestInWords(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{30 * 24 * time.Hour, "30 days"},
		{24 * time.Hour, "1 day"},
		{36 * time.Hour, "36 hours"},
		{time.Hour, "1 hour"},
		{90 * time.Minute, "90 minutes"},
		{time.Minute, "1 minute"},
		{61 * time.Second, "61 seconds"},
		{time.Second, "1 second"},
		{1500 * time.Millisecond, "1.5s"},
		{time.Millisecond, "1ms"},
		{0, "0s"},
	} {
		if got := inWords(tc.d); got != tc.want {
			t.Errorf("inWords(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
