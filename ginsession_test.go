package ginsession

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func TestNewSessionCookieAndStorage(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		var id string
		a.engine.GET("/", func(c *gin.Context) {
			s := Default(c)
			if s.ID() != "" || !s.IsNew() {
				t.Errorf("fresh session: ID %q IsNew %v", s.ID(), s.IsNew())
			}
			s.Set("user_name", "alice")
			id = s.ID()
			c.String(http.StatusOK, "ok")
		})
		rec := a.get("/")
		ck := sessionCookie(rec, "session_id")
		if ck == nil {
			t.Fatalf("no session cookie; headers %v", rec.Header())
		}
		if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge != 0 || !ck.Expires.IsZero() {
			t.Errorf("cookie attributes: %+v", ck)
		}
		if raw, _ := base64.RawURLEncoding.DecodeString(id); len(raw) != 32 {
			t.Errorf("ID %q is not 32 base64url bytes", id)
		}
		if !strings.HasPrefix(ck.Value, id+".") || len(ck.Value) != cookieLen {
			t.Errorf("cookie %q does not carry ID and tag", ck.Value)
		}
		if got := rec.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", got)
		}
		if got := rec.Header().Get("Vary"); got != "Cookie" {
			t.Errorf("Vary %q, want Cookie", got)
		}
		sum := sha256.Sum256([]byte(id))
		key := a.m.opts.KeyPrefix + base64.RawURLEncoding.EncodeToString(sum[:])
		item, err := client.Get(key)
		if err != nil {
			t.Fatalf("memcached has no %s: %v", key, err)
		}
		if strings.Contains(string(item.Value), id) || strings.Contains(key, id) {
			t.Error("memcached key or value reveals the session ID")
		}
		if a.storedRecord().value("user_name") == nil {
			t.Error("stored record lacks user_name")
		}
		// The next request reads it back with one Get and writes nothing.
		a.engine.GET("/read", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("user_name")) })
		gets, writes := a.store.gets.Load(), a.store.writes()
		rec = a.get("/read")
		if rec.Body.String() != "alice" {
			t.Errorf("read %q", rec.Body.String())
		}
		if a.store.gets.Load()-gets != 1 || a.store.writes() != writes {
			t.Errorf("read cost %d gets and %d writes, want 1 and 0", a.store.gets.Load()-gets, a.store.writes()-writes)
		}
		if rec.Header().Get("Set-Cookie") != "" {
			t.Error("unchanged session re-sent its cookie")
		}
	})
}

func TestSetPersistentSendsMaxAge(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{RememberFor: time.Hour})
	a.engine.GET("/login", func(c *gin.Context) { Default(c).Set("u", "x") })
	a.engine.GET("/remember", func(c *gin.Context) { Default(c).SetPersistent(true) })
	a.engine.GET("/forget", func(c *gin.Context) { Default(c).SetPersistent(false) })
	if ck := sessionCookie(a.get("/login"), "session_id"); ck == nil || ck.MaxAge != 0 {
		t.Fatalf("browser-session cookie expected, got %+v", ck)
	}
	ck := sessionCookie(a.get("/remember"), "session_id")
	if ck == nil || ck.MaxAge <= 3500 || ck.MaxAge > 3600 {
		t.Fatalf("persistent cookie expected with Max-Age ≈ RememberFor, got %+v", ck)
	}
	if !a.storedRecord().persistent {
		t.Error("persistence not stored")
	}
	if ck := sessionCookie(a.get("/forget"), "session_id"); ck == nil || ck.MaxAge != 0 {
		t.Fatalf("browser-session cookie expected after SetPersistent(false), got %+v", ck)
	}
}

type profile struct {
	Name  string   `json:"name"`
	Age   int      `json:"age"`
	Roles []string `json:"roles"`
}

