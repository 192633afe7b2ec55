package ginsession

import "time"

// The per-request session state is plain data: this file holds its types and
// the transitions the Session methods make, and does no I/O. The store
// (store.go) reads and writes it; the response code (response.go) decides
// when.

// loadState says whether the stored session has been read yet.
type loadState uint8

const (
	unloaded   loadState = iota // nothing read: the middleware does no I/O
	loaded                      // rec holds the stored (or a fresh) session
	stale                       // rec held changes a failed commit dropped: the next use reads the store again
	loadFailed                  // the store failed: the session is unusable for this request
)

// idState says what the session's ID stands for in the store.
type idState uint8

const (
	idAnonymous   idState = iota // a new session without an ID: nothing to store, no cookie
	idFresh                      // a new session with its ID, not yet stored: stored with Add
	idStored                     // a record exists under key: updated with CompareAndSwap
	idRegenerated                // a new ID for a stored session: Add the new key, then delete prev
)

// cookieAction is what the next commit before the header does to the cookie.
type cookieAction uint8

const (
	cookieKeep   cookieAction = iota // leave the browser's cookie alone
	cookieSend                       // set it: a new ID, or persistence changed
	cookieExpire                     // expire it: the session was destroyed
	// cookieResign: set it again, signed with the current secret (it
	// verified with one of OldSecrets). Unlike cookieSend it can wait for a
	// later response when the header is already out.
	cookieResign
)

// prevKind says what identity.prevKey names.
type prevKind uint8

const (
	prevNone prevKind = iota
	// prevStored: the stored session a pending regeneration replaces,
	// deleted once the new ID is stored, left alone if storing fails.
	prevStored
	// prevDead: a verified cookie whose record was not found (ended,
	// expired, or out of reach on a cluster). On a cluster a regeneration
	// buries it once the new ID is stored, and so does a destroy, so the
	// old cookie stays dead whatever copy of it may return.
	prevDead
)

// String returns the state's name, for test failures and debugging.
func (l loadState) String() string {
	return enumName("loadState", []string{"unloaded", "loaded", "stale", "loadFailed"}, int(l))
}

// String returns the state's name, for test failures and debugging.
func (s idState) String() string {
	return enumName("idState", []string{"idAnonymous", "idFresh", "idStored", "idRegenerated"}, int(s))
}

// String returns the action's name, for test failures and debugging.
func (a cookieAction) String() string {
	return enumName("cookieAction", []string{"cookieKeep", "cookieSend", "cookieExpire", "cookieResign"}, int(a))
}

// String returns the kind's name, for test failures and debugging.
func (k prevKind) String() string {
	return enumName("prevKind", []string{"prevNone", "prevStored", "prevDead"}, int(k))
}

// identity is the session's place in the store.
type identity struct {
	state idState
	prev  prevKind // what prevKey names
	id    string   // "" while anonymous
	key   string   // the memcached key of id, filled by the store when needed
	cas   uint64   // CAS id of the stored record as read; 0 = unknown, re-read before a swap
	// prevKey is the key of an earlier session this one replaces (see
	// prevKind).
	prevKey string
}

// state is one request's view of its session. It is allocated with the
// Session on every request that uses one, record included, so it keeps to
// what a read needs; a write allocates its change log.
type state struct {
	load   loadState
	cookie cookieAction
	isNew  bool // created by this request: no valid stored session was found, or it was destroyed
	ident  identity
	// rec is the session's data: the stored record as read (decoded in
	// place), a fresh one, or one this request wrote.
	rec     record
	ch      changes
	loadErr error // the store failure, when load is loadFailed
	// encodeErr holds the values that failed to encode since the last
	// Save, which reports them whatever else happened to the session.
	encodeErr error
}

