package ginsession

import (
	"reflect"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

// The state is plain data: these tests drive its transitions without Gin or
// a store.

func testState(t *testing.T) *state {
	t.Helper()
	st := &state{}
	st.startFresh(time.Unix(1_000_000, 0), false)
	return st
}

func counterID() func() string {
	n := 0
	return func() string { n++; return "id" + strconv.Itoa(n) }
}

func TestStateAnonymousUntilFirstChange(t *testing.T) {
	st := testState(t)
	if st.needsWrite() || st.ident.state != idAnonymous || st.cookie != cookieKeep {
		t.Fatalf("fresh state: needsWrite %v, ident %v, cookie %v", st.needsWrite(), st.ident.state, st.cookie)
	}
	if !st.set("k", []byte{0x01}) {
		t.Fatal("set of a new key reported no change")
	}
	st.giveID(counterID())
	if st.ident != (identity{state: idFresh, id: "id1"}) || st.cookie != cookieSend || !st.needsWrite() {
		t.Fatalf("after the first change: ident %+v, cookie %v", st.ident, st.cookie)
	}
	if st.set("k", []byte{0x01}) {
		t.Error("setting the value a key already holds reported a change")
	}
}

func TestStateFailedRegenerationGoesStale(t *testing.T) {
	st := testState(t)
	startStoredWith(st, "old", "key-old", record{meta: meta{created: 10, touched: 20}}, 7)
	st.regenerate(counterID(), 99)
	if st.ident.state != idRegenerated || st.ident.prevKey != "key-old" || st.rec.created != 99 {
		t.Fatalf("after regenerate: ident %+v, created %d", st.ident, st.rec.created)
	}
	if keys := st.storedKeys(); len(keys) != 1 || keys[0] != "key-old" {
		t.Errorf("storedKeys during a regeneration = %q, want the previous key", keys)
	}
	st.set("role", []byte{0x01})
	st.dropChanges(time.Unix(1_000_000, 0), false)
	if st.load != stale || !reflect.DeepEqual(st.rec, record{}) || st.ident != (identity{}) || st.cookie != cookieKeep || st.needsWrite() {
		t.Fatalf("after a failed regeneration: load %v, rec %v, ident %+v, cookie %v; want a stale state that re-reads the stored session", st.load, st.rec, st.ident, st.cookie)
	}
}

func TestStateReplayAppliesOnlyThisRequestsChanges(t *testing.T) {
	st := testState(t)
	stored := &record{}
	stored.set("cart", []byte{0x01})
	stored.set("theme", []byte{0x02})
	stored.flashes = [][]byte{{0xa1, 'a'}}
	startStoredWith(st, "id", "key", stored.clone(), 1)
	st.del("cart")
	st.set("user", []byte{0x03})
	st.takeFlashes()
	st.addFlash([]byte{0xa1, 'b'})

	// Meanwhile another request changed theme and added a flash.
	fresh := stored.clone()
	fresh.set("theme", []byte{0x04})
	fresh.flashes = append(fresh.flashes, []byte{0xa1, 'c'})

	out := st.replay(&fresh)
	if _, ok := out.get("cart"); ok {
		t.Error("the delete was not replayed")
	}
	if v, _ := out.get("theme"); string(v) != "\x04" {
		t.Errorf("theme = %q, want the other request's value", v)
	}
	if v, _ := out.get("user"); string(v) != "\x03" {
		t.Errorf("user = %q, want this request's value", v)
	}
	if len(out.flashes) != 2 || string(out.flashes[0]) != "\xa1c" || string(out.flashes[1]) != "\xa1b" {
		t.Errorf("flashes = %q, want the other request's c, then this request's b", out.flashes)
	}
}

func TestStateDestroyedExpiresTheCookie(t *testing.T) {
	st := testState(t)
	startStoredWith(st, "id", "key", record{}, 1)
	st.set("k", []byte{0x01})
	st.destroyed(time.Unix(1_000_000, 0), false)
	if st.ident.state != idAnonymous || st.cookie != cookieExpire || st.needsWrite() || !st.isNew || st.rec.count() != 0 {
		t.Fatalf("after destroy: ident %+v, cookie %v, needsWrite %v, isNew %v", st.ident, st.cookie, st.needsWrite(), st.isNew)
	}
}

// A CAS merge carries this request's stamp check and, with a persistence
// change, the creation time that went with it; flashes added and taken in
// the same request are not recorded as consumed.
func TestStateReplayCarriesGuardAndCreated(t *testing.T) {
	st := testState(t)
	startStoredWith(st, "id", "key", record{meta: meta{created: 100, touched: 100, persistent: true}}, 1)
	st.setGuard([]byte("0123456789abcdef"), 500)
	st.setPersistent(false)
	st.rec.created = 400
	fresh := record{meta: meta{created: 100, touched: 300, persistent: true, stamp: [stampSize]byte([]byte("old-stamp-hash..")), stampChecked: 200}}
	out := st.replay(&fresh)
	if string(out.stamp[:]) != "0123456789abcdef" || out.stampChecked != 500 {
		t.Errorf("merged stamp %q checked %d, want this request's", out.stamp, out.stampChecked)
	}
	if out.persistent || out.created != 400 {
		t.Errorf("merged persistent %v created %d, want false and 400", out.persistent, out.created)
	}

	st = testState(t)
	startStoredWith(st, "id", "key", record{flashes: [][]byte{{0xa1, 'a'}}}, 1)
	st.addFlash([]byte{0xa1, 'b'})
	st.takeFlashes()
	if len(st.ch.flashTaken) != 1 || string(st.ch.flashTaken[0]) != "\xa1a" {
		t.Errorf("consumed %q, want only the stored flash", st.ch.flashTaken)
	}
}

// startStoredWith makes st the stored session rec, as a load does.
func startStoredWith(st *state, id, key string, rec record, cas uint64) {
	st.rec = rec
	st.startStored(id, key, cas)
}

// TestSessionFitsItsSizeClass pins the Session's size: every request that
// uses a session allocates one, and 416 bytes is a Go allocation size
// class. One more field moves it to the 448-byte class (+32 B per request).
func TestSessionFitsItsSizeClass(t *testing.T) {
	if size := unsafe.Sizeof(Session{}); size > 416 {
		t.Fatalf("Session is %d bytes, past the 416-byte size class", size)
	}
}

func TestStateEnumsHaveNames(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{unloaded.String(), "unloaded"}, {loadFailed.String(), "loadFailed"}, {loadState(9).String(), "loadState(9)"},
		{idAnonymous.String(), "idAnonymous"}, {idRegenerated.String(), "idRegenerated"}, {idState(4).String(), "idState(4)"},
		{cookieKeep.String(), "cookieKeep"}, {cookieResign.String(), "cookieResign"}, {cookieAction(4).String(), "cookieAction(4)"},
		{prevNone.String(), "prevNone"}, {prevDead.String(), "prevDead"}, {prevKind(3).String(), "prevKind(3)"},
		{phaseOpen.String(), "phaseOpen"}, {phaseDetachedWarned.String(), "phaseDetachedWarned"}, {phase(8).String(), "phase(8)"},
		{phase(1 << 20).String(), "phase(1048576)"},
	} {
		if c.got != c.want {
			t.Errorf("String() = %q, want %q", c.got, c.want)
		}
	}
}

// A merge copies the request's metadata whole when it changed any of it,
// so a metadata field cannot be forgotten by the replay; when it changed
// none, the stored metadata stands.
func TestStateReplayCopiesMetadataWhole(t *testing.T) {
	st := testState(t)
	mine := meta{created: 400, touched: 410, stampChecked: 420, stamp: [stampSize]byte{1}, persistent: true}
	startStoredWith(st, "id", "key", record{meta: mine}, 1)
	theirs := record{meta: meta{created: 100, touched: 300, stampChecked: 200, stamp: [stampSize]byte{2}}}
	if out := st.replay(&theirs); out.meta != theirs.meta {
		t.Errorf("no metadata change: merged %+v, want the stored %+v", out.meta, theirs.meta)
	}
	st.setPersistent(false)
	st.setPersistent(true) // back as it was, but changed
	if out := st.replay(&theirs); out.meta != mine {
		t.Errorf("after a metadata change: merged %+v, want this request's %+v", out.meta, mine)
	}
}