func TestValuesKeepTheirTypesAcrossRoundTrip(t *testing.T) {
	when := time.Date(2026, 11, 25, 10, 30, 0, 123456789, time.UTC)
	want := map[string]any{
		"int":     int64(42),
		"neg":     int64(-7),
		"int8":    int64(3),
		"uint64":  uint64(math.MaxUint64),
		"float32": float64(float32(1.5)),
		"float":   2.25,
		"string":  "héllo",
		"bytes":   []byte{0, 1, 2},
		"bool":    true,
		"nil":     nil,
		"slice":   []any{int64(1), "two"},
		"map":     map[string]any{"a": int64(1), "b": []any{true}},
		"struct":  map[string]any{"name": "bob", "age": int64(30), "roles": []any{"admin"}},
		"intmap":  map[string]any{"1": "a", "-2": "b"},
	}
	inputs := map[string]any{
		"int": 42, "neg": int16(-7), "int8": int8(3), "uint64": uint64(math.MaxUint64), "float32": float32(1.5),
		"float": 2.25, "string": "héllo", "bytes": []byte{0, 1, 2}, "bool": true, "nil": nil,
		"slice": []any{1, "two"}, "map": map[string]any{"a": 1, "b": []bool{true}},
		"struct": profile{Name: "bob", Age: 30, Roles: []string{"admin"}},
		"intmap": map[int]string{1: "a", -2: "b"},
	}
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		check := func(t *testing.T, s *Session, when string) {
			for k, w := range want {
				if got := s.Get(k); !reflect.DeepEqual(got, w) {
					t.Errorf("%s: Get(%q) = %#v (%T), want %#v (%T)", when, k, got, got, w, w)
				}
			}
			if got := s.GetTime("time"); !got.Equal(time.Date(2026, 11, 25, 10, 30, 0, 123456789, time.UTC)) {
				t.Errorf("%s: GetTime = %v", when, got)
			}
		}
		a.engine.GET("/set", func(c *gin.Context) {
			s := Default(c)
			for k, v := range inputs {
				s.Set(k, v)
			}
			s.Set("time", when)
			check(t, s, "same request")
		})
		a.engine.GET("/get", func(c *gin.Context) {
			s := Default(c)
			check(t, s, "next request")
			var p profile
			if err := s.Scan("struct", &p); err != nil || !reflect.DeepEqual(p, profile{"bob", 30, []string{"admin"}}) {
				t.Errorf("Scan struct = %+v, %v", p, err)
			}
			var n int
			if err := s.Scan("int", &n); err != nil || n != 42 {
				t.Errorf("Scan int = %d, %v", n, err)
			}
			if err := s.Scan("missing", &n); !errors.Is(err, ErrKeyNotFound) {
				t.Errorf("Scan missing: %v", err)
			}
			if s.GetInt("int") != 42 || s.GetInt64("neg") != -7 || s.GetFloat64("float") != 2.25 || s.GetFloat64("int") != 42 ||
				!s.GetBool("bool") || s.GetString("string") != "héllo" || string(s.GetBytes("bytes")) != "\x00\x01\x02" {
				t.Error("typed getters returned wrong values")
			}
			if s.GetInt("string") != 0 || s.GetString("int") != "" || s.GetBool("missing") || !s.GetTime("int").IsZero() ||
				s.GetInt("uint64") != 0 || s.GetBytes("int") != nil {
				t.Error("typed getters on a mismatched type must return the zero value")
			}
		})
		a.get("/set")
		a.get("/get")
	})
}

func TestSetUnencodableValue(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	var saveErr error
	a.engine.GET("/", func(c *gin.Context) {
		s := Default(c)
		s.Set("good", 1)
		s.Set("bad", make(chan int))
		if s.Has("bad") {
			t.Error("unencodable value was kept")
		}
		saveErr = s.Save()
	})
	a.get("/")
	if saveErr == nil || !strings.Contains(saveErr.Error(), `"bad"`) {
		t.Fatalf("Save error %v does not name the key", saveErr)
	}
	if r := a.storedRecord(); r == nil || r.value("good") == nil {
		t.Error("the valid change was not stored")
	}
	if !strings.Contains(a.logs.String(), "bad") {
		t.Error("the failure was not logged")
	}
}

