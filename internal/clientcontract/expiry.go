package clientcontract

//lint:file-ignore ST1005 the errors are test failure messages, which start with the method that failed (Get, Set...)

import (
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// maxRelativeExpiration is the largest expiration memcached reads as
// relative seconds (30 days); larger values are absolute Unix times.
const maxRelativeExpiration = 30 * 24 * 60 * 60

// expiryCases covers expirations: negative (dead on arrival), relative,
// absolute beyond 30 days, through Set and Touch.
func expiryCases() []testCase {
	return []testCase{
		{name: "TouchNegativeExpires", run: func(e *env) error {
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v")}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			if err := e.c.Touch(k, -1); err != nil {
				return fmt.Errorf("Touch -1: %w", err)
			}
			return wantMiss(e, k)
		}},
		{name: "NegativeExpiration", run: func(e *env) error {
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v"), Expiration: -1}); err != nil {
				return fmt.Errorf("Set with Expiration -1: %w", err)
			}
			if err := wantMiss(e, k); err != nil {
				return err
			}
			// Dead on arrival means absent: Add succeeds, CAS misses.
			if err := wantErr("CAS on a dead-on-arrival key", e.c.CompareAndSwap(&memcache.Item{Key: k, Value: []byte("x"), CasID: 1}), memcache.ErrCacheMiss); err != nil {
				return err
			}
			if err := e.c.Add(&memcache.Item{Key: k, Value: []byte("added")}); err != nil {
				return fmt.Errorf("Add after a dead-on-arrival Set: %w", err)
			}
			return wantValue(e, k, "added")
		}},
		{name: "AbsoluteExpirationBeyond30Days", run: func(e *env) error {
			k := e.key("k")
			exp := int32(e.now().Add(40 * 24 * time.Hour).Unix())
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v"), Expiration: exp}); err != nil {
				return fmt.Errorf("Set with absolute expiration now+40d: %w", err)
			}
			if err := wantValue(e, k, "v"); err != nil {
				return fmt.Errorf("absolute expiration now+40d: %w", err)
			}
			// Touch accepts the same absolute form.
			if err := e.c.Touch(k, exp+60); err != nil {
				return fmt.Errorf("Touch with absolute expiration: %w", err)
			}
			return wantValue(e, k, "v")
		}},
		{name: "RelativeSecondsBeyond30DaysAreA1970Timestamp", run: func(e *env) error {
			// 40 days as relative seconds: memcached reads any value above
			// 30 days as an absolute Unix time, here in January 1970, so
			// the item is dead on arrival (callers must send absolute
			// times beyond 30 days).
			const fortyDays = 40 * 24 * 60 * 60 // 3456000
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v"), Expiration: fortyDays}); err != nil {
				return fmt.Errorf("Set with Expiration 3456000: %w", err)
			}
			if err := wantMiss(e, k); err != nil {
				return fmt.Errorf("Expiration 3456000 (40 days as relative seconds): %w", err)
			}
			// The same through Touch.
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v")}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			if err := e.c.Touch(k, fortyDays); err != nil {
				return fmt.Errorf("Touch 3456000: %w", err)
			}
			if err := wantMiss(e, k); err != nil {
				return fmt.Errorf("Touch 3456000: %w", err)
			}
			// Exactly 30 days is still relative.
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v"), Expiration: maxRelativeExpiration}); err != nil {
				return fmt.Errorf("Set with Expiration 30 days: %w", err)
			}
			return wantValue(e, k, "v")
		}},
		{name: "OneSecondExpirationExpires", run: func(e *env) error {
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
				return wantMiss(e, k)
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
	}
}
