package ginsession

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// isMiss reports whether err means "no such item".
func isMiss(err error) bool {
	return errors.Is(err, memcache.ErrCacheMiss)
}

// isGone reports whether a CompareAndSwap failed because the item no longer
// exists (deleted, expired or evicted).
func isGone(err error) bool {
	return isMiss(err) || errors.Is(err, memcache.ErrNotStored)
}

// How a commit may deal with the session cookie.
const (
	cookieNow   = iota // the header is unwritten: set (or expire) it now
	cookieNever        // too late for a header: a new session cannot be stored
)

// commitLocked writes the session if it changed, was regenerated or is due
// for an idle refresh, then sets or expires the cookie as timing allows. It
// returns ErrHeaderWritten when a new session changed too late to send its
// cookie.
func (s *Session) commitLocked(timing int) error {
	if !s.loaded || s.loadErr != nil {
		return nil
	}
	write := s.ch.dirty || s.refresh
	if !write && (timing != cookieNow || s.cookie == cookieNone) {
		return nil // the common read-only request: not even a clock read
	}
	now := s.m.now()
	if write {
		if !s.stored && timing == cookieNever {
			s.dropChanges()
			return ErrHeaderWritten
		}
		if err := s.store(now); err != nil {
			return err
		}
	}
	if timing == cookieNow && s.cookie != cookieNone {
		s.writeCookie(now)
		s.cookie = cookieNone
	}
	return nil
}

// store writes the record: Add for a new or regenerated session,
// CompareAndSwap (with re-read and merge on conflict) for an existing one.
func (s *Session) store(now time.Time) error {
	exp, ok := s.m.expiration(s.rec.created, now)
	if !ok { // the absolute lifetime ended during this request
		return s.forget()
	}
	if s.stored {
		return s.swap(now, exp)
	}
	s.rec.touched = now.Unix()
	value, err := s.m.encodeChecked(s.rec)
	if err != nil {
		return err
	}
	item := &memcache.Item{Key: s.key(s.id), Value: value, Expiration: exp}
	err = s.m.client.Add(item)
	if errors.Is(err, memcache.ErrNotStored) { // an ID collision: never overwrite
		s.id = newID()
		item.Key = s.key(s.id)
		err = s.m.client.Add(item)
	}
	if err != nil {
		return fmt.Errorf("ginsession: save session: %w", err)
	}
	if s.oldKey != "" {
		err := s.m.client.Delete(s.oldKey)
		if err != nil {
			_ = s.m.client.Delete(item.Key) // undo: the old session decides
		}
		if isMiss(err) { // destroyed elsewhere meanwhile: do not bring it back
			return s.forget()
		}
		if err != nil {
			return fmt.Errorf("ginsession: regenerate session: delete old ID: %w", err)
		}
		s.oldKey, s.oldID = "", ""
	}
	s.stored = true
	s.written()
	return nil
}

// swap updates an existing record with CompareAndSwap. On a conflict it
// re-reads the stored session, replays this request's own changes onto it
// and retries, at most MaxRetries times. A session deleted meanwhile is not
// brought back.
func (s *Session) swap(now time.Time, exp int32) error {
	item := &memcache.Item{Key: s.key(s.id), Expiration: exp}
	if s.casValid && !s.ch.remerge {
		s.rec.touched = now.Unix()
		value, err := s.m.encodeChecked(s.rec)
		if err != nil {
			return err
		}
		item.Value, item.CasID = value, s.casID
		if done, err := s.settle(s.m.client.CompareAndSwap(item), s.rec); done {
			return err
		}
	}
	for attempt := range s.m.opts.MaxRetries {
		if attempt > 0 {
			backoff(attempt)
		}
		fresh, cas, err := s.m.load(s.key(s.id), now)
		if err != nil {
			return fmt.Errorf("ginsession: save session: %w", errors.Unwrap(err))
		}
		if fresh == nil {
			return s.forget()
		}
		if !s.ch.dirty && !s.m.refreshDue(fresh, now) {
			// Only a refresh was due, and another request just did it.
			s.rec, s.refresh = fresh, false
			return nil
		}
		merged := s.replay(fresh)
		merged.touched = now.Unix()
		value, err := s.m.encodeChecked(merged)
		if err != nil {
			return err
		}
		item.Value, item.CasID = value, cas
		if done, err := s.settle(s.m.client.CompareAndSwap(item), merged); done {
			return err
		}
	}
	return fmt.Errorf("ginsession: save session: %w (gave up after %d merges)", memcache.ErrCASConflict, s.m.opts.MaxRetries)
}

