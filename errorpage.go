package ginsession

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// The default ErrorHandler's bodies, as plain text and as JSON.
const (
	unavailableText = "Service temporarily unavailable, please retry.\n"
	unavailableJSON = `{"error":"service temporarily unavailable, please retry"}` + "\n"
	tooLargeText    = "The session is too large to be stored.\n"
	tooLargeJSON    = `{"error":"the session is too large to be stored"}` + "\n"
)

// defaultErrorHandler answers 503, in JSON ({"error": "..."}) to a request
// that asks for JSON rather than HTML (see prefersJSON) and in plain text
// otherwise. A session over MaxSize gets no Retry-After, since retrying
// cannot help, and still no 500: the library never answers with one.
func defaultErrorHandler(c *gin.Context, err error) {
	text, json := unavailableText, unavailableJSON
	if errors.Is(err, ErrTooLarge) {
		text, json = tooLargeText, tooLargeJSON
	} else {
		c.Header("Retry-After", "1")
	}
	c.Header("Content-Type", "") // a type the handler set must not label this body
	if prefersJSON(c.GetHeader("Accept")) {
		c.Data(http.StatusServiceUnavailable, "application/json; charset=utf-8", []byte(json))
		return
	}
	c.Data(http.StatusServiceUnavailable, "text/plain; charset=utf-8", []byte(text))
}

// prefersJSON reports whether an Accept header names a JSON media type
// (application/json or a +json suffix) with a quality above zero, and does
// not name text/html at least as highly. Wildcards count for neither: an API
// client sends "application/json, */*", while a browser's page request
// always names text/html.
func prefersJSON(accept string) bool {
	jsonQ, htmlQ := 0.0, 0.0
	for len(accept) > 0 {
		var part string
		part, accept, _ = strings.Cut(accept, ",")
		mediaType, params, _ := strings.Cut(part, ";")
		mediaType = strings.ToLower(strings.TrimSpace(mediaType))
		q := acceptQuality(params)
		switch {
		case mediaType == "text/html" || mediaType == "application/xhtml+xml":
			htmlQ = max(htmlQ, q)
		case mediaType == "application/json" || strings.HasPrefix(mediaType, "application/") && strings.HasSuffix(mediaType, "+json"):
			jsonQ = max(jsonQ, q)
		}
	}
	return jsonQ > 0 && jsonQ > htmlQ
}

// acceptQuality returns the q parameter of one Accept entry's parameters
// (1 when absent, 0 when malformed, so a garbled entry counts for nothing).
func acceptQuality(params string) float64 {
	for len(params) > 0 {
		var param string
		param, params, _ = strings.Cut(params, ";")
		name, value, _ := strings.Cut(param, "=")
		if strings.EqualFold(strings.TrimSpace(name), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil || !(q >= 0 && q <= 1) { // NaN included
				return 0
			}
			return q
		}
	}
	return 1
}
