package ginsession

import (
	"errors"
	"fmt"
)

// Errors returned by Session methods. Store failures are wrapped with
// context ("ginsession: load session: ...") and keep the underlying
// gomemcache error available to errors.Is.
var (
	// ErrTooLarge is returned by Save when the encoded session exceeds
	// Options.MaxSize. Nothing stored changed.
	ErrTooLarge = errors.New("ginsession: session too large")

	// ErrHeaderWritten is returned by Save when the response header was
	// already sent and the session cookie had to change: a new (or
	// regenerated) session is then not stored, since no cookie can point to
	// it; an existing one is stored, but its cookie (SetPersistent, Destroy's
	// expiry) could not be updated.
	ErrHeaderWritten = errors.New("ginsession: response header already written; the session cookie cannot be set")

	// ErrSessionEnded is returned by Save when the stored session was
	// deleted (a logout elsewhere), expired or reached its Lifetime during
	// the request. The changes were discarded rather than bringing the
	// session back; the session now reads as new and empty. The automatic
	// commit treats this as normal and only logs it: a response that went
	// out with 200 does not prove its session change was stored when
	// memcached evicted or expired the session meanwhile. Call Save where
	// the handler must know.
	ErrSessionEnded = errors.New("ginsession: session ended during the request (deleted or expired)")

	// ErrKeyNotFound is returned by Scan for a key the session does not hold.
	ErrKeyNotFound = errors.New("ginsession: key not found")
)

// errAfterErrorResponse is returned by Save once the store error response
// has replaced the handler's.
var errAfterErrorResponse = fmt.Errorf("ginsession: session not saved: the store error response was already sent (%w)", ErrHeaderWritten)