func TestSetTooDeeplyNestedValue(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	var saveErr error
	a.engine.GET("/", func(c *gin.Context) {
		var deep any = "leaf"
		for range maxDepth + 5 {
			deep = []any{deep}
		}
		s := Default(c)
		s.Set("user_name", "alice")
		s.Set("deep", deep)
		saveErr = s.Save()
	})
	a.engine.GET("/me", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("user_name")) })
	a.get("/")
	if saveErr == nil || !strings.Contains(saveErr.Error(), `"deep"`) {
		t.Fatalf("Save error %v does not name the key", saveErr)
	}
	if got := a.get("/me").Body.String(); got != "alice" {
		t.Fatalf("session unreadable after a too-deep Set: %q", got)
	}
}

func TestMapOperationsAndFlashes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/fill", func(c *gin.Context) {
			s := Default(c)
			s.Set("b", 2)
			s.Set("a", 1)
			s.Set("c", 3)
			s.AddFlash("saved")
			s.AddFlash(map[string]any{"level": "info"})
		})
		a.engine.GET("/edit", func(c *gin.Context) {
			s := Default(c)
			if got := s.Keys(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
				t.Errorf("Keys %v", got)
			}
			if got := s.Pop("b"); got != int64(2) {
				t.Errorf("Pop %v", got)
			}
			s.Delete("c")
			s.Delete("absent")
			if s.Has("b") || s.Has("c") || !s.Has("a") {
				t.Error("Pop/Delete/Has disagree")
			}
		})
		a.engine.GET("/flashes", func(c *gin.Context) {
			s := Default(c)
			got := s.Flashes()
			if !reflect.DeepEqual(got, []any{"saved", map[string]any{"level": "info"}}) {
				t.Errorf("Flashes %#v", got)
			}
			if s.Flashes() != nil {
				t.Error("Flashes did not clear")
			}
		})
		a.engine.GET("/clear", func(c *gin.Context) { Default(c).Clear() })
		a.engine.GET("/keys", func(c *gin.Context) {
			s := Default(c)
			c.String(http.StatusOK, "%v %d", s.Keys(), len(s.Flashes()))
		})
		a.get("/fill")
		a.get("/edit")
		a.get("/flashes")
		if got := a.get("/keys").Body.String(); got != "[a] 0" {
			t.Errorf("after edit and reading flashes: %q", got)
		}
		a.get("/fill")
		a.get("/clear")
		if got := a.get("/keys").Body.String(); got != "[] 0" {
			t.Errorf("after Clear: %q", got)
		}
	})
}

func TestFlashAddedAndReadInOneRequestStaysRead(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	a.engine.GET("/", func(c *gin.Context) {
		s := Default(c)
		s.Set("k", 1)
		_ = s.Save() // later commits take the re-read and replay path
		s.AddFlash("hello")
		s.Flashes()
	})
	a.engine.GET("/next", func(c *gin.Context) { c.String(http.StatusOK, "%d", len(Default(c).Flashes())) })
	a.get("/")
	if got := a.get("/next").Body.String(); got != "0" {
		t.Fatalf("a flash read in the request that added it came back: %s", got)
	}
}

func TestRegenerate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/set", func(c *gin.Context) { Default(c).Set("cart", "3 items") })
		a.engine.GET("/regen", func(c *gin.Context) {
			s := Default(c)
			old := s.ID()
			if err := s.Regenerate(); err != nil {
				t.Error(err)
			}
			if s.ID() == old || s.ID() == "" {
				t.Error("Regenerate kept the ID")
			}
		})
		a.engine.GET("/", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("cart")) })
		a.get("/set")
		oldCookie := a.cookie
		oldKey := a.m.key(oldCookie[:idLen])
		rec := a.get("/regen")
		if sessionCookie(rec, "session_id") == nil || a.cookie == oldCookie {
			t.Fatal("no new cookie after Regenerate")
		}
		if got := a.get("/").Body.String(); got != "3 items" {
			t.Errorf("data lost on Regenerate: %q", got)
		}
		if _, err := client.Get(oldKey); !isMiss(err) {
			t.Errorf("old key still stored (err %v)", err)
		}
		a.cookie = oldCookie
		if got := a.get("/").Body.String(); got != "" {
			t.Error("old cookie still works")
		}
	})
}

