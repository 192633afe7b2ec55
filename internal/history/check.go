package history

import (
	"cmp"
	"fmt"
	"slices"
)

// Invariant names a property Check verifies.
type Invariant string

// The invariants, one letter each as in the issue that asked for them.
const (
	// Ended: once a logout, regenerate or login sent with cookie C
	// answered success, no request with C that started after that answer
	// is served as a user.
	Ended Invariant = "a:ended-stays-ended"
	// NoLostWrite: per session cookie and key, a successful read sees at
	// least the value of every write acknowledged before it started and of
	// every read completed before it started (a single writer per key
	// writes increasing values), and only values some request wrote.
	// Reads after an end of the session began are not checked.
	NoLostWrite Invariant = "b:no-lost-write"
	// Remembered: a session whose remember-me was acknowledged keeps
	// persistent cookies (Max-Age > 0) on every later answer that sets
	// them, also through Regenerate and merges, and is still logged in
	// after idling past the idle timeout.
	Remembered Invariant = "c:remembered"
	// OneUser: a cookie is only ever served as the user whose login
	// issued it, and a session never shows values written while another
	// user was logged in.
	OneUser Invariant = "d:one-user-per-cookie"
)

// Invariants lists every invariant in report order.
var Invariants = []Invariant{Ended, NoLostWrite, Remembered, OneUser}

// Violation is one broken invariant: the operation that shows it and,
// when there is one, the earlier operation it contradicts.
type Violation struct {
	Inv   Invariant
	Op    int // Seq of the offending operation
	Cause int // Seq of the contradicted operation, -1 for none
	Msg   string
}

// Report is the outcome of Check.
type Report struct {
	Ops        []Op // by Seq
	Violations []Violation

	Requests    int // operations other than faults
	Sessions    int // successful logins
	Faults      int
	Unavailable int // answers with status 503 (store errors: not violations)
	IdleChecked int // reads after idling on remembered sessions

	faults []int // Seqs of the faults, built by FaultContext
}

// Count returns the number of violations of inv.
func (r *Report) Count(inv Invariant) int {
	n := 0
	for _, v := range r.Violations {
		if v.Inv == inv {
			n++
		}
	}
	return n
}

// Summary is a one-paragraph account of the run: sizes and the violation
// count of each invariant.
func (r *Report) Summary() string {
	s := fmt.Sprintf("requests=%d sessions=%d faults=%d status503=%d idle-checked=%d violations:",
		r.Requests, r.Sessions, r.Faults, r.Unavailable, r.IdleChecked)
	for _, inv := range Invariants {
		s += fmt.Sprintf(" %s=%d", inv, r.Count(inv))
	}
	return s
}

// checker holds the indexes Check builds once.
type checker struct {
	rep      *Report
	byCookie map[string][]int // Seqs of operations that sent the cookie, by Start
	owner    map[string]string
	endedAt  map[string]int // Seq of the first successful end per cookie, by End
	cutoff   map[string]int64
	writes   map[writeKey]int // Seq of the write of a value to a key
}

type writeKey struct {
	key   string
	value int64
}

// Check verifies every invariant over ops (a whole history, any order)
// and returns what it found. Answers with errors (503) are neither
// successes nor violations: a failed write may or may not have been
// stored, and a failed logout leaves the session alive by design.
func Check(ops []Op) *Report {
	ops = slices.Clone(ops)
	slices.SortFunc(ops, func(a, b Op) int { return cmp.Compare(a.Seq, b.Seq) })
	c := &checker{
		rep:      &Report{Ops: ops},
		byCookie: map[string][]int{},
		owner:    map[string]string{},
		endedAt:  map[string]int{},
		cutoff:   map[string]int64{},
		writes:   map[writeKey]int{},
	}
	c.index()
	c.checkEnded()
	c.checkOneUser()
	c.checkLostWrites()
	c.checkRemembered()
	slices.SortStableFunc(c.rep.Violations, func(a, b Violation) int { return cmp.Compare(a.Op, b.Op) })
	return c.rep
}

func (c *checker) violate(inv Invariant, op, cause int, format string, args ...any) {
	c.rep.Violations = append(c.rep.Violations, Violation{inv, op, cause, fmt.Sprintf(format, args...)})
}

