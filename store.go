package ginsession

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/memcluster"
)

// store is the only code that calls the memcached Client: it reads a
// session, writes one (Add for a new ID, CompareAndSwap with re-read and
// merge for an existing one) and deletes one. The caller holds the
// session's lock and passes the time.
type store struct {
	client  Client
	opts    *Options
	records *recordSealer // seals what is written, verifies what is read
	// buffers holds *[]byte record buffers and items holds *memcache.Item
	// write requests, both reused across writes: a Client never keeps the
	// item or its Value past its call (gomemcache writes it out, the memory
	// client copies it).
	buffers sync.Pool
	items   sync.Pool
}

// isMiss reports whether err means "no such item".
func isMiss(err error) bool {
	return errors.Is(err, memcache.ErrCacheMiss)
}

// isGone reports whether a CompareAndSwap failed because the item no longer
// exists (deleted, expired or evicted).
func isGone(err error) bool {
	return isMiss(err) || errors.Is(err, memcache.ErrNotStored)
}

// key returns the memcached key of id, remembered in ident.
func (sto *store) key(ident *identity) string {
	if ident.key == "" {
		ident.key = storageKey(sto.opts.KeyPrefix, ident.id)
	}
	return ident.key
}

// load fetches the session stored under key and decodes it into dst,
// returning its CAS id and what it found. Anything but LoadFound leaves
// nothing usable in dst: not stored, expired, or bytes that are not a
// valid record (logged); err is set only for store failures.
func (sto *store) load(dst *record, key string, now time.Time) (cas uint64, found LoadResult, err error) {
	item, err := sto.client.Get(key)
	if isMiss(err) {
		return 0, LoadNotStored, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("ginsession: load session: %w", err)
	}
	if err := sto.records.open(dst, key, item.Value); err != nil {
		sto.opts.Logger.Warn("ginsession: ignoring unreadable session record; starting a new session", "error", err, "bytes", len(item.Value))
		if errors.Is(err, errForgedRecord) {
			return 0, LoadForged, nil
		}
		return 0, LoadUnreadable, nil
	}
	if !sto.opts.alive(dst, now) {
		return 0, LoadExpired, nil
	}
	return item.CasID, LoadFound, nil
}

// save writes the session: Add for a new or regenerated one,
// CompareAndSwap for a stored one. A session whose Lifetime ended, or that
// vanished from the store meanwhile, is not brought back: st becomes a
// fresh session and save returns ErrSessionEnded. device describes the
// request's client for the user's session list (Options.TrackSessions;
// "" when off).
func (sto *store) save(st *state, now time.Time, device string) error {
	exp, ok := sto.opts.expiration(&st.rec, now)
	if !ok {
		return sto.ended(st, now)
	}
	buf := sto.buffer()
	defer sto.release(buf)
	item := sto.item()
	defer sto.releaseItem(item)
	if st.ident.state == idStored {
		return sto.swap(st, now, exp, buf, item)
	}
	return sto.add(st, now, exp, buf, item, device)
}

// maxPooledBuffer is the largest record buffer kept for reuse: a rare huge
// session must not pin its memory in the pool.
const maxPooledBuffer = 64 << 10

// buffer returns a record buffer from the pool.
func (sto *store) buffer() *[]byte {
	if b, ok := sto.buffers.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, 512)
	return &b
}

// item returns a write request from the pool.
func (sto *store) item() *memcache.Item {
	if it, ok := sto.items.Get().(*memcache.Item); ok {
		return it
	}
	return new(memcache.Item)
}

// releaseItem returns a write request to the pool, emptied: it must not keep
// a dropped oversized buffer, or one session's bytes, alive in the pool.
func (sto *store) releaseItem(it *memcache.Item) {
	*it = memcache.Item{}
	sto.items.Put(it)
}

// release returns a record buffer to the pool.
func (sto *store) release(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		sto.buffers.Put(b)
	}
}

