package ginsession_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
)

func init() {
	// Keep Gin's debug route listing out of the examples' output.
	gin.SetMode(gin.TestMode)
}

// exampleSecret stands in for a real secret: use 32+ random bytes from the
// environment (openssl rand -base64 48), never a constant in source code.
const exampleSecret = "example-secret-0123456789abcdef-0123456789"

// browser replays the cookies a server sets, as a browser would.
type browser struct {
	h       http.Handler
	cookies map[string]*http.Cookie
}

func newBrowser(h http.Handler) *browser {
	return &browser{h: h, cookies: map[string]*http.Cookie{}}
}

// do sends a request (a form body when form is not nil) and keeps the
// response's cookies.
func (b *browser) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	for _, ck := range b.cookies {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		if ck.MaxAge < 0 {
			delete(b.cookies, ck.Name)
		} else {
			b.cookies[ck.Name] = ck
		}
	}
	return rec
}

// Log in with a form, then reach a page that Authenticated protects.
func Example() {
	r := gin.New()
	r.Use(ginsession.New(ginsession.Options{
		Secret: exampleSecret,                // os.Getenv("SESSION_SECRET") in real code
		Client: ginsession.NewMemoryClient(), // or leave unset to use Memcached
	}))

	r.POST("/login", func(c *gin.Context) {
		if c.PostForm("password") != "open sesame" { // check the real password here
			c.String(http.StatusUnauthorized, "wrong name or password")
			return
		}
		// Login gives the session a new ID and stores the user name.
		if err := ginsession.Login(c, c.PostForm("name")); err != nil {
			c.String(http.StatusServiceUnavailable, "please try again")
			return
		}
		c.Redirect(http.StatusSeeOther, ginsession.NextURL(c, "/"))
	})

	private := r.Group("/", ginsession.Authenticated())
	private.GET("/", func(c *gin.Context) {
		c.String(http.StatusOK, "Hello, %s", ginsession.User(c))
	})

	b := newBrowser(r)
	rec := b.do(http.MethodGet, "/", nil)
	fmt.Println("GET /:", rec.Code, rec.Header().Get("Location"))

	rec = b.do(http.MethodPost, "/login?next=%2F", url.Values{"name": {"alice"}, "password": {"open sesame"}})
	fmt.Println("POST /login:", rec.Code, rec.Header().Get("Location"))

	rec = b.do(http.MethodGet, "/", nil)
	fmt.Println("GET /:", rec.Code, rec.Body.String())
	// Output:
	// GET /: 302 /login?next=%2F
	// POST /login: 303 /
	// GET /: 200 Hello, alice
}

// Values keep their dynamic type across the trip through memcached: any
// integer comes back as int64, any float as float64, slices as []any and
// maps as map[string]any.
func ExampleSession_Set() {
	r := gin.New()
	r.Use(ginsession.New(ginsession.Options{Secret: exampleSecret, Client: ginsession.NewMemoryClient()}))
	r.GET("/set", func(c *gin.Context) {
		s := ginsession.Default(c)
		s.Set("visits", 1)
		s.Set("ratio", float32(0.5))
		s.Set("name", "alice")
		s.Set("roles", []string{"admin", "dev"})
		s.Set("prefs", map[string]bool{"dark": true})
		c.Status(http.StatusNoContent)
	})
	r.GET("/get", func(c *gin.Context) {
		s := ginsession.Default(c)
		for _, k := range s.Keys() {
			v := s.Get(k)
			fmt.Printf("%s: %T %v\n", k, v, v)
		}
		fmt.Println("GetInt(visits):", s.GetInt("visits"))
		c.Status(http.StatusNoContent)
	})

	b := newBrowser(r)
	b.do(http.MethodGet, "/set", nil)
	b.do(http.MethodGet, "/get", nil)
	// Output:
	// name: string alice
	// prefs: map[string]interface {} map[dark:true]
	// ratio: float64 0.5
	// roles: []interface {} [admin dev]
	// visits: int64 1
	// GetInt(visits): 1
}

