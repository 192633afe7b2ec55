package ginsession

// key returns the memcached key of a session ID, as the store computes it.
func (m *Manager) key(id string) string {
	return storageKey(m.opts.KeyPrefix, id)
}