// add stores a new (or regenerated) session under its ID, never
// overwriting, then deletes the ID a regeneration replaced. A logged-in
// session is entered in its user's session list first (when tracked), so
// that every session the list misses is gone; the entry of the ID it
// replaced is removed once that is deleted.
func (sto *store) add(st *state, now time.Time, exp int32, buf *[]byte, item *memcache.Item, device string) error {
	st.rec.touched = now.Unix()
	key := sto.key(&st.ident)
	value, err := sto.encode(key, &st.rec, buf)
	if err != nil {
		return err
	}
	user := sto.trackedUser(&st.rec)
	if err := sto.enter(user, key, device, now); err != nil {
		return err
	}
	*item = memcache.Item{Key: key, Value: value, Expiration: exp}
	err = sto.client.Add(item)
	if errors.Is(err, memcache.ErrNotStored) { // an ID collision: never overwrite
		st.ident.id, st.ident.key = newID(), ""
		item.Key = sto.key(&st.ident)
		item.Value = sto.records.seal(item.Key, item.Value) // the tag binds the key
		if err := sto.enter(user, item.Key, device, now); err != nil {
			return err
		}
		err = sto.client.Add(item)
	}
	if err != nil {
		return fmt.Errorf("ginsession: save session: %w", err)
	}
	if err := sto.buryDead(st); err != nil {
		_ = sto.delete(item.Key, sto.opts.IdleTimeout) // undo: the login fails
		return fmt.Errorf("ginsession: regenerate session: delete old ID: %w", err)
	}
	if prev := st.ident.prevKey; st.ident.prev == prevStored {
		life := sto.opts.tombstoneLife(&st.rec, st.ch.meta, now)
		err := sto.delete(prev, life)
		if err != nil {
			_ = sto.delete(item.Key, life) // undo: the old session decides
		}
		if isMiss(err) { // destroyed elsewhere meanwhile: do not bring it back
			return sto.ended(st, now)
		}
		if err != nil {
			return fmt.Errorf("ginsession: regenerate session: delete old ID: %w", err)
		}
		if user != "" {
			sto.leaveIndex(user, now, prev)
		}
		if observe := sto.opts.Observe; observe != nil {
			observe(Event{Kind: EventRegenerate})
		}
	}
	st.written(&st.rec)
	return nil
}

// enter records the session about to be stored under key in user's list;
// nothing for "" (untracked, or not logged in).
func (sto *store) enter(user, key, device string, now time.Time) error {
	if user == "" {
		return nil
	}
	if err := sto.enterIndex(user, key, device, now); err != nil {
		return fmt.Errorf("ginsession: save session: %w", err)
	}
	return nil
}

// swap updates a stored record with CompareAndSwap. On a conflict (or with
// no CAS id) it re-reads the stored session, replays this request's own
// changes onto it and retries, at most MaxRetries times.
func (sto *store) swap(st *state, now time.Time, exp int32, buf *[]byte, item *memcache.Item) error {
	*item = memcache.Item{Key: sto.key(&st.ident), Expiration: exp}
	hadCAS := st.ident.cas != 0
	if hadCAS {
		st.rec.touched = now.Unix()
		value, err := sto.encode(item.Key, &st.rec, buf)
		if err != nil {
			return err
		}
		item.Value, item.CasID = value, st.ident.cas
		if done, err := sto.settle(st, now, sto.client.CompareAndSwap(item), &st.rec); done {
			return err
		}
	}
	rounds, err := sto.merge(st, now, buf, item)
	merges := rounds
	if !hadCAS {
		merges-- // the first round only read the CAS id: no conflict yet
	}
	if observe := sto.opts.Observe; observe != nil && merges > 0 {
		observe(Event{Kind: EventConflict, Merges: merges, Failure: failureOf(err), Err: err})
	}
	return err
}

// merge is swap's re-read-and-merge loop: it re-reads the stored session,
// replays this request's own changes onto it and retries, at most
// MaxRetries times, and returns how many rounds it ran.
func (sto *store) merge(st *state, now time.Time, buf *[]byte, item *memcache.Item) (rounds int, _ error) {
	var ok bool
	for attempt := range sto.opts.MaxRetries {
		rounds = attempt + 1
		if attempt > 0 {
			backoff(attempt)
		}
		var fresh record
		cas, found, err := sto.load(&fresh, item.Key, now)
		if err != nil {
			return rounds, fmt.Errorf("ginsession: save session: %w", errors.Unwrap(err))
		}
		if found != LoadFound {
			return rounds, sto.ended(st, now)
		}
		if !st.ch.edited() && !sto.opts.refreshDue(&fresh, now) {
			// Only a refresh was due, and another request just did it.
			st.written(&fresh)
			return rounds, nil
		}
		merged := st.replay(&fresh)
		merged.touched = now.Unix()
		// What the merged record is (remembered or not, its Lifetime)
		// decides its expiration, not this request's copy.
		if item.Expiration, ok = sto.opts.expiration(&merged, now); !ok {
			return rounds, sto.ended(st, now)
		}
		value, err := sto.encode(item.Key, &merged, buf)
		if err != nil {
			return rounds, err
		}
		item.Value, item.CasID = value, cas
		if done, err := sto.settle(st, now, sto.client.CompareAndSwap(item), &merged); done {
			return rounds, err
		}
	}
	return rounds, fmt.Errorf("ginsession: save session: %w (gave up after %d merges)", memcache.ErrCASConflict, sto.opts.MaxRetries)
}

