package ginsession

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/gin-gonic/gin"
)

func TestOptionsValidation(t *testing.T) {
	mem := NewMemoryClient()
	cases := []struct {
		name string
		opts Options
		want string // substring of the error; "" = valid
	}{
		{"defaults", Options{Secret: testSecret}, ""},
		{"short secret", Options{Secret: "short"}, "Secret must be at least 32 bytes"},
		{"secret of 31 bytes", Options{Secret: strings.Repeat("s", MinSecretLength-1)}, "Secret must be at least 32 bytes"},
		{"secret of exactly 32 bytes", Options{Secret: strings.Repeat("s", MinSecretLength)}, ""},
		{"short old secret", Options{Secret: testSecret, OldSecrets: []string{"x"}}, "OldSecrets[0]"},
		{"client and servers", Options{Secret: testSecret, Client: mem, Memcached: []string{"a:1"}}, "not both"},
		{"TLS with a Client", Options{Secret: testSecret, Client: mem, TLS: &tls.Config{}}, "with Client, set its DialContext"},
		{"TLS with servers", Options{Secret: testSecret, Memcached: []string{"a:1"}, TLS: &tls.Config{}}, ""},
		{"empty server", Options{Secret: testSecret, Memcached: []string{" "}}, `Memcached[0] " ": is empty`},
		{"blank server", Options{Secret: testSecret, Memcached: []string{""}}, `Memcached[0] "": is empty`},
		{"server without port", Options{Secret: testSecret, Memcached: []string{"127.0.0.1"}}, `Memcached[0] "127.0.0.1": want host:port`},
		{"servers in one string", Options{Secret: testSecret, Memcached: []string{"a:1,b:2"}}, `Memcached[0] "a:1,b:2": one host:port per entry`},
		{"server with bad port", Options{Secret: testSecret, Memcached: []string{"a:1", "b:99999"}}, `Memcached[1] "b:99999": the port`},
		{"server without host", Options{Secret: testSecret, Memcached: []string{":11211"}}, `want host:port`},
		{"unix socket", Options{Secret: testSecret, Memcached: []string{"/run/memcached.sock"}}, ""},
		{"relative unix socket", Options{Secret: testSecret, Memcached: []string{"run/memcached.sock"}}, ""},
		{"login url with a fragment", Options{Secret: testSecret, LoginURL: "/login#top"}, "fragment"},
		{"absolute login url with a fragment", Options{Secret: testSecret, LoginURL: "https://sso.example.com/login#x", PublicURL: "https://a.example"}, "fragment"},
		{"ipv6 server", Options{Secret: testSecret, Memcached: []string{"[::1]:11211"}}, ""},
		{"negative idle", Options{Secret: testSecret, IdleTimeout: -time.Second}, "must not be negative"},
		{"sub-second idle", Options{Secret: testSecret, IdleTimeout: time.Millisecond}, "at least one second"},
		{"bad cookie name", Options{Secret: testSecret, CookieName: "a b"}, "not a valid cookie name"},
		{"cookie path injection", Options{Secret: testSecret, CookiePath: "/; Domain=evil"}, "CookiePath"},
		{"bad samesite", Options{Secret: testSecret, SameSite: 9}, "SameSite"},
		{"samesite none insecure", Options{Secret: testSecret, SameSite: http.SameSiteNoneMode, InsecureCookie: true}, "requires Secure"},
		{"bad prefix", Options{Secret: testSecret, KeyPrefix: "a b"}, "KeyPrefix"},
		{"bad login url", Options{Secret: testSecret, LoginURL: "http://[::1"}, "LoginURL"},
		{"javascript login url", Options{Secret: testSecret, LoginURL: "javascript:alert(1)"}, "LoginURL"},
		{"protocol-relative login url", Options{Secret: testSecret, LoginURL: "//evil.example/login"}, "LoginURL"},
		{"relative login url", Options{Secret: testSecret, LoginURL: "login"}, "LoginURL"},
		{"absolute login url without PublicURL", Options{Secret: testSecret, LoginURL: "https://sso.example.com/login"}, "set PublicURL"},
		{"absolute login url", Options{Secret: testSecret, LoginURL: "https://sso.example.com/login?app=1", PublicURL: "https://shop.example.com"}, ""},
		{"bad public url", Options{Secret: testSecret, PublicURL: "shop.example.com"}, "PublicURL"},
		{"public url with query", Options{Secret: testSecret, PublicURL: "https://shop.example.com/?x=1"}, "PublicURL"},
		{"cookie domain with a space", Options{Secret: testSecret, CookieDomain: "exa mple.com"}, "CookieDomain"},
		{"cookie domain injection", Options{Secret: testSecret, CookieDomain: "example.com; Secure"}, "CookieDomain"},
		{"cookie domain", Options{Secret: testSecret, CookieDomain: ".example.com"}, ""},
		{"replicas", Options{Secret: testSecret, Memcached: []string{"a:1"}, Replicas: 2}, "Replicas (2) exceeds"},
		{"negative replicas", Options{Secret: testSecret, Replicas: -1}, "Replicas must not be negative"},
		{"negative max size", Options{Secret: testSecret, MaxSize: -1}, "MaxSize"},
		{"host prefix", Options{Secret: testSecret, CookieName: "__Host-sid"}, ""},
		{"host prefix insecure", Options{Secret: testSecret, CookieName: "__Host-sid", InsecureCookie: true}, "requires Secure"},
		{"host prefix with domain", Options{Secret: testSecret, CookieName: "__host-sid", CookieDomain: "example.com"}, "no CookieDomain"},
		{"host prefix with path", Options{Secret: testSecret, CookieName: "__Host-sid", CookiePath: "/app"}, "CookiePath"},
		{"secure prefix insecure", Options{Secret: testSecret, CookieName: "__Secure-sid", InsecureCookie: true}, "requires Secure"},
		{"secure prefix with domain", Options{Secret: testSecret, CookieName: "__Secure-sid", CookieDomain: "example.com"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewManager(tc.opts)
			if tc.want == "" {
				if err != nil || m == nil {
					t.Fatalf("valid options refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ginsession: ") {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, tc.want) {
					t.Errorf("New panicked with %q", msg)
				}
			}()
			New(tc.opts)
			t.Error("New did not panic")
		})
	}
}

func TestOptionDefaults(t *testing.T) {
	m, err := NewManager(Options{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	o := m.opts
	if o.IdleTimeout != 30*time.Minute || o.Lifetime != 24*time.Hour || o.CookieName != "session_id" || o.CookiePath != "/" ||
		o.SameSite != http.SameSiteLaxMode || o.KeyPrefix != "ginsession:" || o.LoginURL != "/login" || o.UserKey != "user_name" ||
		o.Replicas != 1 || o.MaxSize != DefaultMaxSize || len(o.Memcached) != 1 || o.Memcached[0] != "127.0.0.1:11211" ||
		o.ErrorHandler == nil || o.Logger == nil || o.MaxIdleConns != DefaultMaxIdleConns {
		t.Errorf("defaults: %+v", o)
	}
}

func TestDefaultMaxSizeFitsMemcached(t *testing.T) {
	a := newApp(t, backends()[0].client(t), Options{})
	var saveErr error
	a.engine.GET("/", func(c *gin.Context) {
		s := Default(c)
		s.Set("blob", make([]byte, DefaultMaxSize-200))
		saveErr = s.Save()
	})
	a.get("/")
	if saveErr != nil {
		t.Fatalf("a session just under DefaultMaxSize was refused: %v", saveErr)
	}
	if r := a.storedRecord(); r == nil || len(r.value("blob")) < DefaultMaxSize-200 {
		t.Fatal("memcached did not keep a session just under DefaultMaxSize")
	}
}

// TestDefaultMaxSizeFits checks, on both stores, that a session of
// DefaultMaxSize bytes under a key as long as the default one
// ("ginsession:" + 43) and then some is stored, read back and replaced.
func TestDefaultMaxSizeFits(t *testing.T) {
	forEachBackend(t, func(t *testing.T, c Client) {
		k := uniquePrefix()
		k += strings.Repeat("k", 60-len(k))
		v := bytes.Repeat([]byte{0xa5}, DefaultMaxSize)
		if err := c.Add(&memcache.Item{Key: k, Value: v, Expiration: 60}); err != nil {
			t.Fatalf("Add of DefaultMaxSize (%d) bytes with a 60-byte key: %v", DefaultMaxSize, err)
		}
		it, err := c.Get(k)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if !bytes.Equal(it.Value, v) {
			t.Fatalf("Get returned %d bytes, want the %d stored", len(it.Value), len(v))
		}
		it.Value[0] ^= 0xff
		if err := c.CompareAndSwap(it); err != nil {
			t.Fatalf("CompareAndSwap of DefaultMaxSize bytes: %v", err)
		}
	})
}