// byEnd returns the Seqs of ops sorted by End.
func (c *checker) byEnd() []int {
	seqs := make([]int, len(c.rep.Ops))
	for i := range seqs {
		seqs[i] = i
	}
	slices.SortFunc(seqs, func(a, b int) int { return cmp.Compare(c.rep.Ops[a].End, c.rep.Ops[b].End) })
	return seqs
}

func (c *checker) index() {
	ops := c.rep.Ops
	for _, i := range c.byEnd() {
		o := &ops[i]
		switch {
		case o.Kind == Fault:
			c.rep.Faults++
			continue
		case o.Status == 503:
			c.rep.Unavailable++
		}
		c.rep.Requests++
		if o.Kind == Write {
			c.writes[writeKey{o.Key, o.Value}] = i
		}
		if o.Cookie != "" {
			c.byCookie[o.Cookie] = append(c.byCookie[o.Cookie], i)
			if o.Kind.Ends() {
				if cut, ok := c.cutoff[o.Cookie]; !ok || o.Start < cut {
					c.cutoff[o.Cookie] = o.Start
				}
				if _, ok := c.endedAt[o.Cookie]; !ok && o.OK {
					c.endedAt[o.Cookie] = i
				}
			}
		}
		if o.Kind == Login && o.OK {
			c.rep.Sessions++
		}
		// A cookie is issued by the answer that first sets it, whatever
		// its status: an answer that failed after the login was stored
		// (a later Save) may still carry the new session's cookie.
		if o.SetCookie == "" || o.Cleared || o.SetCookie == o.Cookie {
			continue
		}
		var user string
		switch o.Kind {
		case Login:
			user = o.User
		case Regenerate:
			if user = o.Served; user == "" {
				user = c.owner[o.Cookie]
			}
		default:
			continue
		}
		if prev, ok := c.owner[o.SetCookie]; ok && prev != user {
			c.violate(OneUser, i, -1, "cookie %s issued to %q was issued before to %q", Short(o.SetCookie), user, prev)
		}
		c.owner[o.SetCookie] = user
	}
	for _, seqs := range c.byCookie {
		slices.SortFunc(seqs, func(a, b int) int { return cmp.Compare(ops[a].Start, ops[b].Start) })
	}
}

// checkEnded: (a).
func (c *checker) checkEnded() {
	for cookie, end := range c.endedAt {
		e := &c.rep.Ops[end]
		for _, i := range c.byCookie[cookie] {
			o := &c.rep.Ops[i]
			if o.Start > e.End && o.Served != "" {
				c.violate(Ended, i, end, "cookie %s served as %q after its %s answered %d", Short(cookie), o.Served, e.Kind, e.Status)
			}
		}
	}
}

// checkOneUser: (d).
func (c *checker) checkOneUser() {
	for i := range c.rep.Ops {
		o := &c.rep.Ops[i]
		if o.Served == "" || o.Cookie == "" {
			continue
		}
		if own, ok := c.owner[o.Cookie]; !ok {
			c.violate(OneUser, i, -1, "cookie %s, never issued by a login, served as %q", Short(o.Cookie), o.Served)
		} else if own != o.Served {
			c.violate(OneUser, i, -1, "cookie %s issued to %q served as %q", Short(o.Cookie), own, o.Served)
		}
		for key, v := range o.Seen {
			w, ok := c.writes[writeKey{key, v}]
			switch {
			case v == 0:
			case !ok:
				c.violate(NoLostWrite, i, -1, "%s=%d seen, but no request wrote it", key, v)
			case c.rep.Ops[w].User != o.Served:
				c.violate(OneUser, i, w, "%q sees %s=%d, written while %q was logged in", o.Served, key, v, c.rep.Ops[w].User)
			}
		}
	}
}

// done is a completed operation that fixes a lower bound for later reads.
type done struct {
	end   int64
	value int64
	seq   int
}

