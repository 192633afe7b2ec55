package main

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
)

// addAPI registers the JSON routes under /api. They share the session (and
// its cookie) with the pages, but answer anonymous visitors with 401 and a
// JSON body instead of a redirect to the login page: a script calling the
// API wants a status it can act on, not a login form.
func addAPI(r gin.IRouter) {
	api := r.Group("/api", noStore, ginsession.AuthenticatedFunc(apiLoginRequired))
	api.GET("/me", me)
}

// apiLoginRequired answers an anonymous API request (AuthenticatedFunc
// aborts the chain after it).
func apiLoginRequired(c *gin.Context) {
	c.JSON(http.StatusUnauthorized, gin.H{"error": "login required"})
}

// me returns the logged-in user: {"user": "alice"}.
func me(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"user": c.GetString(gin.AuthUserKey)})
}

// noStore keeps API answers, which name the user, out of every cache.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}
