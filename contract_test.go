package ginsession

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// The Client contract: one table of cases, each run against a real
// memcached process and against the memory client (with the real clock, and
// with a fake clock where expiry would otherwise need waiting). A case
// asserts only behaviour observable on every backend, so a case that passes
// on memcached and fails on the memory client is a bug in memory.go.

// contractEnv is what a contract case sees of one backend.
type contractEnv struct {
	c Client
	// now is the backend's clock, for absolute expirations.
	now func() time.Time
	// advance moves a fake clock forward. It is nil for backends on real
	// time, where cases poll with a deadline instead.
	advance func(d time.Duration)
	// prefix makes this case's keys unique to the run.
	prefix string
}

// key returns a key unique to this run and case.
func (e *contractEnv) key(name string) string { return e.prefix + name }

// contractCase is one row of the table. run returns the first contract
// violation, or nil.
type contractCase struct {
	name string
	run  func(e *contractEnv) error
}

// contractBackend builds a fresh environment for one case.
type contractBackend struct {
	name string
	env  func(t *testing.T) *contractEnv
}

// contractBackends lists the backends the table runs against.
func contractBackends() []contractBackend {
	return []contractBackend{
		{name: "memcached", env: func(t *testing.T) *contractEnv {
			c := memcache.New(requireMemcached(t))
			c.MaxIdleConns = 32
			c.Timeout = 5 * time.Second // -race and 1 MiB values
			return &contractEnv{c: c, now: time.Now}
		}},
		{name: "memory", env: func(*testing.T) *contractEnv {
			return &contractEnv{c: NewMemoryClient(), now: time.Now}
		}},
		{name: "memory-fakeclock", env: func(*testing.T) *contractEnv {
			clk := newFakeClock()
			return &contractEnv{c: newMemoryClient(clk.Now), now: clk.Now, advance: clk.Advance}
		}},
	}
}

// contractPrefix returns a key prefix unique to this run.
func contractPrefix() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "contract:" + hex.EncodeToString(b[:]) + ":"
}

func TestContract(t *testing.T) {
	for _, b := range contractBackends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range contractCases() {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					e := b.env(t)
					e.prefix = contractPrefix()
					if err := tc.run(e); err != nil {
						t.Fatal(err)
					}
				})
			}
		})
	}
}

// Sizes for the item-size cases.
const (
	contractMiB = 1 << 20
	// contractMemcachedOverhead is memcached 1.6's per-item overhead when
	// flags are 0: a 48-byte header, the 8-byte CAS, the key's NUL and the
	// value's CRLF (measured: with a 60-byte key the largest value stored
	// under -I 1m is 1048457 bytes).
	contractMemcachedOverhead = 59
)

