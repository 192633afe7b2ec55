package ginsession

import (
	"errors"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// observedClient times each call to the store's Client for Options.Observe.
// NewManager puts it in front of the Client only when Observe is set, so
// without a hook no call pays for a clock read.
type observedClient struct {
	Client
	observe func(Event)
}

// observedCluster is an observedClient whose Client leaves tombstones
// (memcluster): the store must still see its DeleteFor.
type observedCluster struct {
	observedClient
	deleteFor func(key string, life time.Duration) error
}

// observeClient wraps c so that every call is reported to observe.
func observeClient(c Client, observe func(Event)) Client {
	oc := observedClient{Client: c, observe: observe}
	if t, ok := c.(tombstoner); ok {
		return &observedCluster{observedClient: oc, deleteFor: t.DeleteFor}
	}
	return &oc
}

// done reports one call of op that started at start.
func (o *observedClient) done(op StoreOp, start time.Time, err error) {
	failure := FailureNone
	if !errors.Is(err, memcache.ErrCASConflict) { // a lost race, expected
		failure = failureOf(err)
	}
	o.observe(Event{Kind: EventStoreCall, Op: op, Duration: time.Since(start), Failure: failure, Err: err})
}

// Get reports Client.Get.
func (o *observedClient) Get(key string) (*memcache.Item, error) {
	start := time.Now()
	item, err := o.Client.Get(key)
	o.done(OpGet, start, err)
	return item, err
}

// Add reports Client.Add.
func (o *observedClient) Add(item *memcache.Item) error {
	start := time.Now()
	err := o.Client.Add(item)
	o.done(OpAdd, start, err)
	return err
}

// Set reports Client.Set.
func (o *observedClient) Set(item *memcache.Item) error {
	start := time.Now()
	err := o.Client.Set(item)
	o.done(OpSet, start, err)
	return err
}

// CompareAndSwap reports Client.CompareAndSwap.
func (o *observedClient) CompareAndSwap(item *memcache.Item) error {
	start := time.Now()
	err := o.Client.CompareAndSwap(item)
	o.done(OpCompareAndSwap, start, err)
	return err
}

// Delete reports Client.Delete.
func (o *observedClient) Delete(key string) error {
	start := time.Now()
	err := o.Client.Delete(key)
	o.done(OpDelete, start, err)
	return err
}

// Touch reports Client.Touch.
func (o *observedClient) Touch(key string, seconds int32) error {
	start := time.Now()
	err := o.Client.Touch(key, seconds)
	o.done(OpTouch, start, err)
	return err
}

// DeleteFor reports the cluster's DeleteFor as a delete.
func (o *observedCluster) DeleteFor(key string, life time.Duration) error {
	start := time.Now()
	err := o.deleteFor(key, life)
	o.done(OpDelete, start, err)
	return err
}
