package main

import (
	"crypto/rand"
	"encoding/hex"
	"sync"

	"github.com/gin-gonic/gin"
)

// stampBytes is the length of a security stamp before hex encoding.
const stampBytes = 16

// users is the demo's user table: each user name maps to its security stamp,
// a random value that ginsession records in a session at Login and compares
// now and then (Options.StampCheck) with the current one. Replacing a user's
// stamp therefore ends every session of that user, on every device.
//
// A real application keeps the stamp in its user database, next to the
// password hash, and replaces it on a password change too. This table lives
// in memory, so it forgets everyone when the app restarts (as do the
// sessions of the memory store; with memcached, old sessions then fail
// their next stamp check and their users sign in again). It gains an entry
// for every name that signs in and never shrinks, like a user database. It
// is safe for concurrent use.
type users struct {
	mu     sync.Mutex
	stamps map[string]string // user name -> hex stamp
}

// newUsers returns an empty user table.
func newUsers() *users {
	return &users{stamps: make(map[string]string)}
}

// stamp returns the user's current security stamp, creating the user with a
// fresh stamp on first sight (the first login).
func (u *users) stamp(name string) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	s, ok := u.stamps[name]
	if !ok {
		s = newStamp()
		u.stamps[name] = s
	}
	return s
}

// renew gives the user a new security stamp, so that every session logged
// in under the old one ends at its next stamp check, and returns it.
func (u *users) renew(name string) string {
	s := newStamp()
	u.mu.Lock()
	u.stamps[name] = s
	u.mu.Unlock()
	return s
}

// userStamp is the table as ginsession's Options.UserStamp.
func (u *users) userStamp(_ *gin.Context, name string) (string, error) {
	return u.stamp(name), nil
}

// newStamp returns stampBytes random bytes from crypto/rand, hex-encoded.
func newStamp() string {
	b := make([]byte, stampBytes)
	_, _ = rand.Read(b) // never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
