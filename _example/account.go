package main

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
)

// The account page: where the user is signed in (ginsession.Sessions, with
// Options.TrackSessions on), a "Sign out" button for each other session
// and one for all of them.

// sessionRow is one line of the account page's list.
type sessionRow struct {
	Handle     string // for the row's "Sign out" form
	Device     string // "Firefox on Linux"
	SignedIn   string // "2 Dec 2026 21:04 UTC"
	LastActive string // "just now", "5 minutes ago"
	Current    bool
	Remembered bool
}

// account lists the user's sessions.
func (a *app) account(c *gin.Context) {
	list, err := ginsession.Sessions(c)
	if err != nil {
		a.storeFailed(c, err)
		return
	}
	now := time.Now()
	rows := make([]sessionRow, 0, len(list))
	for _, s := range list {
		rows = append(rows, sessionRow{
			Handle:     s.Handle,
			Device:     s.Device,
			SignedIn:   s.Created.UTC().Format("2 Jan 2006 15:04 MST"),
			LastActive: ago(now.Sub(s.LastSeen)),
			Current:    s.Current,
			Remembered: s.Remembered,
		})
	}
	var flashes []string
	for _, f := range ginsession.Default(c).Flashes() {
		flashes = append(flashes, fmt.Sprint(f))
	}
	a.render(c, http.StatusOK, "account.html", page{
		Title:    "Where you're signed in",
		User:     ginsession.User(c),
		Sessions: rows,
		Flashes:  flashes,
	})
}

// endSession signs out one of the user's other sessions; the browser that
// held it is anonymous from its next request on.
func (a *app) endSession(c *gin.Context) {
	err := ginsession.EndSession(c, c.PostForm("handle"))
	switch {
	case errors.Is(err, ginsession.ErrUnknownSession):
		ginsession.Default(c).AddFlash("That session had already ended.")
	case err != nil:
		a.storeFailed(c, err)
		return
	default:
		ginsession.Default(c).AddFlash("The session was signed out.")
	}
	c.Redirect(http.StatusSeeOther, "/account")
}

// endOtherSessions signs out every session of the user but this one.
func (a *app) endOtherSessions(c *gin.Context) {
	if err := ginsession.EndOtherSessions(c); err != nil {
		a.storeFailed(c, err)
		return
	}
	ginsession.Default(c).AddFlash("All other sessions were signed out.")
	c.Redirect(http.StatusSeeOther, "/account")
}

// ago says how long ago something was, roughly, the way the account page
// shows it: "just now", "1 minute ago", "3 hours ago", "2 days ago".
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

// plural writes n units: "1 minute", "5 minutes".
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
