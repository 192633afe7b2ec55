package ginsession

import (
	"log/slog"
	"net/http"
)

// The one path of a failure the client must hear about: a store failure
// (a load, a write, a delete, the session list) or a failed security-stamp
// lookup. fail logs it, records it on c.Errors while the context is still
// the request's, and hands it to the ErrorHandler when where it happened
// and the response's phase call for an answer.

// failedAt is where in a request a failure happened, which decides how it
// is answered.
type failedAt uint8

const (
	// inHandler: a read, delete, list or stamp lookup while the handler
	// runs. The ErrorHandler replaces the response if the header is
	// unwritten; later the error is only recorded.
	inHandler failedAt = iota
	// inSave: a Save or Login, which return the error to the handler. If
	// the chain then writes nothing, finish has the ErrorHandler answer it
	// (unanswered).
	inSave
	// atHeader: the automatic commit just before the header goes out.
	// The ErrorHandler's response goes out instead.
	atHeader
	// atFinish: a failed Save the chain left without a response. The
	// ErrorHandler answers it.
	atFinish
	// afterResponse: the commit after the response went out, in the
	// middleware. Recorded only.
	afterResponse
)

// String returns the place's name, for test failures and debugging.
func (w failedAt) String() string {
	return enumName("failedAt", []string{"inHandler", "inSave", "atHeader", "atFinish", "afterResponse"}, int(w))
}

// failMessages are the log lines, by where and whether the ErrorHandler
// answered.
var failMessages = [...]string{
	inHandler:     "ginsession: session store failed",
	inSave:        "ginsession: session not saved",
	atHeader:      "ginsession: session store failed",
	atFinish:      "ginsession: session not saved",
	afterResponse: "ginsession: session not saved after the response was sent",
}

// fail answers err as where calls for (see failedAt). The caller holds
// s.mu, and holds it again when fail returns, even if the ErrorHandler
// panics: the lock is released only while the ErrorHandler runs, so an
// ErrorHandler may use the session.
func (s *Session) fail(err error, where failedAt) {
	p := s.phase()
	answer := where == atHeader || where == atFinish ||
		(where == inHandler && p == phaseOpen && !s.resp.w.Written())
	if where == inSave && p == phaseOpen {
		s.resp.unanswered = err
	}
	// The context is the request's while the chain runs, and the
	// middleware's own until it returns; after that gin may recycle it.
	if answer || p == phaseOpen || p == phaseHeaderOut || where == afterResponse {
		_ = s.resp.c.Error(err)
	}
	msg := failMessages[where]
	switch {
	case answer:
		msg += "; the error response replaced the handler's"
	case where == inHandler && (p == phaseOpen || p == phaseHeaderOut):
		msg += " after the response started"
	}
	s.m.faults.log(slog.LevelError, msg, err)
	if !answer {
		return
	}
	abort := s.claimErrorPage()
	s.mu.Unlock()
	defer s.mu.Lock()
	s.sendErrorPage(err, abort)
}

// failUnlocked is fail for a caller that does not hold s.mu.
func (s *Session) failUnlocked(err error, where failedAt) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail(err, where)
}

// claimErrorPage moves to phaseErrorPage; the caller holds s.mu and then
// calls sendErrorPage without it. It reports whether the handler chain is
// still running (and so is to be aborted).
func (s *Session) claimErrorPage() (chainRunning bool) {
	p := s.phase()
	s.resp.pageDone = make(chan struct{})
	s.setPhase(phaseErrorPage)
	return p == phaseOpen || p == phaseHeaderOut
}

// sendErrorPage writes the ErrorHandler's response for err after
// claimErrorPage, then drops whatever the handler writes later.
func (s *Session) sendErrorPage(err error, abort bool) {
	c := s.resp.c
	defer func() { // even if the ErrorHandler panics
		s.mu.Lock()
		s.setPhase(phaseFailed)
		close(s.resp.pageDone)
		s.mu.Unlock()
	}()
	s.mu.Lock()
	s.addVary() // an ErrorHandler may send a cacheable page
	s.mu.Unlock()
	s.m.opts.ErrorHandler(c, err)
	if abort {
		c.Abort()
	}
}

// waitErrorPageLocked waits, with s.mu held, until an error page that
// another goroutine is writing is complete.
func (s *Session) waitErrorPageLocked() {
	for s.phase() == phaseErrorPage {
		done := s.resp.pageDone
		s.mu.Unlock()
		<-done
		s.mu.Lock()
	}
}

// answerUnanswered has the ErrorHandler answer a failed Save that the
// handler did not answer (the chain returned with nothing written and no
// status set). It reports whether it did.
func (s *Session) answerUnanswered() bool {
	s.mu.Lock()
	err := s.resp.unanswered
	defer s.mu.Unlock()
	if err == nil || s.phase() != phaseFinishing || s.resp.w.Written() || s.resp.w.Status() != http.StatusOK {
		return false
	}
	s.fail(err, atFinish)
	return true
}
