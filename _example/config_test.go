package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	secret := strings.Repeat("s", 32)

	cfg, err := parseConfig(nil, env(), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != "localhost:8080" || strings.Join(cfg.memcached, ",") != "127.0.0.1:11211" || cfg.idle != 30*time.Minute || cfg.insecureCookie ||
		cfg.rememberFor != 30*24*time.Hour || cfg.stampCheck != time.Minute {
		t.Errorf("defaults: %+v", cfg)
	}
	if !cfg.randomSecret || len(cfg.secret) < 32 {
		t.Errorf("without SESSION_SECRET: want a random secret, got %d bytes, random=%v", len(cfg.secret), cfg.randomSecret)
	}
	if other, _ := parseConfig(nil, env(), io.Discard); other.secret == cfg.secret {
		t.Error("two random secrets are equal")
	}

	cfg, err = parseConfig(nil, env("ADDR", ":9000", "MEMCACHED", "a:1, b:2,", "SESSION_IDLE", "5m", "INSECURE_COOKIE", "true", "SESSION_SECRET", secret,
		"SESSION_REMEMBER_FOR", "168h", "SESSION_STAMP_CHECK", "10s"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != ":9000" || strings.Join(cfg.memcached, ",") != "a:1,b:2" || cfg.idle != 5*time.Minute || !cfg.insecureCookie || cfg.secret != secret || cfg.randomSecret ||
		cfg.rememberFor != 7*24*time.Hour || cfg.stampCheck != 10*time.Second {
		t.Errorf("from the environment: %+v", cfg)
	}

	cfg, err = parseConfig([]string{"-addr", "127.0.0.1:0", "-memcached", "c:3", "-idle", "1h", "-insecure-cookie=false", "-remember-for", "24h", "-stamp-check", "1s"},
		env("ADDR", ":9000", "MEMCACHED", "a:1", "SESSION_IDLE", "5m", "INSECURE_COOKIE", "1", "SESSION_REMEMBER_FOR", "168h", "SESSION_STAMP_CHECK", "10s"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.addr != "127.0.0.1:0" || strings.Join(cfg.memcached, ",") != "c:3" || cfg.idle != time.Hour || cfg.insecureCookie ||
		cfg.rememberFor != 24*time.Hour || cfg.stampCheck != time.Second {
		t.Errorf("flags must beat the environment: %+v", cfg)
	}

	for _, tc := range []struct {
		args []string
		env  func(string) string
	}{
		{nil, env("SESSION_IDLE", "soon")},
		{nil, env("INSECURE_COOKIE", "maybe")},
		{nil, env("SESSION_SECRET", "short")},
		{[]string{"-idle", "10ms"}, env()},
		{nil, env("SESSION_REMEMBER_FOR", "a month")},
		{nil, env("SESSION_STAMP_CHECK", "often")},
		{[]string{"-remember-for", "999ms"}, env()},
		{[]string{"-remember-for", "-1h"}, env()},
		{[]string{"-stamp-check", "0"}, env()},
		{[]string{"-stamp-check", "999us"}, env()},
		{[]string{"-memcached", " , "}, env()},
		{[]string{"extra"}, env()},
		{[]string{"-nope"}, env()},
	} {
		if _, err := parseConfig(tc.args, tc.env, io.Discard); err == nil {
			t.Errorf("parseConfig(%q) accepted a bad configuration", tc.args)
		}
	}
}

// TestParseConfigBounds checks the shortest accepted durations: exactly at
// each limit is fine (one past it is refused in TestParseConfig).
func TestParseConfigBounds(t *testing.T) {
	cfg, err := parseConfig([]string{"-idle", "1s", "-remember-for", "1s", "-stamp-check", "1ms"}, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.idle != minIdle || cfg.rememberFor != minRememberFor || cfg.stampCheck != minStampCheck {
		t.Errorf("at the limits: %+v", cfg)
	}
}
