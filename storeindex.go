package ginsession

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/memcluster"
)

// The store's side of Options.TrackSessions: reading and updating a user's
// session list (userindex.go) in memcached. Like a session, the list is
// updated with CompareAndSwap, re-read and changed again on a conflict, so
// concurrent logins of one user lose no entry.

// indexKeyInfix separates a list's key from session keys, whose suffix is
// base64url and so never holds it.
const indexKeyInfix = "u:"

// indexKey returns the memcached key of user's session list: a hash, so
// the key has a fixed length whatever the user name and memcached holds no
// name.
func (sto *store) indexKey(user string) string {
	sum := sha256.Sum256([]byte("ginsession user index\x00" + user))
	return sto.opts.KeyPrefix + indexKeyInfix + base64.RawURLEncoding.EncodeToString(sum[:])
}

// handleOf returns the handle of the session stored under key (its
// suffix after KeyPrefix).
func (sto *store) handleOf(key string) string {
	return strings.TrimPrefix(key, sto.opts.KeyPrefix)
}

// keyOf returns the storage key of the session a handle names.
func (sto *store) keyOf(handle string) string {
	return sto.opts.KeyPrefix + handle
}

// trackedUser returns the user whose list a session with record r belongs
// in, or "" when sessions are not tracked or r has no user.
func (sto *store) trackedUser(r *record) string {
	if !sto.opts.TrackSessions {
		return ""
	}
	raw, ok := r.get(sto.opts.UserKey)
	if !ok {
		return ""
	}
	return userIn(raw)
}

// readIndex reads user's session list into x. present reports that an item
// exists under the key (cas is then its CAS id), even one that does not
// verify or decode: that one reads as an empty list (logged), which the
// next update replaces.
func (sto *store) readIndex(x *userIndex, key string) (cas uint64, present bool, err error) {
	item, err := sto.client.Get(key)
	if isMiss(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	if _, ok := sto.records.authentic(key, item.Value); !ok {
		sto.opts.Logger.Warn("ginsession: ignoring a session list that fails its integrity check", "bytes", len(item.Value))
	} else if err := x.decode(item.Value); err != nil {
		sto.opts.Logger.Warn("ginsession: ignoring an unreadable session list", "error", err, "bytes", len(item.Value))
	}
	return item.CasID, true, nil
}

// updateIndex applies change to user's session list and stores the result,
// unless change reports that nothing changed. On a conflict it re-reads the
// list and applies change again, at most MaxRetries times.
func (sto *store) updateIndex(user string, now time.Time, change func(x *userIndex) bool) error {
	key := sto.indexKey(user)
	buf := sto.buffer()
	defer sto.release(buf)
	for attempt := range sto.opts.MaxRetries + 1 {
		if attempt > 0 {
			backoff(attempt)
		}
		var x userIndex
		cas, present, err := sto.readIndex(&x, key)
		if err != nil {
			return fmt.Errorf("ginsession: update session list: %w", err)
		}
		if !change(&x) {
			return nil
		}
		*buf = x.encode((*buf)[:0])
		sto.records.sign(key, *buf)
		item := &memcache.Item{Key: key, Value: *buf, Expiration: sto.indexExpiration(now)}
		if present {
			item.CasID = cas
			err = sto.client.CompareAndSwap(item)
		} else {
			err = sto.client.Add(item)
		}
		switch {
		case err == nil:
			return nil
		case isGone(err), errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcluster.ErrUnconfirmed):
			// Changed, created or removed meanwhile, or on no server
			// that is read: read it again.
		default:
			return fmt.Errorf("ginsession: update session list: %w", err)
		}
	}
	return fmt.Errorf("ginsession: update session list: %w (gave up after %d merges)", memcache.ErrCASConflict, sto.opts.MaxRetries)
}

// indexExpiration returns the memcached expiration of a list written now:
// as long as the longest session it may name, started now, can live.
func (sto *store) indexExpiration(now time.Time) int32 {
	life := max(sto.opts.IdleTimeout, sto.opts.Lifetime, sto.opts.RememberFor)
	return memcluster.Expiration(now, int64(life/time.Second))
}

// enterIndex records the session stored under key in user's list, as used
// from device.
func (sto *store) enterIndex(user, key, device string, now time.Time) error {
	handle, name := []byte(sto.handleOf(key)), []byte(device)
	return sto.updateIndex(user, now, func(x *userIndex) bool { return x.enter(handle, name, now.Unix()) })
}

