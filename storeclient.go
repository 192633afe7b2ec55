package ginsession

import (
	"fmt"

	"github.com/bradfitz/gomemcache/memcache"
)

// newStoreClient builds the memcached client for o.Memcached.
func newStoreClient(o Options) (Client, error) {
	if len(o.Memcached) > 1 {
		c, err := newClusterClient(o.Memcached, o.Replicas, o.Timeout, o.MaxIdleConns, o.DownBackoff)
		if err != nil {
			return nil, fmt.Errorf("%w: Memcached: %w", errOption, err)
		}
		c.repairTTL = o.IdleTimeout
		c.logger = o.Logger
		return c, nil
	}
	c := memcache.New(o.Memcached...)
	c.Timeout = o.Timeout
	c.MaxIdleConns = o.MaxIdleConns
	return c, nil
}
