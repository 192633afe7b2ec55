package clientcontract

//lint:file-ignore ST1005 the errors are test failure messages, which start with the method that failed (Get, Set...)

import (
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/bradfitz/gomemcache/memcache"
)

// storageCases covers the storage commands: Get, Set, Add, CompareAndSwap,
// Delete and Touch, alone and with 16 concurrent CAS writers.
func storageCases() []testCase {
	return []testCase{
		{name: "GetMiss", run: func(e *env) error {
			_, err := e.c.Get(e.key("absent"))
			return wantErr("Get absent", err, memcache.ErrCacheMiss)
		}},
		{name: "SetThenGet", run: func(e *env) error {
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
		{name: "EmptyValue", run: func(e *env) error {
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
		{name: "SetOverwritesAndChangesCasID", run: func(e *env) error {
			k := e.key("k")
			first, err := setGet(e, &memcache.Item{Key: k, Value: []byte("one")})
			if err != nil {
				return err
			}
			second, err := setGet(e, &memcache.Item{Key: k, Value: []byte("two")})
			if err != nil {
				return err
			}
			if string(second.Value) != "two" || second.CasID == first.CasID {
				return fmt.Errorf("after overwrite: value %q cas %d (was %d), want \"two\" and a new CasID",
					second.Value, second.CasID, first.CasID)
			}
			return nil
		}},
		{name: "StoredValueIsACopy", run: func(e *env) error {
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
		{name: "AddExisting", run: func(e *env) error {
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("old")}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			if err := wantErr("Add existing", e.c.Add(&memcache.Item{Key: k, Value: []byte("new")}), memcache.ErrNotStored); err != nil {
				return err
			}
			return wantValue(e, k, "old")
		}},
		{name: "AddAbsent", run: func(e *env) error {
			k := e.key("k")
			if err := e.c.Add(&memcache.Item{Key: k, Value: []byte("v")}); err != nil {
				return fmt.Errorf("Add absent: %w", err)
			}
			return wantValue(e, k, "v")
		}},
		{name: "AddAfterDelete", run: func(e *env) error {
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
			return wantValue(e, k, "new")
		}},
		{name: "CompareAndSwap", run: func(e *env) error {
			k := e.key("k")
			it, err := setGet(e, &memcache.Item{Key: k, Value: []byte("one")})
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
		{name: "CompareAndSwapStale", run: func(e *env) error {
			k := e.key("k")
			stale, err := setGet(e, &memcache.Item{Key: k, Value: []byte("one")})
			if err != nil {
				return err
			}
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("two")}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			stale.Value = []byte("three")
			if err := wantErr("CAS with a stale CasID", e.c.CompareAndSwap(stale), memcache.ErrCASConflict); err != nil {
				return err
			}
			return wantValue(e, k, "two")
		}},
		{name: "CompareAndSwapTwiceWithSameCasID", run: func(e *env) error {
			k := e.key("k")
			it, err := setGet(e, &memcache.Item{Key: k, Value: []byte("one")})
			if err != nil {
				return err
			}
			it.Value = []byte("two")
			if err := e.c.CompareAndSwap(it); err != nil {
				return fmt.Errorf("first CAS: %w", err)
			}
			it.Value = []byte("three")
			if err := wantErr("second CAS with the same CasID", e.c.CompareAndSwap(it), memcache.ErrCASConflict); err != nil {
				return err
			}
			return wantValue(e, k, "two")
		}},
		{name: "CompareAndSwapMissing", run: func(e *env) error {
			k := e.key("k")
			it, err := setGet(e, &memcache.Item{Key: k, Value: []byte("one")})
			if err != nil {
				return err
			}
			if err := e.c.Delete(k); err != nil {
				return fmt.Errorf("Delete: %w", err)
			}
			it.Value = []byte("two")
			if err := wantErr("CAS on a deleted key", e.c.CompareAndSwap(it), memcache.ErrCacheMiss); err != nil {
				return err
			}
			if err := wantErr("CAS on a never-set key", e.c.CompareAndSwap(&memcache.Item{Key: e.key("never"), Value: []byte("x"), CasID: 1}), memcache.ErrCacheMiss); err != nil {
				return err
			}
			return wantMiss(e, k)
		}},
		{name: "DeleteExisting", run: func(e *env) error {
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v")}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			if err := e.c.Delete(k); err != nil {
				return fmt.Errorf("Delete existing: %w", err)
			}
			return wantMiss(e, k)
		}},
		{name: "DeleteMissing", run: func(e *env) error {
			return wantErr("Delete absent", e.c.Delete(e.key("absent")), memcache.ErrCacheMiss)
		}},
		{name: "TouchExisting", run: func(e *env) error {
			k := e.key("k")
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v"), Expiration: 60}); err != nil {
				return fmt.Errorf("Set: %w", err)
			}
			if err := e.c.Touch(k, 3600); err != nil {
				return fmt.Errorf("Touch existing: %w", err)
			}
			return wantValue(e, k, "v")
		}},
		{name: "TouchMissing", run: func(e *env) error {
			return wantErr("Touch absent", e.c.Touch(e.key("absent"), 60), memcache.ErrCacheMiss)
		}},
		{name: "ConcurrentCASIncrements", run: func(e *env) error {
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
					errs <- casIncrement(e.c, k)
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
			return wantValue(e, k, strconv.Itoa(workers))
		}},
	}
}

// casIncrement adds one to the decimal counter under k with Get and
// CompareAndSwap, retrying on conflict.
func casIncrement(c Client, k string) error {
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
