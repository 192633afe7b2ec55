package memcluster

import (
	"fmt"
	"net"

	"github.com/bradfitz/gomemcache/memcache"
)

// RendezvousSelector is a memcache.ServerSelector that spreads keys over
// servers by rendezvous (highest random weight) hashing: every server scores
// every key with a 64-bit hash of the pair, and a key belongs to the server
// with the highest score. Adding a server moves only the keys the new server
// now wins (about 1/n of them) and removing one moves only that server's
// keys, unlike gomemcache's default ServerList (CRC32 modulo n), which remaps
// most keys whenever the list changes.
//
// Servers are identified by their address string exactly as given, so every
// application instance must list the same strings; their order does not
// matter.
//
// Use it with memcache.NewFromSelector to build a plain *memcache.Client. It
// does not track server health: a [Client] uses the same hashing with
// failover and replicas instead. A RendezvousSelector is immutable and safe
// for concurrent use.
type RendezvousSelector struct {
	names []string   // addresses as configured, hashed into seeds
	addrs []net.Addr // resolved addresses, index-aligned with names
	seeds []uint64   // per-server hash seeds, index-aligned with names
}

// NewRendezvousSelector resolves servers ("host:port", or the path of a Unix
// socket) and returns a selector over them. It fails when the list is empty,
// when an address does not resolve, and when two entries name the same server.
func NewRendezvousSelector(servers ...string) (*RendezvousSelector, error) {
	if len(servers) == 0 {
		return nil, fmt.Errorf("memcluster: rendezvous selector: %w", memcache.ErrNoServers)
	}
	s := &RendezvousSelector{
		names: make([]string, len(servers)),
		addrs: make([]net.Addr, len(servers)),
		seeds: make([]uint64, len(servers)),
	}
	seen := make(map[string]string, len(servers))
	for i, name := range servers {
		addr, err := resolveServer(name)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[addr.String()]; dup {
			return nil, fmt.Errorf("memcluster: servers %q and %q are the same server", prev, name)
		}
		seen[addr.String()] = name
		s.names[i], s.addrs[i], s.seeds[i] = name, addr, rendezvousHash(name)
	}
	return s, nil
}

// resolveServer resolves one server address the way gomemcache's ServerList
// does (TCP, or a Unix socket when it contains a slash), keeping its
// allocation-free net.Addr.
func resolveServer(name string) (net.Addr, error) {
	var list memcache.ServerList
	if err := list.SetServers(name); err != nil {
		return nil, fmt.Errorf("memcluster: server %q: %w", name, err)
	}
	var addr net.Addr
	_ = list.Each(func(a net.Addr) error {
		addr = a
		return nil
	})
	return addr, nil
}

// PickServer returns the server with the highest score for key. It returns
// memcache.ErrNoServers only for a selector without servers.
func (s *RendezvousSelector) PickServer(key string) (net.Addr, error) {
	if len(s.addrs) == 0 {
		return nil, memcache.ErrNoServers
	}
	kh := rendezvousHash(key)
	best, bestScore := 0, rendezvousMix(kh^s.seeds[0])
	for i := 1; i < len(s.seeds); i++ {
		if sc := rendezvousMix(kh ^ s.seeds[i]); sc > bestScore {
			best, bestScore = i, sc
		}
	}
	return s.addrs[best], nil
}

// Each calls f with every server, in the order given to
// NewRendezvousSelector, and stops at the first error f returns.
func (s *RendezvousSelector) Each(f func(net.Addr) error) error {
	for _, a := range s.addrs {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}

// rankStack is how many servers rank orders without allocating.
const rankStack = 16

// rank appends to dst (normally empty, with capacity rankStack on the
// caller's stack) the indexes of all servers ordered by descending score for
// key: the key's owner first, then its failover order.
func (s *RendezvousSelector) rank(key string, dst []int) []int {
	var stack [rankStack]uint64
	scores := stack[:0]
	if len(s.seeds) > rankStack {
		scores = make([]uint64, 0, len(s.seeds))
	}
	kh := rendezvousHash(key)
	dst = dst[:0]
	for i, seed := range s.seeds { // insertion sort: n is small
		sc := rendezvousMix(kh ^ seed)
		scores, dst = append(scores, sc), append(dst, i)
		j := len(scores) - 1
		for ; j > 0 && scores[j-1] < sc; j-- {
			scores[j], dst[j] = scores[j-1], dst[j-1]
		}
		scores[j], dst[j] = sc, i
	}
	return dst
}

// rendezvousHash is 64-bit FNV-1a over s followed by rendezvousMix, which
// spreads FNV's weakly mixed last bytes over all bits. It does not allocate.
func rendezvousHash(s string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return rendezvousMix(h)
}

// rendezvousMix is MurmurHash3's 64-bit finalizer: a bijection whose every
// output bit depends on every input bit. A server's score for a key is
// rendezvousMix(keyHash ^ serverSeed).
func rendezvousMix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
