// Package history records what simulated browsers asked a session server
// and what it answered, and checks session invariants over the whole
// record afterwards (see Check). It knows nothing about HTTP or memcached:
// the test that drives the server fills in one Op per request and one per
// injected fault.
//
// Time is a single sequence counter shared by every recorder call: an
// operation's Start is taken before its request is sent and its End after
// the answer arrived, so A.End < B.Start means A completed before B began
// in real time, and operations whose ranges overlap were concurrent.
package history

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Kind is what an operation asked for.
type Kind string

// The operations a simulated browser performs, and injected faults.
const (
	Login      Kind = "login"      // log in as User (Remember: with remember-me)
	Logout     Kind = "logout"     // end the session
	Regenerate Kind = "regenerate" // new session ID, same data
	Remember   Kind = "remember"   // SetPersistent(true) on the current session
	Read       Kind = "read"       // read the user and every tab value
	Write      Kind = "write"      // set Key to Value
	Fault      Kind = "fault"      // an injected fault, Note says which; Start..End is its duration
)

// Ends reports whether a successful operation of kind k ends the session
// its cookie named: logout, regenerate, and login (which always moves the
// session to a new ID).
func (k Kind) Ends() bool { return k == Logout || k == Regenerate || k == Login }

// Op is one request and its answer, or one fault.
type Op struct {
	Seq    int    // position in the history, set by the Recorder
	Client string // who sent it: "b3/tab1", "b3/thief", "b3/main", "faults"
	Kind   Kind

	Cookie   string // session cookie value sent, "" for none
	User     string // Login: the user logging in
	Remember bool   // Login: with remember-me
	Key      string // Write: the session key
	Value    int64  // Write: the value
	Idle     bool   // Read: made after the session idled past IdleTimeout

	Start, End int64 // sequence numbers (see the package doc)

	Status int              // HTTP status
	OK     bool             // the handler's own success answer (not an error page)
	Served string           // the user the sent cookie was served as ("" anonymous)
	Seen   map[string]int64 // Read: session values seen (absent keys are 0)

	SetCookie string // value of a Set-Cookie for the session cookie, "" for none
	MaxAge    int    // its Max-Age (0: a browser-session cookie)
	Cleared   bool   // the answer expired the cookie

	Note string // Fault: what was injected; a 503: the error page's text
}

// String renders the operation on one line for violation reports. Cookie
// values are shortened to their first 8 characters.
func (o *Op) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "#%d [%d..%d] %-10s %-10s", o.Seq, o.Start, o.End, o.Client, o.Kind)
	if o.Kind == Fault {
		b.WriteString(" " + o.Note)
		return b.String()
	}
	fmt.Fprintf(&b, " cookie=%s", Short(o.Cookie))
	switch o.Kind {
	case Login:
		fmt.Fprintf(&b, " user=%s remember=%v", o.User, o.Remember)
	case Write:
		fmt.Fprintf(&b, " %s=%d", o.Key, o.Value)
	case Read:
		if o.Idle {
			b.WriteString(" (after idle)")
		}
	}
	fmt.Fprintf(&b, " -> %d ok=%v served=%q", o.Status, o.OK, o.Served)
	if len(o.Seen) > 0 {
		b.WriteString(" seen={")
		for i, k := range slices.Sorted(maps.Keys(o.Seen)) {
			if i > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%s:%d", k, o.Seen[k])
		}
		b.WriteString("}")
	}
	if o.Note != "" {
		fmt.Fprintf(&b, " (%s)", o.Note)
	}
	switch {
	case o.Cleared:
		b.WriteString(" set-cookie=cleared")
	case o.SetCookie != "":
		fmt.Fprintf(&b, " set-cookie=%s max-age=%d", Short(o.SetCookie), o.MaxAge)
	}
	return b.String()
}

// Short is a cookie value cut to 8 characters, enough to tell sessions
// apart in a report without printing credentials in full.
func Short(cookie string) string {
	if cookie == "" {
		return "-"
	}
	return cookie[:min(8, len(cookie))]
}

// Recorder collects operations from many goroutines.
type Recorder struct {
	clock atomic.Int64
	mu    sync.Mutex
	ops   []Op
}

// Now returns the next sequence number: call it just before sending a
// request (the Op's Start).
func (r *Recorder) Now() int64 { return r.clock.Add(1) }

// Add records op, whose Start came from Now, with End set to now, and
// returns it with End and Seq filled in: call it as soon as the answer is
// in.
func (r *Recorder) Add(op Op) Op {
	op.End = r.clock.Add(1)
	r.mu.Lock()
	op.Seq = len(r.ops)
	r.ops = append(r.ops, op)
	r.mu.Unlock()
	return op
}

// Ops returns a copy of everything recorded so far, in the order Add was
// called.
func (r *Recorder) Ops() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ops)
}
