package main

import (
	"bytes"
	"cmp"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
)

// assets holds the templates and the stylesheet, so the binary runs from any
// directory.
//
//go:embed templates static
var assets embed.FS

// Session keys and limits of the example.
const (
	visitsKey  = "visits" // per-session counter shown on the home page
	maxNameLen = 64       // characters
)

// app holds what the handlers share.
type app struct {
	pages   map[string]*template.Template
	store   store
	users   *users
	metrics *metrics
	logger  *slog.Logger

	// rememberFor and stampCheck are the settings in words, for the pages
	// ("30 days", "1 minute").
	rememberFor, stampCheck string
}

// page is the data of every template; each page uses the fields it needs.
type page struct {
	Title string
	Store string // footer: which session store is in use

	// Login page.
	Name        string
	Next        string
	Remember    bool
	RememberFor string // "30 days"
	Error       string
	Flashes     []string

	// Home page.
	User       string
	Visits     int
	StampCheck string // "1 minute"

	// Account page.
	Sessions []sessionRow
}

// newApp builds the whole application — session store, ginsession
// middleware, routes and CSRF protection — without listening, so tests can
// drive it with httptest.
func newApp(cfg config) (http.Handler, error) {
	logger := cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	// Zero means the library's default; the pages say what is in force.
	rememberFor := cmp.Or(cfg.rememberFor, ginsession.DefaultRememberFor)
	stampCheck := cmp.Or(cfg.stampCheck, ginsession.DefaultStampCheck)
	a := &app{
		pages:       pages,
		store:       openStore(cfg.memcached, logger),
		users:       newUsers(),
		metrics:     newMetrics(),
		logger:      logger,
		rememberFor: inWords(rememberFor),
		stampCheck:  inWords(stampCheck),
	}

	// ginsession.New(opts) is the one-line form; NewManager returns the
	// options error instead of panicking.
	sessions, err := ginsession.NewManager(ginsession.Options{
		Memcached:   a.store.memcached, // empty when falling back to memory
		Client:      a.store.client,    // nil when memcached answered
		Secret:      cfg.secret,
		IdleTimeout: cfg.idle,
		// The cookie is Secure by default, and stays so for plain-HTTP
		// development on localhost: Chromium treats http://localhost and
		// http://127.0.0.1 as potentially trustworthy origins and stores
		// Secure cookies from them (browser_test.go checks both, and that
		// a LAN-style hostname over plain HTTP drops the cookie). Only
		// plain HTTP on another hostname needs -insecure-cookie.
		InsecureCookie: cfg.insecureCookie,
		// "Remember me" logins last this long, idle or not; the cookie's
		// Max-Age says the same.
		RememberFor: rememberFor,
		// Login records the user's security stamp in the session; it is
		// compared with the current one at most every StampCheck, and a
		// new stamp ("Log out everywhere") ends the session.
		UserStamp:  a.users.userStamp,
		StampCheck: stampCheck,
		// Loads, conflicts, store errors, logins and logouts, and every
		// memcached call's duration, exported at /metrics.
		Observe: a.metrics.observe,
		// Each login is listed on the account page, where the user can
		// sign out one session or all the others.
		TrackSessions: true,
		Logger:        logger,
	})
	if err != nil {
		return nil, err
	}

	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}

	r := gin.New()
	r.Use(gin.Recovery())
	if cfg.accessLog != nil {
		r.Use(gin.LoggerWithWriter(cfg.accessLog))
	}
	r.Use(securityHeaders)
	// Every route gets a session; one that never touches it (the
	// stylesheet) costs no memcached round trip and sends no cookie.
	r.Use(sessions.Handler())

	r.StaticFS("/static", http.FS(static))
	r.GET("/", ginsession.Authenticated(), a.home)
	r.GET("/login", a.loginForm)
	r.POST("/login", a.login)
	r.POST("/logout", a.logout)
	// Anonymous POSTs get 403 from Authenticated.
	r.POST("/logout-everywhere", ginsession.Authenticated(), a.logoutEverywhere)
	account := r.Group("/account", ginsession.Authenticated())
	account.GET("", a.account)
	account.POST("/end", a.endSession)
	account.POST("/end-others", a.endOtherSessions)
	addAPI(r)
	r.GET("/metrics", a.metrics.handler())

	// CSRF protection (the seed's xsrf_cookies): Go 1.25's
	// CrossOriginProtection rejects cross-origin POSTs using the
	// Sec-Fetch-Site and Origin headers browsers send, with no tokens.
	// Together with the SameSite=Lax session cookie this covers
	// state-changing requests.
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.Info("refused a cross-origin request", "method", r.Method, "path", r.URL.Path, "origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
		http.Error(w, "Forbidden: cross-origin request refused.", http.StatusForbidden)
	}))
	return csrf.Handler(r), nil
}

