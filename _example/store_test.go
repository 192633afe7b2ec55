package main

import (
	"strings"
	"testing"
	"time"
)

// TestMemoryFallback runs without memcached: the app falls back to the
// in-process store, says so in the footer, and works.
func TestMemoryFallback(t *testing.T) {
	cfg := config{
		memcached:      []string{freeAddr(t)}, // nobody listens there
		idle:           time.Minute,
		secret:         testSecret,
		insecureCookie: true,
		logger:         testLogger(t),
	}
	h, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, h)
	res := b.get("/login")
	if !strings.Contains(res.body, "Sessions: in-process memory store (sessions end at restart)") {
		t.Errorf("footer does not name the memory store:\n%s", res.body)
	}
	res = login(t, b, "alice")
	if res.cookie == nil || res.cookie.Secure {
		t.Errorf("-insecure-cookie: want a cookie without Secure, got %q", res.Header.Values("Set-Cookie"))
	}
	if res := b.get("/"); !strings.Contains(res.body, "Hello, alice") || res.visits(t) != 1 {
		t.Errorf("home page on the memory store:\n%s", res.body)
	}
}
