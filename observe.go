package ginsession

import (
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/memcluster"
)

// Event is one thing a Manager did that operators count or time, passed
// to Options.Observe. Only the fields its Kind names are set; the others
// are zero. An Event never holds a session ID or a memcached key.
type Event struct {
	Kind EventKind

	// Load is what a session's first use found (EventLoad).
	Load LoadResult

	// Op and Duration are the store call and how long it took
	// (EventStoreCall); Err is its error, nil on success (a cache miss, a
	// refused Add and a CAS conflict are errors of the call, expected ones:
	// their Failure is FailureNone).
	Op       StoreOp
	Duration time.Duration

	// Merges is how many re-read-and-merge rounds a write took after its
	// compare-and-swap conflicted (EventConflict); Failure is
	// FailureConflict when it gave up after MaxRetries.
	Merges int

	// Failure is the kind of a store failure (EventStoreError, and
	// EventStoreCall and EventConflict when they failed); Err is the
	// failure itself.
	Failure FailureKind
	Err     error
}

// EventKind says what an Event reports.
type EventKind uint8

const (
	_ EventKind = iota
	// EventLoad: a request's first use of its session read the cookie and,
	// when it verified, the store; Load says what it found. A request
	// without a session cookie reports nothing.
	EventLoad
	// EventConflict: a write's compare-and-swap lost to a concurrent
	// write and was re-read, merged and retried Merges times.
	EventConflict
	// EventStoreError: a load, write or delete failed; the ErrorHandler
	// answered (or, once the response was out, the failure was logged).
	EventStoreError
	// EventRegenerate: a stored session moved to a new ID (Regenerate,
	// Login) and its old ID was deleted.
	EventRegenerate
	// EventDestroy: a session was deleted (Destroy, Logout).
	EventDestroy
	// EventStampMismatch: the user's security stamp changed (a password
	// change, "log out everywhere"), so the session was ended.
	EventStampMismatch
	// EventStoreCall: one call to memcached returned (Op, Duration, Err).
	EventStoreCall
)

// LoadResult is what loading a session found.
type LoadResult uint8

const (
	_ LoadResult = iota
	// LoadFound: the stored session, alive.
	LoadFound
	// LoadNotStored: a verified cookie whose session memcached does not
	// hold (ended, expired by memcached, evicted, or never stored).
	LoadNotStored
	// LoadExpired: the stored session is past its idle or absolute limit.
	LoadExpired
	// LoadUnreadable: memcached holds bytes that are not a session record
	// (another program's value, a format this version cannot read).
	LoadUnreadable
	// LoadForged: the stored record fails its integrity check (edited in
	// memcached, copied from another key, or sealed with a retired secret).
	LoadForged
	// LoadBadCookie: a well-formed session cookie whose signature does not
	// verify (forged, or signed with a retired secret); memcached is not
	// asked.
	LoadBadCookie
)

// StoreOp is the memcached call an EventStoreCall timed.
type StoreOp uint8

const (
	_ StoreOp = iota
	OpGet
	OpAdd
	OpSet
	OpCompareAndSwap
	OpDelete
	OpTouch
)

// FailureKind sorts store failures by what an operator does about them.
type FailureKind uint8

const (
	// FailureNone: no failure.
	FailureNone FailureKind = iota
	// FailureTimeout: memcached did not answer within Options.Timeout.
	FailureTimeout
	// FailureUnreachable: no connection (refused, reset, closed, or no
	// server of a cluster available).
	FailureUnreachable
	// FailureTLS: TLS refused the connection: a certificate that does not
	// verify, a client certificate memcached rejects, or a server that
	// does not speak TLS (see memcluster.ErrTLS).
	FailureTLS
	// FailureConflict: a write gave up after MaxRetries merges.
	FailureConflict
	// FailureUnconfirmed: a cluster could not confirm a write or delete on
	// the servers reads ask (see memcluster.ErrUnconfirmed).
	FailureUnconfirmed
	// FailureTooLarge: the session is over MaxSize (ErrTooLarge).
	FailureTooLarge
	// FailureServer: memcached answered with an error (SERVER_ERROR, for
	// example out of memory).
	FailureServer
	// FailureOther: anything else.
	FailureOther
)

// failureOf returns the kind of a store failure: FailureNone for nil and
// for a call's expected outcomes (a miss, a refused Add, a CAS conflict).
func failureOf(err error) FailureKind {
	switch {
	case err == nil, isGone(err), errors.Is(err, ErrSessionEnded):
		return FailureNone
	case errors.Is(err, memcluster.ErrTLS):
		return FailureTLS
	case errors.Is(err, ErrTooLarge):
		return FailureTooLarge
	case errors.Is(err, memcluster.ErrUnconfirmed):
		return FailureUnconfirmed
	case errors.Is(err, memcache.ErrCASConflict):
		return FailureConflict
	case isTimeout(err):
		return FailureTimeout
	case errors.Is(err, memcache.ErrNoServers), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), isNetOp(err):
		return FailureUnreachable
	case errors.Is(err, memcache.ErrServerError):
		return FailureServer
	}
	return FailureOther
}

// isTimeout reports a connect or socket timeout. It is a function of its
// own because errors.As moves its target to the heap: failureOf must not
// allocate for the nil errors of successful calls.
func isTimeout(err error) bool {
	var connectTimeout *memcache.ConnectTimeoutError
	var netErr net.Error
	return errors.As(err, &connectTimeout) || errors.As(err, &netErr) && netErr.Timeout()
}

// isNetOp reports a network operation's error (a refused or reset
// connection that the checks before did not name).
func isNetOp(err error) bool {
	var opErr *net.OpError
	return errors.As(err, &opErr)
}

// String returns the kind's snake_case name (a metric label).
func (k EventKind) String() string {
	return enumName("EventKind", []string{"", "load", "conflict", "store_error", "regenerate", "destroy", "stamp_mismatch", "store_call"}, int(k))
}

// String returns the result's snake_case name (a metric label).
func (r LoadResult) String() string {
	return enumName("LoadResult", []string{"", "found", "not_stored", "expired", "unreadable", "forged", "bad_cookie"}, int(r))
}

// String returns the memcached command's name (a metric label).
func (op StoreOp) String() string {
	return enumName("StoreOp", []string{"", "get", "add", "set", "cas", "delete", "touch"}, int(op))
}

// String returns the kind's snake_case name (a metric label).
func (f FailureKind) String() string {
	return enumName("FailureKind", []string{"none", "timeout", "unreachable", "tls", "conflict", "unconfirmed", "too_large", "server", "other"}, int(f))
}

// observeFailure tells Observe about a failed load, write or delete; nil
// and ErrSessionEnded (a session that ended meanwhile) are no failure.
func (o *Options) observeFailure(err error) {
	if o.Observe == nil || err == nil {
		return
	}
	if failure := failureOf(err); failure != FailureNone {
		o.Observe(Event{Kind: EventStoreError, Failure: failure, Err: err})
	}
}