// leaveIndex removes the sessions stored under keys from user's list. It
// only logs a failure: the sessions are gone, and a list entry whose
// session is gone is dropped when the list is read.
func (sto *store) leaveIndex(user string, now time.Time, keys ...string) {
	handles := make([][]byte, len(keys))
	for i, k := range keys {
		handles[i] = []byte(sto.handleOf(k))
	}
	if err := sto.updateIndex(user, now, func(x *userIndex) bool { return x.leave(handles...) }); err != nil {
		sto.opts.Logger.Warn("ginsession: ended sessions stay in their user's session list until it is read", "error", err)
	}
}

// listSessions reads user's list and the session each entry names. It
// returns the sessions that are alive and still belong to user (with the
// security stamp hash stamp, unless it is nil), leaving out the one stored
// under current, whose entry's device it returns. Entries whose session is
// gone leave the list (logged if that fails: they are left out again the
// next time); a missing session whose entry is not settled yet is only
// left out, as its Login may still be storing it.
func (sto *store) listSessions(user, current string, stamp []byte, now time.Time) (others []SessionInfo, device string, err error) {
	var x userIndex
	if _, _, err := sto.readIndex(&x, sto.indexKey(user)); err != nil {
		return nil, "", fmt.Errorf("ginsession: read session list: %w", err)
	}
	own := sto.handleOf(current)
	var gone []string
	for _, e := range x.entries {
		if string(e.handle) == own {
			device = string(e.device)
			continue
		}
		var r record
		key := sto.keyOf(string(e.handle))
		_, found, err := sto.load(&r, key, now)
		if err != nil {
			return nil, "", fmt.Errorf("ginsession: read session list: %w", errors.Unwrap(err))
		}
		if found != LoadFound || sto.trackedUser(&r) != user || (stamp != nil && !sameStamp(r.stamp[:], stamp)) {
			if found == LoadFound || sto.settled(e, now) {
				gone = append(gone, key)
			}
			continue
		}
		others = append(others, SessionInfo{
			Handle:     string(e.handle),
			Device:     string(e.device),
			Created:    time.Unix(r.created, 0),
			LastSeen:   time.Unix(r.touched, 0),
			Remembered: r.persistent,
		})
	}
	if len(gone) > 0 {
		sto.leaveIndex(user, now, gone...)
	}
	return others, device, nil
}

// endSessions deletes the sessions of user's list whose handle pick
// chooses and that still belong to user, for as long as any of them could
// have lived, then removes them from the list. A session whose record is
// not found is deleted all the same: on a cluster a copy may be out of
// reach, and must stay dead when it returns. Its entry stays in the list
// until it is settled, in case its Login is still storing it. endSessions
// returns how many sessions it ended; at the first delete that fails it
// stops and returns the error.
func (sto *store) endSessions(user string, now time.Time, pick func(handle string) bool) (int, error) {
	var x userIndex
	if _, _, err := sto.readIndex(&x, sto.indexKey(user)); err != nil {
		return 0, fmt.Errorf("ginsession: end session: %w", err)
	}
	life := max(sto.opts.IdleTimeout, sto.opts.Lifetime, sto.opts.RememberFor)
	var drop []string
	ended := 0
	var err error
	for _, e := range x.entries {
		handle := string(e.handle)
		if !pick(handle) {
			continue
		}
		key := sto.keyOf(handle)
		var r record
		_, found, loadErr := sto.load(&r, key, now)
		if loadErr != nil {
			err = fmt.Errorf("ginsession: end session: %w", errors.Unwrap(loadErr))
			break
		}
		if found == LoadFound && sto.trackedUser(&r) != user {
			continue // the application gave it to another user: not this user's to end
		}
		if delErr := sto.delete(key, life); delErr != nil && !isMiss(delErr) {
			err = fmt.Errorf("ginsession: end session: %w", delErr)
			break
		}
		ended++
		if found == LoadFound || sto.settled(e, now) {
			drop = append(drop, key)
		}
	}
	if len(drop) > 0 {
		sto.leaveIndex(user, now, drop...)
	}
	return ended, err
}

// settled reports whether an entry is old enough that its Login has
// finished, stored or not: a Login enters the session just before it
// stores it, and makes at most 2+MaxRetries store calls of at most Timeout
// each before and after that. Until then a missing session may be on its
// way. Never less than a minute, for clock steps between servers.
func (sto *store) settled(e indexEntry, now time.Time) bool {
	grace := max(time.Minute, time.Duration(2*(sto.opts.MaxRetries+2))*sto.opts.Timeout)
	return now.Unix()-e.entered >= int64(grace/time.Second)
}
