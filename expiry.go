package ginsession

import (
	"math"
	"time"
)

// maxMemcachedRelative is the largest expiration memcached reads as relative
// seconds; larger values are absolute Unix times.
const maxMemcachedRelative = 30 * 24 * 60 * 60

// maxClockSkew is how far in the future a stored timestamp may lie (another
// server's clock running ahead); beyond it the record is not trusted, since
// a future creation time would stretch the Lifetime and a persistent
// cookie's Max-Age.
const maxClockSkew = time.Hour

// expiration returns the memcached expiration for a session created at
// created, written now: the idle deadline capped by the absolute lifetime,
// as relative seconds or, beyond 30 days, an absolute Unix time. ok is false
// when the session's lifetime is over.
func (o *Options) expiration(created int64, now time.Time) (exp int32, ok bool) {
	secs := int64(o.IdleTimeout / time.Second)
	if left := created + int64(o.Lifetime/time.Second) - now.Unix(); left < secs {
		secs = left
	}
	if secs <= 0 {
		return 0, false
	}
	return memcachedExpiration(now, secs), true
}

// memcachedExpiration encodes a lifetime of secs seconds from now as
// memcached expects: relative seconds up to 30 days, an absolute Unix time
// beyond (a relative 31 days would be read as a date in 1970).
func memcachedExpiration(now time.Time, secs int64) int32 {
	if secs > maxMemcachedRelative {
		return int32(min(now.Unix()+secs, math.MaxInt32))
	}
	return int32(secs)
}

// alive reports whether a stored record is still within its idle timeout
// and lifetime (memcached expires it too; this guards clock skew, the
// memory client and records written under other settings), with plausible
// timestamps.
func (o *Options) alive(r *record, now time.Time) bool {
	t := now.Unix()
	future := t + int64(maxClockSkew/time.Second)
	return r.created <= future && r.touched <= future &&
		t < r.created+int64(o.Lifetime/time.Second) &&
		t < r.touched+int64(o.IdleTimeout/time.Second)
}

// refreshDue reports whether the idle deadline should be pushed forward:
// at most once per quarter of IdleTimeout.
func (o *Options) refreshDue(r *record, now time.Time) bool {
	return now.Unix()-r.touched >= int64(o.IdleTimeout/time.Second/4)
}

// cookieMaxAge returns the Max-Age of a persistent session's cookie: the
// time left until its Lifetime ends.
func (o *Options) cookieMaxAge(r *record, now time.Time) int {
	return int(r.created + int64(o.Lifetime/time.Second) - now.Unix())
}
