package ginsession

import (
	"time"

	"github.com/ginsession/ginsession/memcluster"
)

// maxClockSkew is how far in the future a stored timestamp may lie (another
// server's clock running ahead); beyond it the record is not trusted, since
// a future creation time would stretch the Lifetime and a persistent
// cookie's Max-Age.
const maxClockSkew = time.Hour

// expiration returns the memcached expiration for record r, written now:
// a persistent ("remember me") session's end, RememberFor after its
// creation; otherwise the idle deadline capped by the absolute Lifetime. It
// is relative seconds or, beyond 30 days, an absolute Unix time. ok is false
// when the session's time is over.
func (o *Options) expiration(r *record, now time.Time) (exp int32, ok bool) {
	secs := o.secondsLeft(r, now)
	if !r.persistent {
		secs = min(secs, int64(o.IdleTimeout/time.Second))
	}
	if secs <= 0 {
		return 0, false
	}
	return memcluster.Expiration(now, secs), true
}

// secondsLeft returns the seconds until r's absolute end: RememberFor after
// its creation for a persistent session, Lifetime otherwise.
func (o *Options) secondsLeft(r *record, now time.Time) int64 {
	limit := o.Lifetime
	if r.persistent {
		limit = o.RememberFor
	}
	return r.created + int64(limit/time.Second) - now.Unix()
}

// alive reports whether a stored record is still within its time
// (memcached expires it too; this guards clock skew, the memory client and
// records written under other settings), with plausible timestamps: the
// idle timeout and Lifetime, or RememberFor for a persistent session.
func (o *Options) alive(r *record, now time.Time) bool {
	t := now.Unix()
	future := t + int64(maxClockSkew/time.Second)
	if r.created > future || r.touched > future || o.secondsLeft(r, now) <= 0 {
		return false
	}
	return r.persistent || t < r.touched+int64(o.IdleTimeout/time.Second)
}

// refreshDue reports whether the session is due for a refresh write: at
// most once per quarter of IdleTimeout. It pushes a browser session's idle
// deadline forward; a persistent session's end is fixed, but the write
// still copies it to every replica, so a cluster heals remembered sessions
// too.
func (o *Options) refreshDue(r *record, now time.Time) bool {
	return now.Unix()-r.touched >= int64(o.IdleTimeout/time.Second/4)
}

// forgottenStart returns the creation time a remembered session takes when
// "remember me" is turned off: its Lifetime then runs from now, but never
// past the end its RememberFor promised.
func (o *Options) forgottenStart(created int64, now time.Time) int64 {
	return min(now.Unix(), created+int64(o.RememberFor/time.Second)-int64(o.Lifetime/time.Second))
}

// cookieMaxAge returns the Max-Age of a persistent session's cookie: the
// time the server keeps it, never more.
func (o *Options) cookieMaxAge(r *record, now time.Time) int {
	return int(o.secondsLeft(r, now))
}

// tombstoneLife returns how long a delete of r's stored copies, now, must
// keep them deleted: until every copy that may exist has expired. A browser
// session's copies, repaired copies included, expire within IdleTimeout of
// their last write; a remembered one's (remembered now, or until this
// request changed it) at its RememberFor end.
func (o *Options) tombstoneLife(r *record, remembered bool, now time.Time) time.Duration {
	life := o.IdleTimeout
	if remembered || r.persistent {
		left := r.created + int64(o.RememberFor/time.Second) - now.Unix()
		life = max(life, time.Duration(left)*time.Second)
	}
	return life
}