// checkLostWrites: (b), per cookie and key, by a sweep over reads in
// Start order against acknowledged writes and completed reads in End
// order.
func (c *checker) checkLostWrites() {
	ops := c.rep.Ops
	for cookie, seqs := range c.byCookie {
		cut, hasCut := c.cutoff[cookie]
		var reads []int
		keys := map[string][]done{}
		for _, i := range seqs {
			o := &ops[i]
			if !o.OK || o.Served == "" {
				continue
			}
			switch o.Kind {
			case Write:
				keys[o.Key] = append(keys[o.Key], done{o.End, o.Value, i})
			case Read:
				if hasCut && o.Start >= cut {
					continue
				}
				reads = append(reads, i)
				for k, v := range o.Seen {
					keys[k] = append(keys[k], done{o.End, v, i})
				}
			}
		}
		for key, ds := range keys {
			slices.SortFunc(ds, func(a, b done) int { return cmp.Compare(a.end, b.end) })
			best, next := done{seq: -1}, 0
			for _, r := range reads { // reads are in Start order
				o := &ops[r]
				for ; next < len(ds) && ds[next].end < o.Start; next++ {
					if ds[next].value > best.value {
						best = ds[next]
					}
				}
				if got := o.Seen[key]; got < best.value {
					what := "an acknowledged write"
					if ops[best.seq].Kind == Read {
						what = "an earlier read"
					}
					c.violate(NoLostWrite, r, best.seq, "cookie %s: %s=%d seen after %s had %d", Short(cookie), key, got, what, best.value)
				}
			}
		}
	}
}

// checkRemembered: (c). Remember-me starts with an acknowledged Remember
// or remembering Login and passes to the new cookie of a Regenerate.
func (c *checker) checkRemembered() {
	ops := c.rep.Ops
	since := map[string]int64{}
	remembered := func(cookie string, at int64) bool {
		t, ok := since[cookie]
		return ok && t < at
	}
	for _, i := range c.byEnd() {
		o := &ops[i]
		if o.Kind == Fault {
			continue
		}
		was := o.Cookie != "" && remembered(o.Cookie, o.Start)
		if o.OK && o.SetCookie != "" && !o.Cleared {
			issued := o.SetCookie != o.Cookie
			switch {
			case o.Kind == Remember, o.Kind == Login && o.Remember, o.Kind == Regenerate && was:
				if _, ok := since[o.SetCookie]; !ok {
					since[o.SetCookie] = o.End
				}
				if o.MaxAge <= 0 {
					c.violate(Remembered, i, -1, "remembered cookie %s sent without Max-Age", Short(o.SetCookie))
				}
			case was && !issued && o.MaxAge <= 0:
				c.violate(Remembered, i, -1, "remembered cookie %s re-sent as a browser-session cookie (Max-Age %d)", Short(o.Cookie), o.MaxAge)
			}
		}
		if o.Kind == Remember && o.OK && o.Cookie != "" {
			if _, ok := since[o.Cookie]; !ok {
				since[o.Cookie] = o.End
			}
		}
		if !o.Idle || !was {
			continue
		}
		if cut, ok := c.cutoff[o.Cookie]; ok && cut < o.Start {
			continue // ended on purpose
		}
		c.rep.IdleChecked++
		if o.OK && o.Served == "" {
			c.violate(Remembered, i, -1, "remembered cookie %s logged out after idling", Short(o.Cookie))
		}
	}
}

// Excerpt renders the violation with the history around it: the
// contradicted operation, the offending one, and what else touched the same
// cookie, or was a fault, between them (at most max lines).
func (r *Report) Excerpt(v Violation, maxLines int) string {
	o := &r.Ops[v.Op]
	from := o.Start
	if v.Cause >= 0 {
		from = min(from, r.Ops[v.Cause].Start)
	}
	var lines []int
	for i := range r.Ops {
		p := &r.Ops[i]
		if p.End < from || p.Start > o.End {
			continue
		}
		if i == v.Op || i == v.Cause || p.Kind == Fault ||
			(o.Cookie != "" && (p.Cookie == o.Cookie || p.SetCookie == o.Cookie)) {
			lines = append(lines, i)
		}
	}
	slices.SortFunc(lines, func(a, b int) int { return cmp.Compare(r.Ops[a].Start, r.Ops[b].Start) })
	if len(lines) > maxLines {
		// Keep both ends: the cause and the violation.
		keep := append(slices.Clone(lines[:maxLines/2]), lines[len(lines)-maxLines/2:]...)
		if v.Cause >= 0 && !slices.Contains(keep, v.Cause) {
			keep = append([]int{v.Cause}, keep...)
		}
		lines = keep
	}
	s := fmt.Sprintf("%s: %s\n", v.Inv, v.Msg)
	for _, i := range lines {
		mark := "   "
		switch i {
		case v.Op:
			mark = "!! "
		case v.Cause:
			mark = "<- "
		}
		s += mark + r.Ops[i].String() + "\n"
	}
	return s
}