// Scan decodes a stored value into its real type, structs included. Structs
// need no registration, and plain json tags are honoured.
func ExampleSession_Scan() {
	type Cart struct {
		Items []string `json:"items"`
		Total float64  `json:"total"`
	}

	r := gin.New()
	r.Use(ginsession.New(ginsession.Options{Secret: exampleSecret, Client: ginsession.NewMemoryClient()}))
	r.GET("/add", func(c *gin.Context) {
		ginsession.Default(c).Set("cart", Cart{Items: []string{"book", "pen"}, Total: 12.5})
		c.Status(http.StatusNoContent)
	})
	r.GET("/checkout", func(c *gin.Context) {
		s := ginsession.Default(c)
		var cart Cart
		if err := s.Scan("cart", &cart); err != nil {
			fmt.Println("scan:", err)
			return
		}
		fmt.Printf("%+v\n", cart)
		fmt.Println("Get gives a map:", s.Get("cart"))
		fmt.Println("missing key:", s.Scan("wishlist", &cart))
		c.Status(http.StatusNoContent)
	})

	b := newBrowser(r)
	b.do(http.MethodGet, "/add", nil)
	b.do(http.MethodGet, "/checkout", nil)
	// Output:
	// {Items:[book pen] Total:12.5}
	// Get gives a map: map[items:[book pen] total:12.5]
	// missing key: ginsession: scan "wishlist": ginsession: key not found
}

// Anonymous GET and HEAD requests are sent to the login page with the
// requested URI in next; other methods are refused. A logged-in user's name
// is also available as gin.AuthUserKey, as with gin.BasicAuth.
func ExampleAuthenticated() {
	r := gin.New()
	r.Use(ginsession.New(ginsession.Options{
		Secret:   exampleSecret,
		Client:   ginsession.NewMemoryClient(),
		LoginURL: "/signin",
	}))
	r.POST("/signin", func(c *gin.Context) {
		_ = ginsession.Login(c, "bob")
		c.Status(http.StatusNoContent)
	})
	account := r.Group("/account", ginsession.Authenticated())
	account.GET("", func(c *gin.Context) {
		c.String(http.StatusOK, "account of %s", c.GetString(gin.AuthUserKey))
	})
	account.POST("", func(c *gin.Context) {
		c.String(http.StatusOK, "updated")
	})

	b := newBrowser(r)
	rec := b.do(http.MethodGet, "/account?tab=2", nil)
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	rec = b.do(http.MethodPost, "/account", url.Values{})
	fmt.Println(rec.Code)

	b.do(http.MethodPost, "/signin", url.Values{})
	rec = b.do(http.MethodGet, "/account", nil)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 302 /signin?next=%2Faccount%3Ftab%3D2
	// 403
	// 200 account of bob
}

// NextURL follows only local paths, so a crafted login link cannot send the
// user to another site after logging in.
func ExampleNextURL() {
	r := gin.New()
	r.GET("/login", func(c *gin.Context) {
		c.String(http.StatusOK, ginsession.NextURL(c, "/home"))
	})
	for _, next := range []string{
		"/account?tab=1",
		"",
		"https://evil.example/",
		"//evil.example/",
		`/\evil.example/`,
		"javascript:alert(1)",
	} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/login?next="+url.QueryEscape(next), nil))
		fmt.Printf("%-24q -> %s\n", next, rec.Body.String())
	}
	// Output:
	// "/account?tab=1"         -> /account?tab=1
	// ""                       -> /home
	// "https://evil.example/"  -> /home
	// "//evil.example/"        -> /home
	// "/\\evil.example/"       -> /home
	// "javascript:alert(1)"    -> /home
}

// Flash messages survive one redirect: queued on one request, read (and
// removed) on the next.
func ExampleSession_AddFlash() {
	r := gin.New()
	r.Use(ginsession.New(ginsession.Options{Secret: exampleSecret, Client: ginsession.NewMemoryClient()}))
	r.POST("/settings", func(c *gin.Context) {
		ginsession.Default(c).AddFlash("Settings saved.")
		c.Redirect(http.StatusSeeOther, "/settings")
	})
	r.GET("/settings", func(c *gin.Context) {
		fmt.Println("flashes:", ginsession.Default(c).Flashes())
		c.Status(http.StatusOK)
	})

	b := newBrowser(r)
	b.do(http.MethodPost, "/settings", url.Values{})
	b.do(http.MethodGet, "/settings", nil)
	b.do(http.MethodGet, "/settings", nil)
	// Output:
	// flashes: [Settings saved.]
	// flashes: []
}

