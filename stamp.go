package ginsession

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/gin-gonic/gin"
)

// Security stamps log a user out everywhere without listing sessions
// (memcached cannot): Login records a hash of the user's stamp, and a
// session re-checks it at most every StampCheck when its user is read. An
// application that changes the stamp (a new password, "log out of all
// devices") so ends every other session of that user within StampCheck.

// stampHash returns the stored form of a security stamp: a hash, so that
// memcached never holds the application's value, which may be derived from
// a password hash.
func stampHash(stamp string) []byte {
	sum := sha256.Sum256([]byte("ginsession user stamp\x00" + stamp))
	return sum[:stampSize]
}

// currentStamp asks Options.UserStamp for user's stamp and returns its hash,
// or nil when the feature is off. A failure fails closed: the ErrorHandler
// answers and the error is returned.
func (s *Session) currentStamp(c *gin.Context, user string) ([]byte, error) {
	lookup := s.m.opts.UserStamp
	if lookup == nil {
		return nil, nil
	}
	stamp, err := lookup(c, user)
	if err != nil {
		err = fmt.Errorf("ginsession: user stamp: %w", err)
		s.failUnlocked(err, inHandler)
		return nil, err
	}
	return stampHash(stamp), nil
}

// stampHolds reports whether the logged-in user's session still stands.
// Within StampCheck of the last check it holds without a lookup. Otherwise
// UserStamp is asked: the same stamp records the check (stored with the
// next write); a different one, or none recorded at Login, ends the session
// (deleted, cookie expired); a failed lookup fails closed.
func (s *Session) stampHolds(c *gin.Context, user string) bool {
	if s.m.opts.UserStamp == nil {
		return true
	}
	now := s.m.now()
	var recorded [stampSize]byte
	stamped, due := false, true
	_ = s.with(func(st *state) {
		recorded, stamped = st.rec.stamp, st.rec.stamped()
		checked := time.Unix(st.rec.stampChecked, 0)
		due = !stamped || now.Sub(checked) >= s.m.opts.StampCheck || checked.After(now)
	})
	if !due {
		return true
	}
	current, err := s.currentStamp(c, user)
	if err != nil {
		return false
	}
	if stamped && sameStamp(current, recorded[:]) {
		_ = s.with(func(st *state) { st.setGuard(current, now.Unix()) })
		return true
	}
	s.m.opts.Logger.Info("ginsession: session ended: the user's security stamp changed")
	if observe := s.m.opts.Observe; observe != nil {
		observe(Event{Kind: EventStampMismatch})
	}
	_ = s.Destroy() // a failed delete fails closed through the ErrorHandler
	return false
}

// sameStamp reports, in constant time, whether two stamp hashes are equal
// (a nil one equals nothing but another nil one).
func sameStamp(a, b []byte) bool {
	return subtle.ConstantTimeCompare(a, b) == 1
}
