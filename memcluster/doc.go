// Package memcluster is a memcached client that spreads keys over several
// servers by rendezvous hashing, keeps each key on one or more replicas, and
// fails over past servers that cannot be reached.
//
// A [Client] has the method set of gomemcache's *memcache.Client that a
// session store needs (Get, Add, Set, CompareAndSwap, Delete, Touch), takes
// and returns *memcache.Item, and answers with gomemcache's sentinel errors
// (memcache.ErrCacheMiss, ErrNotStored, ErrCASConflict, ErrMalformedKey,
// ErrNoServers). It can therefore stand in for a *memcache.Client wherever
// only those methods are used: ginsession builds one when its
// Options.Memcached lists several servers, and other code can use it on its
// own.
//
// Why not gomemcache's own multi-server client: its ServerList maps keys to
// servers by CRC32 modulo the server count, so adding or losing a server
// moves most keys, and a server that is down fails every request for its
// keys. Here each key ranks all servers by rendezvous (highest random
// weight) hashing: losing a server moves only its keys, to their next
// server, at once; with Options.Replicas above 1 those keys keep their data.
//
// The rules (placement, who decides a write, read repair, CAS ids, failover
// and its consistency limits) are documented on [Client]. [RendezvousSelector]
// is the placement alone, as a memcache.ServerSelector for a plain
// *memcache.Client without failover.
package memcluster
