package memcluster_test

import (
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/ginsession/ginsession/memcluster"
)

func ExampleNew() {
	// Every key is written to two of the three servers, so losing one
	// loses no data; a server that fails is skipped for DownBackoff.
	client, err := memcluster.New(
		[]string{"10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"},
		memcluster.Options{Replicas: 2, Timeout: 200 * time.Millisecond, MaxIdleConns: 64},
	)
	if err != nil {
		panic(err)
	}
	defer client.Close()

	if err := client.Set(&memcache.Item{Key: "greeting", Value: []byte("hello"), Expiration: 3600}); err != nil {
		fmt.Println("set:", err)
		return
	}
	item, err := client.Get("greeting")
	if err != nil {
		fmt.Println("get:", err)
		return
	}
	fmt.Printf("%s\n", item.Value)
}

func ExampleNewRendezvousSelector() {
	sel, err := memcluster.NewRendezvousSelector("10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211")
	if err != nil {
		panic(err)
	}
	// A plain gomemcache client with rendezvous placement (no failover).
	client := memcache.NewFromSelector(sel)
	client.Timeout = 200 * time.Millisecond
	_ = client

	addr, _ := sel.PickServer("ginsession:some-key")
	fmt.Println(addr)
	// Output: 10.0.0.2:11211
}

func ExampleValidKey() {
	fmt.Println(memcluster.ValidKey("session:abc"), memcluster.ValidKey("has space"), memcluster.ValidKey(""))
	// Output: true false false
}