// parsePages parses each page template together with the layout.
func parsePages() (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template)
	for _, name := range []string{"login.html", "home.html", "account.html"} {
		t, err := template.ParseFS(assets, "templates/layout.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// securityHeaders sets headers that every page of this app can live with: a
// strict Content-Security-Policy (no scripts at all), no MIME sniffing, no
// framing, no cross-origin referrers.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	c.Next()
}

// home is the protected page (the seed's MainHandler behind
// @authenticated): a greeting and a per-session visit counter.
func (a *app) home(c *gin.Context) {
	s := ginsession.Default(c)
	visits, err := ginsession.GetAs[int](s, visitsKey)
	if err != nil {
		if !errors.Is(err, ginsession.ErrKeyNotFound) {
			// Not an int (written by another version of the app).
			a.logger.Warn("visit counter unreadable; starting over", "error", err)
		}
		visits = 0
	}
	visits++
	s.Set(visitsKey, visits)
	a.render(c, http.StatusOK, "home.html", page{
		Title:      "Home",
		User:       ginsession.User(c),
		Visits:     visits,
		StampCheck: a.stampCheck,
	})
}

// loginForm shows the login form (the seed's LoginHandler.get), with any
// flash messages and the validated next URL carried in a hidden field. A
// visitor who is already logged in goes straight on.
func (a *app) loginForm(c *gin.Context) {
	if ginsession.User(c) != "" {
		c.Redirect(http.StatusFound, ginsession.NextURL(c, "/"))
		return
	}
	var flashes []string
	for _, f := range ginsession.Default(c).Flashes() {
		flashes = append(flashes, fmt.Sprint(f))
	}
	a.render(c, http.StatusOK, "login.html", page{
		Title:       "Sign in",
		Next:        ginsession.NextURL(c, ""),
		RememberFor: a.rememberFor,
		Flashes:     flashes,
	})
}

// login handles the form (the seed's LoginHandler.post): it validates the
// name, logs in — which gives the session a new ID, so an ID planted before
// login is worthless — and sends the user on to next.
func (a *app) login(c *gin.Context) {
	raw := c.PostForm("name")
	remember := c.PostForm("remember") != ""
	name, problem := validName(raw)
	if problem != "" {
		a.render(c, http.StatusBadRequest, "login.html", page{
			Title:       "Sign in",
			Name:        strings.TrimSpace(raw),
			Next:        ginsession.NextURL(c, ""),
			Remember:    remember,
			RememberFor: a.rememberFor,
			Error:       problem,
		})
		return
	}
	if err := ginsession.Login(c, name); err != nil {
		a.storeFailed(c, err)
		return
	}
	ginsession.Default(c).SetPersistent(remember)
	c.Redirect(http.StatusSeeOther, ginsession.NextURL(c, "/"))
}

// logout destroys the session and leaves a flash message in a new one.
func (a *app) logout(c *gin.Context) {
	if err := ginsession.Logout(c); err != nil {
		a.storeFailed(c, err)
		return
	}
	ginsession.Default(c).AddFlash("You have been logged out.")
	c.Redirect(http.StatusSeeOther, "/login")
}

// logoutEverywhere ends every session of the user: it gives the user a new
// security stamp, so that the sessions on other devices end at their next
// stamp check (within Options.StampCheck), then logs this one out at once
// and leaves a flash message for the login page.
func (a *app) logoutEverywhere(c *gin.Context) {
	user := ginsession.User(c)
	a.users.renew(user)
	a.logger.Info("logged out everywhere", "user", user)
	if err := ginsession.Logout(c); err != nil {
		a.storeFailed(c, err)
		return
	}
	ginsession.Default(c).AddFlash("You have been logged out everywhere.")
	c.Redirect(http.StatusSeeOther, "/login")
}

// inWords writes a duration the way the login page says it: "30 days",
// "12 hours", "1 minute"; a duration that is not a whole number of
// seconds in Go's notation ("1.5s").
func inWords(d time.Duration) string {
	for _, u := range []struct {
		size time.Duration
		name string
	}{
		{24 * time.Hour, "day"},
		{time.Hour, "hour"},
		{time.Minute, "minute"},
		{time.Second, "second"},
	} {
		if d > 0 && d%u.size == 0 {
			n := int64(d / u.size)
			if n == 1 {
				return "1 " + u.name
			}
			return fmt.Sprintf("%d %ss", n, u.name)
		}
	}
	return d.String()
}

// validName trims the submitted name and returns it, or a message saying
// what is wrong with it.
func validName(raw string) (name, problem string) {
	name = strings.TrimSpace(raw)
	switch {
	case name == "":
		return "", "Please enter your name."
	case !utf8.ValidString(name) || strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", "Your name contains characters that are not allowed."
	case utf8.RuneCountInString(name) > maxNameLen:
		return "", fmt.Sprintf("Your name is too long: at most %d characters, please.", maxNameLen)
	}
	return name, ""
}

// render executes a page into a buffer and sends it, so a template error
// never leaves half a page behind.
func (a *app) render(c *gin.Context, status int, name string, p page) {
	p.Store = a.store.description
	var buf bytes.Buffer
	if err := a.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		a.logger.Error("render page", "page", name, "error", err)
		c.String(http.StatusInternalServerError, "Internal error.\n")
		return
	}
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// storeFailed answers a request whose session could not be loaded or saved.
// When loading failed, ginsession has already logged it and sent its
// ErrorHandler's response (503); a failed save is the handler's to report.
func (a *app) storeFailed(c *gin.Context, err error) {
	_ = c.Error(err)
	if !c.Writer.Written() {
		a.logger.Error("session store failed", "path", c.Request.URL.Path, "error", err)
		c.String(http.StatusServiceUnavailable, "The session store is unavailable; please try again.\n")
	}
	c.Abort()
}