func contractCases() []contractCase {
	return []contractCase{
		{name: "GetMiss", run: func(e *contractEnv) error {
			_, err := e.c.Get(e.key("absent"))
			return contractWantErr("Get absent", err, memcache.ErrCacheMiss)
		}},
		{name: "SetThenGet", run: func(e *contractEnv) error {
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("hello"), Flags: 0xdeadbeef}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			it, err := e.c.Get(k)
			if err != nil {
				return fmt.Errorf("Get: %w", err)
			}
			if it.Key != k || string(it.Value) != "hello" || it.Flags != 0xdeadbeef || it.CasID == 0 {
				return fmt.Errorf("Get = {Key:%q Value:%q Flags:%#x CasID:%d}, want {%q \"hello\" 0xdeadbeef non-zero}",
					it.Key, it.Value, it.Flags, it.CasID, k)
			}
			return nil
		}},
		{name: "EmptyValue", run: func(e *contractEnv) error {
			k := e.key("empty")
			if err := e.c.Set(&memcache.Item{Key: k}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			it, err := e.c.Get(k)
			if err != nil {
				return fmt.Errorf("Get: %w", err)
			}
			if len(it.Value) != 0 {
				return fmt.Errorf("Get value = %q, want empty", it.Value)
			}
			return nil
		}},
		{name: "SetOverwritesAndChangesCasID", run: func(e *contractEnv) error {
			k := e.key("k")
			first, err := contractSetGet(e, &memcache.Item{Key: k, Value: []byte("one")})
			if err != nil {
				return err
			}
			second, err := contractSetGet(e, &memcache.Item{Key: k, Value: []byte("two")})
			if err != nil {
				return err
			}
			if string(second.Value) != "two" || second.CasID == first.CasID {
				return fmt.Errorf("after overwrite: value %q cas %d (was %d), want \"two\" and a new CasID",
					second.Value, second.CasID, first.CasID)
			}
			return nil
		}},
		{name: "StoredValueIsACopy", run: func(e *contractEnv) error {
			k := e.key("k")
			v := []byte("abc")
			if err := e.c.Set(&memcache.Item{Key: k, Value: v}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			v[0] = 'X'
			it, err := e.c.Get(k)
			if err != nil {
				return fmt.Errorf("Get: %w", err)
			}
			it.Value[1] = 'Y'
			again, err := e.c.Get(k)
			if err != nil {
				return fmt.Errorf("Get: %w", err)
			}
			if string(again.Value) != "abc" {
				return fmt.Errorf("stored value = %q after mutating the caller's slices, want \"abc\"", again.Value)
			}
			return nil
		}},
		{name: "AddExisting", run: func(e *contractEnv) error {
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("old")}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			if err := contractWantErr("Add existing", e.c.Add(&memcache.Item{Key: k, Value: []byte("new")}), memcache.ErrNotStored); err != nil {
				return err
			}
			return contractWantValue(e, k, "old")
		}},
		{name: "AddAbsent", run: func(e *contractEnv) error {
			k := e.key("k")
			if err := e.c.Add(&memcache.Item{Key: k, Value: []byte("v")}); err != nil {
				return fmt.Errorf("Add absent: %w", err)
			}
			return contractWantValue(e, k, "v")
		}},
		{name: "AddAfterDelete", run: func(e *contractEnv) error {
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("old")}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			if err := e.c.Delete(k); err != nil {
				return fmt.Errorf("Delete: %w", err)
			}
			if err := e.c.Add(&memcache.Item{Key: k, Value: []byte("new")}); err != nil {
				return fmt.Errorf("Add after Delete: %w", err)
			}
			return contractWantValue(e, k, "new")
		}},
		{name: "CompareAndSwap", run: func(e *contractEnv) error {
			k := e.key("k")
			it, err := contractSetGet(e, &memcache.Item{Key: k, Value: []byte("one")})
			if err != nil {
				return err
			}
			old := it.CasID
			it.Value = []byte("two")
			if err := e.c.CompareAndSwap(it); err != nil {
				return fmt.Errorf("CompareAndSwap with the current CasID: %w", err)
			}
			got, err := e.c.Get(k)
			if err != nil {
				return fmt.Errorf("Get: %w", err)
			}
			if string(got.Value) != "two" || got.CasID == old || got.CasID == 0 {
				return fmt.Errorf("after CAS: value %q cas %d (was %d), want \"two\" and a new non-zero CasID", got.Value, got.CasID, old)
			}
			return nil
		}},
		{name: "CompareAndSwapStale", run: func(e *contractEnv) error {
			k := e.key("k")
			stale, err := contractSetGet(e, &memcache.Item{Key: k, Value: []byte("one")})
			if err != nil {
				return err
			}
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("two")}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			stale.Value = []byte("three")
			if err := contractWantErr("CAS with a stale CasID", e.c.CompareAndSwap(stale), memcache.ErrCASConflict); err != nil {
				return err
			}
			return contractWantValue(e, k, "two")
		}},
		{name: "CompareAndSwapTwiceWithSameCasID", run: func(e *contractEnv) error {
			k := e.key("k")
			it, err := contractSetGet(e, &memcache.Item{Key: k, Value: []byte("one")})
			if err != nil {
				return err
			}
			it.Value = []byte("two")
			if err := e.c.CompareAndSwap(it); err != nil {
				return fmt.Errorf("first CAS: %w", err)
			}
			it.Value = []byte("three")
			if err := contractWantErr("second CAS with the same CasID", e.c.CompareAndSwap(it), memcache.ErrCASConflict); err != nil {
				return err
			}
			return contractWantValue(e, k, "two")
		}},
		{name: "CompareAndSwapMissing", run: func(e *contractEnv) error {
			k := e.key("k")
			it, err := contractSetGet(e, &memcache.Item{Key: k, Value: []byte("one")})
			if err != nil {
				return err
			}
			if err := e.c.Delete(k); err != nil {
				return fmt.Errorf("Delete: %w", err)
			}
			it.Value = []byte("two")
			if err := contractWantErr("CAS on a deleted key", e.c.CompareAndSwap(it), memcache.ErrCacheMiss); err != nil {
				return err
			}
			if err := contractWantErr("CAS on a never-set key", e.c.CompareAndSwap(&memcache.Item{Key: e.key("never"), Value: []byte("x"), CasID: 1}), memcache.ErrCacheMiss); err != nil {
				return err
			}
			return contractWantMiss(e, k)
		}},
		{name: "DeleteExisting", run: func(e *contractEnv) error {
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v")}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			if err := e.c.Delete(k); err != nil {
				return fmt.Errorf("Delete existing: %w", err)
			}
			return contractWantMiss(e, k)
		}},
		{name: "DeleteMissing", run: func(e *contractEnv) error {
			return contractWantErr("Delete absent", e.c.Delete(e.key("absent")), memcache.ErrCacheMiss)
		}},
		{name: "TouchExisting", run: func(e *contractEnv) error {
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v"), Expiration: 60}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			if err := e.c.Touch(k, 3600); err != nil {
				return fmt.Errorf("Touch existing: %w", err)
			}
			return contractWantValue(e, k, "v")
		}},
		{name: "TouchMissing", run: func(e *contractEnv) error {
			return contractWantErr("Touch absent", e.c.Touch(e.key("absent"), 60), memcache.ErrCacheMiss)
		}},
		{name: "TouchNegativeExpires", run: func(e *contractEnv) error {
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v")}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			if err := e.c.Touch(k, -1); err != nil {
				return fmt.Errorf("Touch -1: %w", err)
			}
			return contractWantMiss(e, k)
		}},
		{name: "NegativeExpiration", run: func(e *contractEnv) error {
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v"), Expiration: -1}); err != nil {
				return fmt.Errorf("Set with Expiration -1: %w", err)
			}
			if err := contractWantMiss(e, k); err != nil {
				return err
			}
			// Dead on arrival means absent: Add succeeds, CAS misses.
			if err := contractWantErr("CAS on a dead-on-arrival key", e.c.CompareAndSwap(&memcache.Item{Key: k, Value: []byte("x"), CasID: 1}), memcache.ErrCacheMiss); err != nil {
				return err
			}
			if err := e.c.Add(&memcache.Item{Key: k, Value: []byte("added")}); err != nil {
				return fmt.Errorf("Add after a dead-on-arrival Set: %w", err)
			}
			return contractWantValue(e, k, "added")
		}},
		{name: "AbsoluteExpirationBeyond30Days", run: func(e *contractEnv) error {
			k := e.key("k")
			exp := int32(e.now().Add(40 * 24 * time.Hour).Unix())
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v"), Expiration: exp}); err != nil {
				return fmt.Errorf("Set with absolute expiration now+40d: %w", err)
			}
			if err := contractWantValue(e, k, "v"); err != nil {
				return fmt.Errorf("absolute expiration now+40d: %w", err)
			}
			// Touch accepts the same absolute form.
			if err := e.c.Touch(k, exp+60); err != nil {
				return fmt.Errorf("Touch with absolute expiration: %w", err)
			}
			return contractWantValue(e, k, "v")
		}},
		{name: "RelativeSecondsBeyond30DaysAreA1970Timestamp", run: func(e *contractEnv) error {
			// 40 days as relative seconds: memcached reads any value above
			// 30 days as an absolute Unix time, here in January 1970, so
			// the item is dead on arrival. Manager.expiration avoids this.
			const fortyDays = 40 * 24 * 60 * 60 // 3456000
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v"), Expiration: fortyDays}); err != nil {
				return fmt.Errorf("Set with Expiration 3456000: %w", err)
			}
			if err := contractWantMiss(e, k); err != nil {
				return fmt.Errorf("Expiration 3456000 (40 days as relative seconds): %w", err)
			}
			// The same through Touch.
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v")}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			if err := e.c.Touch(k, fortyDays); err != nil {
				return fmt.Errorf("Touch 3456000: %w", err)
			}
			if err := contractWantMiss(e, k); err != nil {
				return fmt.Errorf("Touch 3456000: %w", err)
			}
			// Exactly 30 days is still relative.
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v"), Expiration: maxMemcachedRelative}); err != nil {
				return fmt.Errorf("Set with Expiration 30 days: %w", err)
			}
			return contractWantValue(e, k, "v")
		}},
		{name: "OneSecondExpirationExpires", run: func(e *contractEnv) error {
			k := e.key("k")
			// memcached's clock ticks once a second, so on a real clock a
			// 1-second item can die between the Set and the first Get;
			// retrying the Set makes "it was stored" reliable without a
			// timed assertion.
			stored := false
			for range 3 {
				if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v"), Expiration: 1}); err != nil {
					return fmt.Errorf("Set with Expiration 1: %w", err)
				}
				if _, err := e.c.Get(k); err == nil {
					stored = true
					break
				} else if !errors.Is(err, memcache.ErrCacheMiss) {
					return fmt.Errorf("Get: %w", err)
				}
			}
			if !stored {
				return errors.New("an item with Expiration 1 was never retrievable")
			}
			if e.advance != nil {
				e.advance(2 * time.Second)
				return contractWantMiss(e, k)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				_, err := e.c.Get(k)
				if errors.Is(err, memcache.ErrCacheMiss) {
					return nil
				}
				if err != nil {
					return fmt.Errorf("Get: %w", err)
				}
				if time.Now().After(deadline) {
					return errors.New("an item with Expiration 1 was still retrievable after 5s")
				}
				time.Sleep(50 * time.Millisecond)
			}
		}},
		{name: "MalformedKeys", run: func(e *contractEnv) error {
			// gomemcache rejects these before any I/O, so both backends
			// must answer ErrMalformedKey for every operation.
			for _, k := range []string{
				strings.Repeat("k", 251),
				e.key("has space"),
				e.key("has\nnewline"),
				e.key("has\x00nul"),
				e.key("has\x7fdel"),
			} {
				name := fmt.Sprintf("key %.20q (len %d)", k, len(k))
				item := &memcache.Item{Key: k, Value: []byte("v"), CasID: 1}
				_, err := e.c.Get(k)
				for _, r := range []struct {
					op  string
					err error
				}{
					{"Get", err},
					{"Set", e.c.Set(item)},
					{"Add", e.c.Add(item)},
					{"CompareAndSwap", e.c.CompareAndSwap(item)},
					{"Delete", e.c.Delete(k)},
					{"Touch", e.c.Touch(k, 60)},
				} {
					if err := contractWantErr(r.op+" "+name, r.err, memcache.ErrMalformedKey); err != nil {
						return err
					}
				}
			}
			return nil
		}},
		{name: "LongestKey", run: func(e *contractEnv) error {
			k := e.key("")
			k += strings.Repeat("k", maxKeyLength-len(k))
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v")}); err != nil {
				return fmt.Errorf("Set with a %d-byte key: %w", len(k), err)
			}
			return contractWantValue(e, k, "v")
		}},
		{name: "EmptyKeyFails", run: func(e *contractEnv) error {
			// gomemcache passes "" to the server, which answers ERROR; the
			// memory client reports ErrMalformedKey. Either way: an error,
			// never a miss or a success.
			if _, err := e.c.Get(""); err == nil || errors.Is(err, memcache.ErrCacheMiss) {
				return fmt.Errorf("Get(\"\") = %v, want a non-miss error", err)
			}
			if err := e.c.Set(&memcache.Item{Key: "", Value: []byte("v")}); err == nil {
				return errors.New("Set with an empty key succeeded")
			}
			return nil
		}},
		{name: "ValueOverOneMiBRejected", run: func(e *contractEnv) error {
			k := e.key("big")
			big := bytes.Repeat([]byte("x"), contractMiB+1)
			if err := e.c.Set(&memcache.Item{Key: k, Value: big}); err == nil {
				return errors.New("Set of a 1 MiB + 1 value succeeded")
			}
			if err := contractWantMiss(e, k); err != nil {
				return fmt.Errorf("after a rejected 1 MiB + 1 Set: %w", err)
			}
			if err := e.c.Add(&memcache.Item{Key: k, Value: big}); err == nil {
				return errors.New("Add of a 1 MiB + 1 value succeeded")
			}
			return contractWantMiss(e, k)
		}},
		{name: "OversizedCASKeepsOldValue", run: func(e *contractEnv) error {
			k := e.key("k")
			it, err := contractSetGet(e, &memcache.Item{Key: k, Value: []byte("small")})
			if err != nil {
				return err
			}
			it.Value = bytes.Repeat([]byte("x"), contractMiB+1)
			if err := e.c.CompareAndSwap(it); err == nil {
				return errors.New("CompareAndSwap of a 1 MiB + 1 value succeeded")
			}
			return contractWantValue(e, k, "small")
		}},
		{
			name: "OversizedSetDropsOldValue",
			// memcached unlinks the old item when a Set fails for size
			// ("avoid stale data persisting in cache because we failed
			// alloc"); only Set does this, not Add or CAS.
			run: func(e *contractEnv) error {
				k := e.key("k")
				if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("small")}); err != nil {
					return fmt.Errorf("Set: %w", err)
				}
				if err := e.c.Set(&memcache.Item{Key: k, Value: bytes.Repeat([]byte("x"), contractMiB+1)}); err == nil {
					return errors.New("Set of a 1 MiB + 1 value succeeded")
				}
				return contractWantMiss(e, k)
			},
		},
		{name: "DefaultMaxSizeFits", run: func(e *contractEnv) error {
			// A session of DefaultMaxSize bytes under a key as long as the
			// default one ("ginsession:" + 43) and then some.
			k := e.key("")
			k += strings.Repeat("k", 60-len(k))
			v := bytes.Repeat([]byte{0xa5}, DefaultMaxSize)
			if err := e.c.Add(&memcache.Item{Key: k, Value: v, Expiration: 60}); err != nil {
				return fmt.Errorf("Add of DefaultMaxSize (%d) bytes with a 60-byte key: %w", DefaultMaxSize, err)
			}
			it, err := e.c.Get(k)
			if err != nil {
				return fmt.Errorf("Get: %w", err)
			}
			if !bytes.Equal(it.Value, v) {
				return fmt.Errorf("Get returned %d bytes, want the %d stored", len(it.Value), len(v))
			}
			it.Value[0] ^= 0xff
			if err := e.c.CompareAndSwap(it); err != nil {
				return fmt.Errorf("CompareAndSwap of DefaultMaxSize bytes: %w", err)
			}
			return nil
		}},
		{
			name: "ItemSizeLimitBoundary",
			// memcached 1.6 (-I 1m, CAS on, flags 0) stores key+value up to
			// 1 MiB - 59 bytes, and not one byte more.
			run: func(e *contractEnv) error {
				k := e.key("")
				k += strings.Repeat("k", 60-len(k))
				fits := contractMiB - contractMemcachedOverhead - len(k)
				if err := e.c.Set(&memcache.Item{Key: k, Value: make([]byte, fits)}); err != nil {
					return fmt.Errorf("Set of key+value = 1 MiB - %d: %w", contractMemcachedOverhead, err)
				}
				k2 := k[:len(k)-1] + "2"
				if err := e.c.Set(&memcache.Item{Key: k2, Value: make([]byte, fits+1)}); err == nil {
					return fmt.Errorf("Set of key+value = 1 MiB - %d succeeded; memcached rejects it", contractMemcachedOverhead-1)
				}
				return nil
			},
		},
		{name: "ConcurrentCASIncrements", run: func(e *contractEnv) error {
			k := e.key("counter")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("0")}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			const workers = 16
			errs := make(chan error, workers)
			var start, wg sync.WaitGroup
			start.Add(1)
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					start.Wait()
					errs <- contractCASIncrement(e.c, k)
				}()
			}
			start.Done()
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					return err
				}
			}
			return contractWantValue(e, k, strconv.Itoa(workers))
		}},
	}
}

