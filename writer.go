package ginsession

import (
	"bufio"
	"errors"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"
)

// errAborted is returned by Hijack after the session store failed and the
// error response replaced the handler's.
var errAborted = errors.New("ginsession: response replaced by the session error handler")

// hookWriter wraps gin's ResponseWriter so the session is committed just
// before the response header is written. It never buffers: every call is
// passed straight through after the commit.
type hookWriter struct {
	gin.ResponseWriter
	s *Session
}

// before runs the pre-header commit while the header is still unwritten and
// reports whether the caller should pass its call through: the handler's
// output is dropped once the store error response replaced it. sends is
// false for WriteHeader, which only records the status (gin sends the
// header with the first body byte or at the end of the chain).
func (w *hookWriter) before(sends bool) bool {
	switch w.s.phase() {
	case phaseErrorPage:
		return true // the ErrorHandler's own writes
	case phaseFailed:
		return false
	}
	if w.ResponseWriter.Written() {
		return true
	}
	w.s.beforeHeader(sends)
	return w.s.phase() != phaseFailed
}

// WriteHeader commits the session, then records the status code.
func (w *hookWriter) WriteHeader(code int) {
	if w.before(false) {
		w.ResponseWriter.WriteHeader(code)
	}
}

// WriteHeaderNow commits the session, then sends the header.
func (w *hookWriter) WriteHeaderNow() {
	if w.before(true) {
		w.ResponseWriter.WriteHeaderNow()
	}
}

// Write commits the session, then writes the body bytes.
func (w *hookWriter) Write(b []byte) (int, error) {
	if !w.before(true) {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// WriteString commits the session, then writes s.
func (w *hookWriter) WriteString(s string) (int, error) {
	if !w.before(true) {
		return len(s), nil
	}
	return w.ResponseWriter.WriteString(s)
}

// Flush commits the session, then flushes (streaming and SSE keep working).
func (w *hookWriter) Flush() {
	if w.before(true) {
		w.ResponseWriter.Flush()
	}
}

// Hijack commits the session, then hands over the connection (websockets).
func (w *hookWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.before(true) {
		return nil, nil, errAborted
	}
	return w.ResponseWriter.Hijack()
}

// Unwrap returns the wrapped writer, for http.ResponseController (read
// and write deadlines, full duplex). Writing through it bypasses the
// session's pre-header commit.
func (w *hookWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}