// NewManager reports invalid options as an error naming the field to fix,
// where New would panic with the same message.
func ExampleNewManager() {
	_, err := ginsession.NewManager(ginsession.Options{Secret: "too short"})
	fmt.Println(err)

	m, err := ginsession.NewManager(ginsession.Options{
		Secret: exampleSecret,
		Client: ginsession.NewMemoryClient(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := gin.New()
	r.Use(m.Handler())
	fmt.Println("ready")
	// Output:
	// ginsession: invalid options: Secret must be at least 32 bytes (got 9); generate one with: openssl rand -base64 48
	// ready
}

// GetAs reads a value as the type the handler works with: an int stored as
// an int comes back as an int (Get gives int64), a struct as the struct. A
// value of another type, or a number that does not fit, is an error naming
// the key.
func ExampleGetAs() {
	type Item struct {
		SKU string `json:"sku"`
		Qty int    `json:"qty"`
	}

	r := gin.New()
	r.Use(ginsession.New(ginsession.Options{Secret: exampleSecret, Client: ginsession.NewMemoryClient()}))
	r.GET("/add", func(c *gin.Context) {
		s := ginsession.Default(c)
		s.Set("visits", 1000)
		s.Set("cart", []Item{{SKU: "book-1", Qty: 2}})
	})
	r.GET("/show", func(c *gin.Context) {
		s := ginsession.Default(c)
		visits, err := ginsession.GetAs[int](s, "visits")
		fmt.Println(visits, err)
		cart, err := ginsession.GetAs[[]Item](s, "cart")
		fmt.Printf("%+v %v\n", cart, err)
		_, err = ginsession.GetAs[uint8](s, "visits")
		fmt.Println(errors.Is(err, ginsession.ErrTypeMismatch))
		_, err = ginsession.GetAs[int](s, "wishlist")
		fmt.Println(errors.Is(err, ginsession.ErrKeyNotFound))
	})

	b := newBrowser(r)
	b.do(http.MethodGet, "/add", nil)
	b.do(http.MethodGet, "/show", nil)
	// Output:
	// 1000 <nil>
	// [{SKU:book-1 Qty:2}] <nil>
	// true
	// true
}

// A JSON API answers anonymous callers with 401 instead of the login page
// redirect that the HTML pages keep.
func ExampleAuthenticatedFunc() {
	r := gin.New()
	r.Use(ginsession.New(ginsession.Options{Secret: exampleSecret, Client: ginsession.NewMemoryClient()}))
	r.POST("/login", func(c *gin.Context) {
		_ = ginsession.Login(c, "carol")
	})
	api := r.Group("/api", ginsession.AuthenticatedFunc(func(c *gin.Context) {
		c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "login required"})
	}))
	api.GET("/me", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"user": ginsession.User(c)})
	})

	b := newBrowser(r)
	rec := b.do(http.MethodGet, "/api/me", nil)
	fmt.Println(rec.Code, rec.Body.String())
	b.do(http.MethodPost, "/login", url.Values{})
	rec = b.do(http.MethodGet, "/api/me", nil)
	fmt.Println(rec.Code, rec.Body.String())
	// Output:
	// 401 {"error":"login required"}
	// 200 {"user":"carol"}
}

// An account page that lists where the user is signed in and signs out
// another device.
func ExampleSessions() {
	r := gin.New()
	r.Use(ginsession.New(ginsession.Options{
		Secret:        exampleSecret,
		Client:        ginsession.NewMemoryClient(),
		TrackSessions: true,
	}))
	r.POST("/login", func(c *gin.Context) { _ = ginsession.Login(c, "carol") })
	r.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, "%q", ginsession.User(c)) })
	account := r.Group("/account", ginsession.Authenticated())
	account.GET("", func(c *gin.Context) {
		list, err := ginsession.Sessions(c)
		if err != nil {
			return // the ErrorHandler answered
		}
		for _, s := range list {
			fmt.Fprintf(c.Writer, "%s current=%v handle=%s\n", s.Device, s.Current, s.Handle)
		}
	})
	account.POST("/end", func(c *gin.Context) {
		if err := ginsession.EndSession(c, c.PostForm("handle")); err != nil {
			c.String(http.StatusNotFound, "no such session")
		}
	})

	laptop, phone := newBrowser(r), newBrowser(r)
	laptop.do(http.MethodPost, "/login", url.Values{})
	phone.do(http.MethodPost, "/login", url.Values{})
	page := laptop.do(http.MethodGet, "/account", nil).Body.String()
	var phoneHandle string
	for _, line := range strings.Split(strings.TrimSpace(page), "\n") {
		fmt.Println(line[:strings.Index(line, " handle=")])
		if strings.Contains(line, "current=false") {
			phoneHandle = line[strings.Index(line, "handle=")+len("handle="):]
		}
	}
	laptop.do(http.MethodPost, "/account/end", url.Values{"handle": {phoneHandle}})
	fmt.Println("phone:", phone.do(http.MethodGet, "/whoami", nil).Body.String())
	fmt.Println("laptop:", laptop.do(http.MethodGet, "/whoami", nil).Body.String())
	// Output:
	// Unknown browser current=true
	// Unknown browser current=false
	// phone: ""
	// laptop: "carol"
}