// settle interprets a CompareAndSwap result for the record rec that was
// sent. done is false only for a conflict, which calls for a re-read.
func (sto *store) settle(st *state, now time.Time, err error, rec *record) (done bool, _ error) {
	switch {
	case err == nil:
		st.written(rec)
		return true, nil
	case isGone(err):
		return true, sto.ended(st, now)
	case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcluster.ErrUnconfirmed):
		// A cluster's unconfirmed write is on no server that is read:
		// re-read and merge, as after a conflict.
		return false, nil
	}
	return true, fmt.Errorf("ginsession: save session: %w", err)
}

// ended makes st a fresh session after its stored one vanished or outlived
// its Lifetime, and returns ErrSessionEnded.
func (sto *store) ended(st *state, now time.Time) error {
	sto.opts.Logger.Info("ginsession: session ended during the request; its changes were discarded")
	st.ended(now, sto.opts.Persistent)
	return ErrSessionEnded
}

// remove deletes the stored records of st (logout). A record already gone
// is not an error.
//
// On a cluster it also buries the key of a dead cookie (prevDead):
// a session that read as missing because its server was out of reach must
// not come back once the logout has answered. The deleted sessions then
// leave their user's session list (Options.TrackSessions).
func (sto *store) remove(st *state, now time.Time) error {
	life := sto.opts.tombstoneLife(&st.rec, st.ch.meta, now)
	keys := st.storedKeys()
	for _, key := range keys {
		if err := sto.delete(key, life); err != nil && !isMiss(err) {
			return fmt.Errorf("ginsession: destroy session: %w", err)
		}
	}
	if err := sto.buryDead(st); err != nil {
		return fmt.Errorf("ginsession: destroy session: %w", err)
	}
	if user := sto.trackedUser(&st.rec); user != "" && len(keys) > 0 {
		sto.leaveIndex(user, now, keys...)
	}
	return nil
}

// buryDead deletes, on a tombstoner, the key of the dead cookie a
// regeneration or a destroy replaces (see prevDead), whose record
// could not be read: a copy of it that was out of reach (a partitioned
// server) must not come back once the login or logout has answered. Its
// record is unknown, so the tombstone lives as long as a remembered
// session could.
func (sto *store) buryDead(st *state) error {
	t, ok := sto.client.(tombstoner)
	if !ok || st.ident.prev != prevDead {
		return nil
	}
	err := t.DeleteFor(st.ident.prevKey, max(sto.opts.IdleTimeout, sto.opts.RememberFor))
	if err != nil && !isMiss(err) {
		return err
	}
	st.ident.prev, st.ident.prevKey = prevNone, ""
	return nil
}

// tombstoner is a Client that keeps copies of a key on several servers
// (memcluster.Client): its delete leaves a tombstone, which must outlive
// every copy so that none of them can bring the session back.
type tombstoner interface {
	DeleteFor(key string, life time.Duration) error
}

// delete deletes key, for at least life on a tombstoner.
func (sto *store) delete(key string, life time.Duration) error {
	if t, ok := sto.client.(tombstoner); ok {
		return t.DeleteFor(key, life)
	}
	return sto.client.Delete(key)
}

// encode encodes r into buf, seals it for key and enforces MaxSize and the
// caps on keys and flashes (so whatever is stored can be loaded again).
func (sto *store) encode(key string, r *record, buf *[]byte) ([]byte, error) {
	if err := r.overCaps(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTooLarge, err)
	}
	*buf = r.encode((*buf)[:0])
	value := sto.records.seal(key, *buf)
	if len(value) > sto.opts.MaxSize {
		return nil, fmt.Errorf("%w: %d bytes encoded, MaxSize is %d", ErrTooLarge, len(value), sto.opts.MaxSize)
	}
	return value, nil
}

// backoff sleeps a short random time before the attempt-th retry, so
// requests racing on one session spread out instead of colliding again.
func backoff(attempt int) {
	limit := time.Duration(min(attempt, 10)) * 200 * time.Microsecond
	time.Sleep(rand.N(limit))
}