// changes are this request's own edits, replayed onto a fresh copy of the
// stored session when a CompareAndSwap conflicts.
type changes struct {
	cleared    bool
	meta       bool   // the record's metadata changed (persistence, stamp, its check): replayed whole
	refresh    bool   // the idle deadline is due to be pushed forward
	edits      []edit // the last set or delete of each key changed
	flashAdded [][]byte
	flashTaken [][]byte
}

// edit is a set (or delete) of one key.
type edit struct {
	key string
	set bool
}

// edited reports whether the request changed the session's data.
func (ch *changes) edited() bool {
	return ch.cleared || ch.meta || len(ch.edits) > 0 || len(ch.flashAdded) > 0 || len(ch.flashTaken) > 0
}

// mark records a set (or delete) of key. A request changes few keys, so a
// slice searched linearly beats a map here.
func (ch *changes) mark(key string, set bool) {
	for i := range ch.edits {
		if ch.edits[i].key == key {
			ch.edits[i].set = set
			return
		}
	}
	ch.edits = append(ch.edits, edit{key: key, set: set})
}

// freshRecord returns an empty session record created at now.
func freshRecord(now time.Time, persistent bool) record {
	t := now.Unix()
	return record{meta: meta{created: t, touched: t, persistent: persistent}}
}

// startFresh makes the state a new, empty, anonymous session.
func (st *state) startFresh(now time.Time, persistent bool) {
	st.load, st.isNew = loaded, true
	st.ident = identity{}
	st.rec = freshRecord(now, persistent)
	st.ch = changes{}
}

// startStored makes the state the stored session that was just decoded
// into st.rec, read under key with CAS id cas.
func (st *state) startStored(id, key string, cas uint64) {
	st.load = loaded
	st.ident = identity{state: idStored, id: id, key: key, cas: cas}
}

// needsWrite reports whether a commit has something to store.
func (st *state) needsWrite() bool {
	return st.ch.edited() || st.ch.refresh || st.ident.state == idFresh || st.ident.state == idRegenerated
}

// giveID gives an anonymous session its ID (at its first change) and
// schedules its cookie.
func (st *state) giveID(newID func() string) {
	if st.ident.state == idAnonymous {
		st.ident = identity{state: idFresh, id: newID()}
		st.cookie = cookieSend
	}
}

// set stores raw under key; it reports whether anything changed.
func (st *state) set(key string, raw []byte) bool {
	if old, ok := st.rec.get(key); ok && string(old) == string(raw) {
		return false
	}
	st.rec.set(key, raw)
	st.ch.mark(key, true)
	return true
}

// del removes key; it reports whether anything changed.
func (st *state) del(key string) bool {
	if _, ok := st.rec.get(key); !ok {
		return false
	}
	st.rec.del(key)
	st.ch.mark(key, false)
	return true
}

// clear removes every key and flash; it reports whether anything changed.
func (st *state) clear() bool {
	if st.rec.count() == 0 && len(st.rec.flashes) == 0 {
		return false
	}
	st.takeFlashes()
	st.rec.clearValues()
	st.ch.cleared = true
	st.ch.edits = nil
	return true
}

// addFlash queues raw as a flash message.
func (st *state) addFlash(raw []byte) {
	st.rec.flashes = append(st.rec.flashes, raw)
	st.ch.flashAdded = append(st.ch.flashAdded, raw)
}

// takeFlashes removes and returns all flashes: those stored before this
// request are recorded as consumed, those added in it are simply dropped.
func (st *state) takeFlashes() [][]byte {
	all := st.rec.flashes
	stored := max(len(all)-len(st.ch.flashAdded), 0)
	st.ch.flashTaken = append(st.ch.flashTaken, all[:stored]...)
	st.ch.flashAdded = nil
	st.rec.flashes = nil
	return all
}

// setPersistent changes the "remember me" flag; it reports whether anything
// changed.
func (st *state) setPersistent(on bool) bool {
	if st.rec.persistent == on {
		return false
	}
	st.rec.persistent = on
	st.ch.meta = true
	st.cookie = cookieSend
	return true
}

