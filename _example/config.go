package main

import (
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ginsession/ginsession"
)

// config is everything the example app needs to run. parseConfig fills it
// from flags with environment fallbacks; tests build it directly.
type config struct {
	// addr is the listen address ("host:port").
	addr string

	// memcached lists the memcached servers. When none of them answers at
	// start, the app falls back to ginsession.NewMemoryClient().
	memcached []string

	// idle is the session idle timeout (the seed's session_timeout).
	idle time.Duration

	// rememberFor is how long a "remember me" login lasts, idle or not
	// (Options.RememberFor). Zero means ginsession's default, 30 days.
	rememberFor time.Duration

	// stampCheck is how often a session re-checks its user's security
	// stamp, and so how soon "Log out everywhere" reaches other devices
	// (Options.StampCheck). Zero means ginsession's default, 1 minute.
	stampCheck time.Duration

	// secret signs the session cookie (the seed's session_secret).
	secret string

	// randomSecret is true when secret was generated at start, so sessions
	// do not survive a restart.
	randomSecret bool

	// insecureCookie leaves the Secure attribute off the session cookie, for
	// plain-HTTP serving on a hostname other than localhost.
	insecureCookie bool

	// logger receives the app's and the library's log lines.
	logger *slog.Logger

	// accessLog, when set, receives one line per request.
	accessLog io.Writer
}

// Defaults for the flags.
const (
	defaultAddr      = "localhost:8080"
	defaultMemcached = "127.0.0.1:11211"
	defaultIdle      = 30 * time.Minute
)

// Bounds of the durations accepted on the command line.
const (
	minIdle        = time.Second // memcached expirations are whole seconds
	minRememberFor = time.Second // as for idle
	minStampCheck  = time.Millisecond
)

// parseConfig reads the command line args (without the program name). Each
// flag falls back to an environment variable, looked up with getenv, and
// then to its default. SESSION_SECRET comes from the environment only, so it
// never shows in a process listing; without it a random secret is made.
func parseConfig(args []string, getenv func(string) string, output io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("ginsession-example", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run . [flags]\n\nThe ginsession example app: a login page, a protected home page, a JSON API,\nlogout and \"log out everywhere\".\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nEnvironment:\n  SESSION_SECRET  cookie signing secret, at least %d bytes (default: random, sessions end at restart)\n", ginsession.MinSecretLength)
	}

	idle, err := envDuration(getenv, "SESSION_IDLE", defaultIdle)
	if err != nil {
		return cfg, err
	}
	rememberFor, err := envDuration(getenv, "SESSION_REMEMBER_FOR", ginsession.DefaultRememberFor)
	if err != nil {
		return cfg, err
	}
	stampCheck, err := envDuration(getenv, "SESSION_STAMP_CHECK", ginsession.DefaultStampCheck)
	if err != nil {
		return cfg, err
	}
	insecure, err := envBool(getenv, "INSECURE_COOKIE")
	if err != nil {
		return cfg, err
	}
	var memcached string
	fs.StringVar(&cfg.addr, "addr", envString(getenv, "ADDR", defaultAddr), "listen `address` (env ADDR)")
	fs.StringVar(&memcached, "memcached", envString(getenv, "MEMCACHED", defaultMemcached), "comma-separated memcached `servers` (env MEMCACHED); unreachable: in-process memory store")
	fs.DurationVar(&cfg.idle, "idle", idle, "session idle `timeout` (env SESSION_IDLE)")
	fs.DurationVar(&cfg.rememberFor, "remember-for", rememberFor, "how long a \"Remember me\" login lasts, idle or not (env SESSION_REMEMBER_FOR)")
	fs.DurationVar(&cfg.stampCheck, "stamp-check", stampCheck, "how often a session re-checks its user's security stamp: \"Log out everywhere\" reaches other devices within this `interval` (env SESSION_STAMP_CHECK)")
	fs.BoolVar(&cfg.insecureCookie, "insecure-cookie", insecure, "leave Secure off the session cookie, for plain HTTP on a hostname other than localhost (env INSECURE_COOKIE)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (see -help)", fs.Arg(0))
	}
	for _, s := range strings.Split(memcached, ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.memcached = append(cfg.memcached, s)
		}
	}
	if len(cfg.memcached) == 0 {
		return cfg, fmt.Errorf("-memcached: no server given")
	}
	if cfg.idle < minIdle {
		return cfg, fmt.Errorf("-idle: %v is too short (at least %v)", cfg.idle, minIdle)
	}
	if cfg.rememberFor < minRememberFor {
		return cfg, fmt.Errorf("-remember-for: %v is too short (at least %v)", cfg.rememberFor, minRememberFor)
	}
	if cfg.stampCheck < minStampCheck {
		return cfg, fmt.Errorf("-stamp-check: %v is too short (at least %v)", cfg.stampCheck, minStampCheck)
	}
	cfg.secret = getenv("SESSION_SECRET")
	if cfg.secret == "" {
		cfg.secret = randomSecret()
		cfg.randomSecret = true
	} else if len(cfg.secret) < ginsession.MinSecretLength {
		return cfg, fmt.Errorf("SESSION_SECRET must be at least %d bytes (got %d); generate one with: openssl rand -base64 48", ginsession.MinSecretLength, len(cfg.secret))
	}
	return cfg, nil
}

// randomSecret returns 48 random bytes from crypto/rand, base64-encoded.
func randomSecret() string {
	b := make([]byte, 48)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// envString returns the environment variable name, or def when it is unset
// or empty.
func envString(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// envDuration parses the environment variable name as a time.Duration.
func envDuration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a duration (e.g. 30m, 2h)", name, v)
	}
	return d, nil
}

// envBool parses the environment variable name as a boolean.
func envBool(getenv func(string) string, name string) (bool, error) {
	v := getenv(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: not a boolean (true or false)", name, v)
	}
	return b, nil
}
