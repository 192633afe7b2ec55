package ginsession

import (
	"fmt"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/memcluster"
)

// newStoreClient builds the memcached client for o.Memcached: gomemcache's
// own client for one server, a memcluster.Client (rendezvous placement,
// failover, replicas) for several.
func newStoreClient(o Options) (Client, error) {
	if len(o.Memcached) > 1 {
		c, err := memcluster.New(o.Memcached, memcluster.Options{
			Replicas:     o.Replicas,
			Timeout:      o.Timeout,
			MaxIdleConns: o.MaxIdleConns,
			DownBackoff:  o.DownBackoff,
			// A session that is read within IdleTimeout is written again
			// (a change or the refresh), which renews every copy; so the
			// warm-up window after a restart need not be longer. A
			// remembered session idle through the whole window is not
			// copied back (see README, Scaling out).
			RepairTTL: o.IdleTimeout,
			// A repaired copy lives as long as any session could: its
			// record's own timestamps end it on time (Options.alive), and
			// a remembered session must not end with a repaired copy.
			CopyTTL: max(o.IdleTimeout, o.Lifetime, o.RememberFor),
			TLS:     o.TLS,
			Logger:  o.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: Memcached: %w", errOption, err)
		}
		return c, nil
	}
	c := memcache.New(o.Memcached...)
	c.Timeout = o.Timeout
	c.MaxIdleConns = o.MaxIdleConns
	if o.TLS != nil {
		c.DialContext = memcluster.TLSDialer(o.TLS)
	}
	return c, nil
}
