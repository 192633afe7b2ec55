package memcachedtest

import "testing"

// TestFlags checks the default tuning flags, that given flags replace them,
// and that Restart keeps them.
func TestFlags(t *testing.T) {
	check := func(t *testing.T, s *Server, maxBytes, threads int64) {
		t.Helper()
		st, err := Stats(s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if st["limit_maxbytes"] != maxBytes || st["threads"] != threads {
			t.Errorf("limit_maxbytes %d, threads %d; want %d, %d", st["limit_maxbytes"], st["threads"], maxBytes, threads)
		}
	}
	t.Run("default", func(t *testing.T) {
		check(t, Start(t), 64<<20, 2)
	})
	t.Run("given", func(t *testing.T) {
		s := Start(t, "-U", "0", "-m", "16", "-t", "1")
		check(t, s, 16<<20, 1)
		s.Stop()
		s.Restart(t)
		check(t, s, 16<<20, 1)
	})
}