func TestDestroy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, client Client) {
		a := newApp(t, client, Options{})
		a.engine.GET("/set", func(c *gin.Context) { Default(c).Set("user_name", "alice") })
		a.engine.GET("/logout", func(c *gin.Context) {
			if err := Default(c).Destroy(); err != nil {
				t.Error(err)
			}
		})
		a.engine.GET("/logout-and-flash", func(c *gin.Context) {
			s := Default(c)
			old := s.ID()
			if err := s.Destroy(); err != nil {
				t.Error(err)
			}
			if s.Has("user_name") || s.ID() != "" || !s.IsNew() {
				t.Error("Destroy left data behind")
			}
			s.AddFlash("bye")
			if s.ID() == "" || s.ID() == old {
				t.Error("Set after Destroy must start a new session with a new ID")
			}
		})
		a.get("/set")
		oldKey := a.m.key(a.cookie[:idLen])
		rec := a.get("/logout")
		ck := sessionCookie(rec, "session_id")
		if ck == nil || ck.MaxAge >= 0 || !strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("cookie not expired: %v", rec.Header().Values("Set-Cookie"))
		}
		if _, err := client.Get(oldKey); !isMiss(err) {
			t.Error("session still in memcached after Destroy")
		}
		a.get("/set")
		oldCookie := a.cookie
		rec = a.get("/logout-and-flash")
		if cks := rec.Header().Values("Set-Cookie"); len(cks) != 1 {
			t.Errorf("want exactly one Set-Cookie, got %v", cks)
		}
		if a.cookie == "" || a.cookie == oldCookie {
			t.Fatal("no fresh session cookie after Destroy+AddFlash")
		}
		if r := a.storedRecord(); r == nil || len(r.flashes) != 1 || r.count() != 0 {
			t.Errorf("fresh session stored wrongly: %+v", r)
		}
	})
}

func TestDefaultPanicsWithoutMiddleware(t *testing.T) {
	r := gin.New()
	var msg any
	r.GET("/", func(c *gin.Context) {
		defer func() { msg = recover() }()
		Default(c)
	})
	r.ServeHTTP(httptestRecorder(), httptestRequest("/"))
	if s, _ := msg.(string); !strings.Contains(s, "r.Use(ginsession.New(opts))") {
		t.Fatalf("panic %v does not name the fix", msg)
	}
}

// A value that failed to encode is reported by Save even when the session
// was destroyed in between.
func TestDestroyKeepsEncodeError(t *testing.T) {
	a := newApp(t, NewMemoryClient(), Options{})
	var saveErr error
	a.engine.GET("/", func(c *gin.Context) {
		s := Default(c)
		s.Set("bad", make(chan int))
		_ = s.Destroy()
		saveErr = s.Save()
	})
	a.get("/")
	if saveErr == nil || !strings.Contains(saveErr.Error(), `"bad"`) {
		t.Errorf("Save = %v, want the encode error naming \"bad\"", saveErr)
	}
}

// A change whose Save failed belongs to the handler: a later Regenerate in
// the same request does not store it behind the handler's back.
func TestFailedSaveIsNotStoredByALaterCommit(t *testing.T) {
	fo := &failOnce{Client: NewMemoryClient(), err: errors.New("server error")}
	a := newApp(t, fo, Options{})
	a.engine.GET("/start", func(c *gin.Context) { Default(c).Set("role", "user") })
	a.engine.GET("/promote", func(c *gin.Context) {
		s := Default(c)
		fo.op = "cas"
		s.Set("role", "admin")
		if err := s.Save(); err == nil {
			t.Fatal("Save succeeded")
		}
		_ = s.Regenerate()
		c.String(http.StatusOK, "ok")
	})
	a.engine.GET("/role", func(c *gin.Context) { c.String(http.StatusOK, Default(c).GetString("role")) })
	a.get("/start")
	a.get("/promote")
	if got := a.get("/role").Body.String(); got != "user" {
		t.Fatalf("role = %q after a failed Save: the dropped change was stored by Regenerate", got)
	}
}