// contractCASIncrement adds one to the decimal counter under k with Get and
// CompareAndSwap, retrying on conflict.
func contractCASIncrement(c Client, k string) error {
	for attempt := 0; attempt < 1000; attempt++ {
		it, err := c.Get(k)
		if err != nil {
			return fmt.Errorf("Get: %w", err)
		}
		n, err := strconv.Atoi(string(it.Value))
		if err != nil {
			return fmt.Errorf("counter holds %q", it.Value)
		}
		it.Value = []byte(strconv.Itoa(n + 1))
		err = c.CompareAndSwap(it)
		if err == nil {
			return nil
		}
		if !errors.Is(err, memcache.ErrCASConflict) {
			return fmt.Errorf("CompareAndSwap: %w", err)
		}
	}
	return errors.New("gave up after 1000 CAS conflicts")
}

// contractSetGet stores item and reads it back.
func contractSetGet(e *contractEnv, item *memcache.Item) (*memcache.Item, error) {
	if err := e.c.Set(item); err != nil {
		return nil, fmt.Errorf("Set: %w", err)
	}
	it, err := e.c.Get(item.Key)
	if err != nil {
		return nil, fmt.Errorf("Get after Set: %w", err)
	}
	if it.CasID == 0 {
		return nil, errors.New("Get after Set returned CasID 0")
	}
	return it, nil
}

// contractWantErr checks that err is want.
func contractWantErr(op string, err, want error) error {
	if !errors.Is(err, want) {
		return fmt.Errorf("%s: error = %v, want %v", op, err, want)
	}
	return nil
}

// contractWantMiss checks that k is not retrievable.
func contractWantMiss(e *contractEnv, k string) error {
	it, err := e.c.Get(k)
	if err == nil {
		return fmt.Errorf("Get %q: found %d bytes, want a miss", k, len(it.Value))
	}
	return contractWantErr("Get", err, memcache.ErrCacheMiss)
}

// contractWantValue checks that k holds value.
func contractWantValue(e *contractEnv, k, value string) error {
	it, err := e.c.Get(k)
	if err != nil {
		return fmt.Errorf("Get %q: %w, want %q", k, err, value)
	}
	if string(it.Value) != value {
		return fmt.Errorf("Get %q = %.40q, want %q", k, it.Value, value)
	}
	return nil
}
