package history

import (
	"strings"
	"testing"
)

// h builds a history from ops given in order, with Seq set and, where the
// op leaves them zero, Start and End in sequence (each op after the
// previous one).
func h(ops ...Op) []Op {
	var clock int64
	for i := range ops {
		ops[i].Seq = i
		if ops[i].Start == 0 {
			clock++
			ops[i].Start = clock
			clock++
			ops[i].End = clock
		}
	}
	return ops
}

func login(user, cookie, set string) Op {
	return Op{Kind: Login, User: user, Cookie: cookie, Status: 200, OK: true, SetCookie: set}
}

func read(cookie, served string, seen map[string]int64) Op {
	return Op{Kind: Read, Cookie: cookie, Status: 200, OK: true, Served: served, Seen: seen}
}

func write(cookie, user, key string, v int64) Op {
	return Op{Kind: Write, Cookie: cookie, User: user, Served: user, Key: key, Value: v, Status: 200, OK: true}
}

func only(t *testing.T, rep *Report, inv Invariant, want int) {
	t.Helper()
	for _, i := range Invariants {
		n, w := rep.Count(i), 0
		if i == inv {
			w = want
		}
		if n != w {
			t.Errorf("%s: %d violations, want %d; %v", i, n, w, rep.Violations)
		}
	}
}

func TestCleanHistory(t *testing.T) {
	rep := Check(h(
		login("alice", "", "A"),
		write("A", "alice", "k", 1),
		read("A", "alice", map[string]int64{"k": 1}),
		Op{Kind: Regenerate, Cookie: "A", Served: "alice", Status: 200, OK: true, SetCookie: "B"},
		read("A", "", nil), // the old cookie is dead
		read("B", "alice", map[string]int64{"k": 1}),
		Op{Kind: Logout, Cookie: "B", Served: "alice", Status: 200, OK: true, Cleared: true},
		read("B", "", nil),
	))
	only(t, rep, "", 0)
	if rep.Requests != 8 || rep.Sessions != 1 {
		t.Errorf("requests=%d sessions=%d, want 8 and 1", rep.Requests, rep.Sessions)
	}
}

func TestEnded(t *testing.T) {
	ok := Op{Kind: Logout, Cookie: "A", Served: "alice", Status: 200, OK: true, Cleared: true}
	failed := Op{Kind: Logout, Cookie: "A", Served: "alice", Status: 503}
	// After a successful logout: violation. After a failed one: none.
	only(t, Check(h(login("alice", "", "A"), ok, read("A", "alice", nil))), Ended, 1)
	only(t, Check(h(login("alice", "", "A"), failed, read("A", "alice", nil))), "", 0)
	// A read that started before the logout answered may still see it.
	concurrent := read("A", "alice", nil)
	concurrent.Start, concurrent.End = 4, 7
	only(t, Check(h(login("alice", "", "A"), Op{Kind: Logout, Cookie: "A", Served: "alice", Status: 200, OK: true, Start: 3, End: 6}, concurrent)), "", 0)
	// Login over another user ends the old cookie too.
	rep := Check(h(login("bob", "", "A"), login("alice", "A", "B"), read("A", "bob", nil)))
	only(t, rep, Ended, 1)
	if ex := rep.Excerpt(rep.Violations[0], 10); !strings.Contains(ex, "<- #1") || !strings.Contains(ex, "!! #2") {
		t.Errorf("excerpt does not mark the cause and the violation:\n%s", ex)
	}
}

func TestOneUser(t *testing.T) {
	only(t, Check(h(login("bob", "", "A"), read("A", "alice", nil))), OneUser, 1)
	only(t, Check(h(read("X", "alice", nil))), OneUser, 1) // never issued
	// bob's value shown to alice after she logged in over his session.
	only(t, Check(h(
		login("bob", "", "A"), write("A", "bob", "k", 1),
		login("alice", "A", "B"), read("B", "alice", map[string]int64{"k": 1}),
	)), OneUser, 1)
}

func TestLostWrite(t *testing.T) {
	only(t, Check(h(login("a", "", "A"), write("A", "a", "k", 2), read("A", "a", map[string]int64{"k": 1}))), NoLostWrite, 2) // lower, and 1 never written
	only(t, Check(h(login("a", "", "A"), write("A", "a", "k", 1), write("A", "a", "k", 2), read("A", "a", map[string]int64{"k": 1}))), NoLostWrite, 1)
	only(t, Check(h(login("a", "", "A"), write("A", "a", "k", 1), read("A", "a", map[string]int64{}))), NoLostWrite, 1)
	// A later read going back below what an earlier read saw.
	only(t, Check(h(login("a", "", "A"), write("A", "a", "k", 1),
		Op{Kind: Write, Cookie: "A", User: "a", Key: "k", Value: 2, Status: 503},
		read("A", "a", map[string]int64{"k": 2}), read("A", "a", map[string]int64{"k": 1}))), NoLostWrite, 1)
	// A failed write proves nothing; a read after the session began to end
	// is not checked.
	only(t, Check(h(login("a", "", "A"), Op{Kind: Write, Cookie: "A", User: "a", Key: "k", Value: 1, Status: 503}, read("A", "a", nil))), "", 0)
	only(t, Check(h(login("a", "", "A"), write("A", "a", "k", 1), Op{Kind: Logout, Cookie: "A", Status: 503}, read("A", "a", nil))), "", 0)
}

func TestRemembered(t *testing.T) {
	remember := Op{Kind: Remember, Cookie: "A", Served: "a", Status: 200, OK: true, SetCookie: "A", MaxAge: 100}
	refresh := read("A", "a", nil)
	refresh.SetCookie = "A"
	only(t, Check(h(login("a", "", "A"), remember, refresh)), Remembered, 1)
	refresh.MaxAge = 100
	only(t, Check(h(login("a", "", "A"), remember, refresh)), "", 0)
	// Through Regenerate.
	only(t, Check(h(login("a", "", "A"), remember, Op{Kind: Regenerate, Cookie: "A", Served: "a", Status: 200, OK: true, SetCookie: "B"})), Remembered, 1)
	// After idling: logged out is a violation, 503 is not, and a session
	// that was not remembered is not held to it.
	idle := read("A", "", nil)
	idle.Idle = true
	rep := Check(h(login("a", "", "A"), remember, idle))
	only(t, rep, Remembered, 1)
	if rep.IdleChecked != 1 {
		t.Errorf("IdleChecked = %d, want 1", rep.IdleChecked)
	}
	only(t, Check(h(login("a", "", "A"), remember, Op{Kind: Read, Cookie: "A", Idle: true, Status: 503})), "", 0)
	only(t, Check(h(login("a", "", "A"), idle)), "", 0)
}

func TestFaultContext(t *testing.T) {
	ops := h(login("a", "", "A"),
		Op{Kind: Logout, Cookie: "A", Served: "a", Status: 200, OK: true, Cleared: true},
		read("A", "a", nil))
	ops = append(ops, Op{Seq: 3, Kind: Fault, Note: "partition s1 for 1s", Start: 3, End: 4})
	rep := Check(ops)
	if got := rep.FaultContext(rep.Violations[0]); got != "partition" {
		t.Errorf("FaultContext = %q, want partition", got)
	}
	if got := rep.ByFault(); got != "a:ended-stays-ended: partition=1\n" {
		t.Errorf("ByFault = %q", got)
	}
}
