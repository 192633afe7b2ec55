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
			RepairTTL:    o.IdleTimeout, // every session write renews its expiration
			Logger:       o.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("%w: Memcached: %w", errOption, err)
		}
		return c, nil
	}
	c := memcache.New(o.Memcached...)
	c.Timeout = o.Timeout
	c.MaxIdleConns = o.MaxIdleConns
	return c, nil
}