// regenerate gives the session a new ID, keeping its data; a stored session
// becomes the pending previous one. With restartAt set (a login), the
// absolute Lifetime counts from then.
func (st *state) regenerate(newID func() string, restartAt int64) {
	prevKey, prev := st.ident.prevKey, st.ident.prev
	if st.ident.state == idStored {
		prevKey, prev = st.ident.key, prevStored
	}
	next := idFresh
	if prev == prevStored {
		next = idRegenerated
	}
	st.ident = identity{state: next, id: newID(), prev: prev, prevKey: prevKey}
	st.cookie = cookieSend
	if restartAt != 0 {
		st.rec.created = restartAt
	}
}

// setGuard records the user's stamp hash (nil: none) as checked at now.
func (st *state) setGuard(stamp []byte, now int64) {
	if stamp == nil && !st.rec.stamped() {
		return
	}
	var hash [stampSize]byte
	copy(hash[:], stamp)
	st.rec.stamp, st.rec.stampChecked = hash, now
	st.ch.meta = true
}

// storedKeys returns the keys a destroy must delete: the stored record's and
// a pending regeneration's previous one.
func (st *state) storedKeys() []string {
	var keys []string
	if st.ident.prev == prevStored {
		keys = append(keys, st.ident.prevKey)
	}
	if st.ident.state == idStored {
		keys = append(keys, st.ident.key)
	}
	return keys
}

// destroyed empties the session after its record was deleted and schedules
// the cookie's expiry.
func (st *state) destroyed(now time.Time, persistent bool) {
	st.startFresh(now, persistent)
	st.cookie = cookieExpire
}

// ended handles a session that vanished from the store during the request
// (a logout elsewhere, expiry, eviction) or outlived its Lifetime: the
// request's changes are dropped rather than bringing it back. The cookie is
// left alone: expiring it could undo a login that replaced the session in
// another tab.
func (st *state) ended(now time.Time, persistent bool) {
	st.startFresh(now, persistent)
	st.cookie = cookieKeep
}

// written resets change tracking after a successful write of rec. The CAS id
// is now unknown, so a second commit in this request re-reads first.
func (st *state) written(rec *record) {
	st.rec = *rec
	st.ident.state, st.ident.cas, st.ident.prev, st.ident.prevKey = idStored, 0, prevNone, ""
	st.ch = changes{}
}

// dropChanges forgets the pending edits after a failed commit, so neither
// a read nor a later commit in this request sees them. A stored (or
// regenerated) session goes stale: its next use reads the stored session
// again under the request's cookie, the old ID. A new session that failed
// to store starts over.
func (st *state) dropChanges(now time.Time, persistent bool) {
	switch st.ident.state {
	case idStored, idRegenerated:
		st.load, st.rec, st.ident = stale, record{}, identity{}
		st.cookie = cookieKeep
	case idFresh, idAnonymous:
		st.rec = freshRecord(now, persistent)
		if st.cookie == cookieSend {
			st.ident, st.cookie = identity{}, cookieKeep
		}
	}
	st.ch = changes{}
}

// replay applies this request's changes to a freshly read record: a clear,
// then the last set or delete of each key it changed (last writer wins per
// key), flash messages consumed and added, and, if it changed any of the
// metadata, all of it (the last request to change metadata wins it whole).
func (st *state) replay(fresh *record) record {
	out := fresh.clone()
	if st.ch.cleared {
		out.clearValues()
	}
	for _, e := range st.ch.edits {
		if !e.set {
			out.del(e.key)
		} else if v, ok := st.rec.get(e.key); ok {
			out.set(e.key, v)
		}
	}
	out.flashes = append(removeFlashes(out.flashes, st.ch.flashTaken), st.ch.flashAdded...)
	if st.ch.meta {
		out.meta = st.rec.meta // the store then sets touched
	}
	return out
}