// settle interprets a CompareAndSwap result for the record rec that was
// sent. done is false only for a conflict, which calls for a re-read.
func (s *Session) settle(err error, rec *record) (done bool, _ error) {
	switch {
	case err == nil:
		s.rec = rec
		s.written()
		return true, nil
	case isGone(err):
		return true, s.forget()
	case errors.Is(err, memcache.ErrCASConflict):
		return false, nil
	}
	return true, fmt.Errorf("ginsession: save session: %w", err)
}

// backoff sleeps a short random time before the attempt-th retry, so
// requests racing on one session spread out instead of colliding again.
func backoff(attempt int) {
	limit := time.Duration(min(attempt, 10)) * 200 * time.Microsecond
	time.Sleep(rand.N(limit))
}

// replay applies this request's changes to a freshly read record: a clear,
// then the last set or delete of each key it changed (last writer wins per
// key), flash messages consumed and added, and the persistence flag.
func (s *Session) replay(fresh *record) *record {
	out := fresh.clone()
	if s.ch.cleared {
		out.clearValues()
	}
	for _, e := range s.ch.edits {
		if !e.set {
			out.del(e.key)
		} else if v, ok := s.rec.get(e.key); ok {
			out.set(e.key, v)
		}
	}
	out.flashes = append(removeFlashes(out.flashes, s.ch.flashTaken), s.ch.flashAdded...)
	if s.ch.persistent {
		out.persistent = s.rec.persistent
	}
	return out
}

// written resets change tracking after a successful write. The CAS id is
// now unknown, so a second commit in this request re-reads first.
func (s *Session) written() {
	s.ch = changes{}
	s.refresh = false
	s.casValid = false
}

// forget handles a session that vanished (deleted by a logout elsewhere,
// regenerated, expired or evicted) or outlived its Lifetime: this request's
// changes are dropped rather than resurrecting it. It returns
// ErrSessionEnded, for Save to report.
func (s *Session) forget() error {
	s.m.opts.Logger.Info("ginsession: session ended during the request; its changes were discarded")
	s.id, s.stored, s.casValid, s.oldKey, s.refresh = "", false, false, "", false
	s.isNew = true
	s.rec = s.m.freshRecord(s.m.now())
	s.ch = changes{}
	// Leave the cookie alone: expiring it here could race with (and undo)
	// a login that replaced the session in another tab.
	s.cookie = cookieNone
	return ErrSessionEnded
}

// encodeChecked encodes r and enforces MaxSize.
func (m *Manager) encodeChecked(r *record) ([]byte, error) {
	value := r.encode(nil)
	if len(value) > m.opts.MaxSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, MaxSize is %d", ErrTooLarge, len(value), m.opts.MaxSize)
	}
	return value, nil
}

// writeCookie adds the Set-Cookie header (replacing one this request set
// earlier) and Cache-Control: no-store unless the handler chose a policy.
func (s *Session) writeCookie(now time.Time) {
	o := &s.m.opts
	ck := http.Cookie{
		Name:     o.CookieName,
		Path:     o.CookiePath,
		Domain:   o.CookieDomain,
		HttpOnly: true,
		Secure:   !o.InsecureCookie,
		SameSite: o.SameSite,
	}
	if s.cookie == cookieExpire || s.id == "" {
		ck.MaxAge = -1
	} else {
		ck.Value = s.m.cookies.encode(s.id)
		if s.rec.persistent {
			ck.MaxAge = int(s.rec.created + int64(o.Lifetime/time.Second) - now.Unix())
		}
	}
	h := s.w.Header()
	prefix := o.CookieName + "="
	kept := h["Set-Cookie"][:0]
	for _, v := range h["Set-Cookie"] {
		if len(v) < len(prefix) || v[:len(prefix)] != prefix {
			kept = append(kept, v)
		}
	}
	h["Set-Cookie"] = append(kept, ck.String())
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
}
