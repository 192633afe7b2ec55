package memcluster

import (
	"math"
	"time"
)

// MaxRelativeExpiration is the largest expiration memcached reads as
// seconds from now (30 days); larger values are absolute Unix times.
const MaxRelativeExpiration = 30 * 24 * 60 * 60

// Expiration encodes a lifetime of secs seconds from now as memcached
// expects: relative seconds up to MaxRelativeExpiration, an absolute Unix
// time beyond (a relative 31 days would be read as a date in 1970 and
// expire at once).
func Expiration(now time.Time, secs int64) int32 {
	if secs > MaxRelativeExpiration {
		return int32(min(now.Unix()+secs, math.MaxInt32))
	}
	return int32(secs)
}
