package memcluster

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
)

func TestRendezvousSpreadAndMovement(t *testing.T) {
	three := []string{"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"}
	four := append(append([]string(nil), three...), "10.0.0.4:11211")
	sel3, err := NewRendezvousSelector(three...)
	if err != nil {
		t.Fatal(err)
	}
	sel4, err := NewRendezvousSelector(four...)
	if err != nil {
		t.Fatal(err)
	}
	reversed, err := NewRendezvousSelector(three[2], three[1], three[0])
	if err != nil {
		t.Fatal(err)
	}

	const n = 10000
	counts := map[string]int{}
	moved := 0
	for i := range n {
		key := testKey(i)
		a3, _ := sel3.PickServer(key)
		a4, _ := sel4.PickServer(key)
		ar, _ := reversed.PickServer(key)
		counts[a3.String()]++
		if ar.String() != a3.String() {
			t.Fatalf("server order changed the owner of key %d: %s vs %s", i, a3, ar)
		}
		if a4.String() != a3.String() {
			moved++
			if a4.String() != four[3] {
				t.Fatalf("key %d moved from %s to %s, not to the new server", i, a3, a4)
			}
		}
	}
	for _, s := range three {
		if share := float64(counts[s]) / n; share < 0.9/3 || share > 1.1/3 {
			t.Errorf("server %s owns %.3f of the keys, want 1/3 ± 10%%", s, share)
		}
	}
	fraction := float64(moved) / n
	t.Logf("3 servers: %v; 3 -> 4 servers moved %d of %d keys (%.2f%%, ideal 25%%)", counts, moved, n, 100*fraction)
	if fraction > 0.30 {
		t.Errorf("3 -> 4 servers moved %.3f of the keys, want <= 0.30", fraction)
	}
}

func TestRendezvousRemovalMovesOnlyThatServersKeys(t *testing.T) {
	sel3, _ := NewRendezvousSelector("10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211")
	sel2, _ := NewRendezvousSelector("10.0.0.1:11211", "10.0.0.3:11211")
	for i := range 2000 {
		key := testKey(i)
		before, _ := sel3.PickServer(key)
		after, _ := sel2.PickServer(key)
		if before.String() != "10.0.0.2:11211" && before.String() != after.String() {
			t.Fatalf("key %d moved from %s to %s though its server stayed", i, before, after)
		}
		// The failover order is the same ranking: the second choice on
		// three servers is the owner once the first is gone.
		order := sel3.rank(key, nil)
		if before.String() == "10.0.0.2:11211" && sel3.addrs[order[1]].String() != after.String() {
			t.Fatalf("key %d: second choice %s, owner without the first %s", i, sel3.addrs[order[1]], after)
		}
	}
}

func TestRendezvousRankDoesNotAllocate(t *testing.T) {
	sel, _ := NewRendezvousSelector("10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211", "10.0.0.4:11211")
	key := testKey(1)
	allocs := testing.AllocsPerRun(100, func() {
		var buf [rankStack]int
		if order := sel.rank(key, buf[:0]); len(order) != 4 {
			t.Fatal("short order")
		}
		if _, err := sel.PickServer(key); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("rank + PickServer allocate %v times per call, want 0", allocs)
	}
}

func TestRendezvousSelectorEach(t *testing.T) {
	sel, _ := NewRendezvousSelector("10.0.0.1:11211", "10.0.0.2:11211")
	var got []string
	if err := sel.Each(func(a net.Addr) error { got = append(got, a.String()); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "10.0.0.1:11211,10.0.0.2:11211" {
		t.Errorf("Each visited %v", got)
	}
	stop := errors.New("stop")
	if err := sel.Each(func(net.Addr) error { return stop }); err != stop {
		t.Errorf("Each returned %v, want the callback's error", err)
	}
	if _, err := (&RendezvousSelector{}).PickServer("k"); !errors.Is(err, memcache.ErrNoServers) {
		t.Errorf("empty selector: %v, want ErrNoServers", err)
	}
}

// rank orders servers by descending score: its first is PickServer's
// choice, and removing a server keeps the others in the same order.
func TestRendezvousRankOrder(t *testing.T) {
	addrs := make([]string, 6)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("10.0.1.%d:11211", i+1)
	}
	sel, _ := NewRendezvousSelector(addrs...)
	fewer, _ := NewRendezvousSelector(addrs[1:]...)
	for k := range 500 {
		key := testKey(k)
		order := sel.rank(key, nil)
		owner, _ := sel.PickServer(key)
		if addrs[order[0]] != owner.String() {
			t.Fatalf("key %d: rank puts %s first, PickServer picks %s", k, addrs[order[0]], owner)
		}
		var without []string
		for _, i := range order {
			if i != 0 {
				without = append(without, addrs[i])
			}
		}
		var got []string
		for _, i := range fewer.rank(key, nil) {
			got = append(got, addrs[1+i])
		}
		if strings.Join(got, " ") != strings.Join(without, " ") {
			t.Fatalf("key %d: removing a server reorders the rest: %v, want %v", k, got, without)
		}
	}
}

// Up to rankStack servers, rank works on the caller's stack.
func TestRendezvousRankOfAFullStackDoesNotAllocate(t *testing.T) {
	addrs := make([]string, rankStack)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("10.0.2.%d:11211", i+1)
	}
	sel, _ := NewRendezvousSelector(addrs...)
	key := testKey(2)
	allocs := testing.AllocsPerRun(100, func() {
		var buf [rankStack]int
		if order := sel.rank(key, buf[:0]); len(order) != rankStack {
			t.Fatal("short order")
		}
	})
	if allocs != 0 {
		t.Errorf("rank of %d servers allocates %v times per call, want 0", rankStack, allocs)
	}
	more, _ := NewRendezvousSelector(append(addrs, "10.0.3.1:11211")...)
	if order := more.rank(key, nil); len(order) != rankStack+1 {
		t.Errorf("rank of %d servers returned %d", rankStack+1, len(order))
	}
}
