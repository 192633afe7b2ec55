package clientcontract

//lint:file-ignore ST1005 the errors are test failure messages, which start with the method that failed (Get, Set...)

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/bradfitz/gomemcache/memcache"
)

// memcached's limits, stated here independently of any client's code so
// the cases check them rather than repeat them.
const (
	// maxKeyLength is the longest key memcached accepts, in bytes.
	maxKeyLength = 250
	// mib is memcached's default item size limit (-I 1m).
	mib = 1 << 20
	// itemOverhead is memcached 1.6's per-item overhead when flags are 0:
	// a 48-byte header, the 8-byte CAS, the key's NUL and the value's CRLF
	// (measured: with a 60-byte key the largest value stored under -I 1m
	// is 1048457 bytes).
	itemOverhead = 59
)

// limitCases covers malformed and boundary keys and item sizes.
func limitCases() []testCase {
	return []testCase{
		{name: "MalformedKeys", run: func(e *env) error {
			// gomemcache rejects these before any I/O, so every client
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
					if err := wantErr(r.op+" "+name, r.err, memcache.ErrMalformedKey); err != nil {
						return err
					}
				}
			}
			return nil
		}},
		{name: "LongestKey", run: func(e *env) error {
			k := e.key("")
			k += strings.Repeat("k", maxKeyLength-len(k))
			if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("v")}); err != nil {
				return fmt.Errorf("Set with a %d-byte key: %w", len(k), err)
			}
			return wantValue(e, k, "v")
		}},
		{name: "EmptyKeyFails", run: func(e *env) error {
			// gomemcache passes "" to the server, which answers ERROR;
			// clients that check keys themselves (memcluster.ValidKey)
			// report ErrMalformedKey. Either way: an error, never a miss
			// or a success.
			if _, err := e.c.Get(""); err == nil || errors.Is(err, memcache.ErrCacheMiss) {
				return fmt.Errorf("Get(\"\") = %v, want a non-miss error", err)
			}
			if err := e.c.Set(&memcache.Item{Key: "", Value: []byte("v")}); err == nil {
				return errors.New("Set with an empty key succeeded")
			}
			return nil
		}},
		{name: "ValueOverOneMiBRejected", run: func(e *env) error {
			k := e.key("big")
			big := bytes.Repeat([]byte("x"), mib+1)
			if err := e.c.Set(&memcache.Item{Key: k, Value: big}); err == nil {
				return errors.New("Set of a 1 MiB + 1 value succeeded")
			}
			if err := wantMiss(e, k); err != nil {
				return fmt.Errorf("after a rejected 1 MiB + 1 Set: %w", err)
			}
			if err := e.c.Add(&memcache.Item{Key: k, Value: big}); err == nil {
				return errors.New("Add of a 1 MiB + 1 value succeeded")
			}
			return wantMiss(e, k)
		}},
		{name: "OversizedCASKeepsOldValue", run: func(e *env) error {
			k := e.key("k")
			it, err := setGet(e, &memcache.Item{Key: k, Value: []byte("small")})
			if err != nil {
				return err
			}
			it.Value = bytes.Repeat([]byte("x"), mib+1)
			if err := e.c.CompareAndSwap(it); err == nil {
				return errors.New("CompareAndSwap of a 1 MiB + 1 value succeeded")
			}
			return wantValue(e, k, "small")
		}},
		{
			name: "OversizedSetDropsOldValue",
			// memcached unlinks the old item when a Set fails for size
			// ("avoid stale data persisting in cache because we failed
			// alloc"); only Set does this, not Add or CAS.
			run: func(e *env) error {
				k := e.key("k")
				if err := e.c.Set(&memcache.Item{Key: k, Value: []byte("small")}); err != nil {
					return fmt.Errorf("Set: %w", err)
				}
				if err := e.c.Set(&memcache.Item{Key: k, Value: bytes.Repeat([]byte("x"), mib+1)}); err == nil {
					return errors.New("Set of a 1 MiB + 1 value succeeded")
				}
				return wantMiss(e, k)
			},
		},
		{
			name: "ItemSizeLimitBoundary",
			// memcached 1.6 (-I 1m, CAS on, flags 0) stores key+value up to
			// 1 MiB - 59 bytes, and not one byte more.
			run: func(e *env) error {
				k := e.key("")
				k += strings.Repeat("k", 60-len(k))
				fits := mib - itemOverhead - len(k)
				if err := e.c.Set(&memcache.Item{Key: k, Value: make([]byte, fits)}); err != nil {
					return fmt.Errorf("Set of key+value = 1 MiB - %d: %w", itemOverhead, err)
				}
				k2 := k[:len(k)-1] + "2"
				if err := e.c.Set(&memcache.Item{Key: k2, Value: make([]byte, fits+1)}); err == nil {
					return fmt.Errorf("Set of key+value = 1 MiB - %d succeeded; memcached rejects it", itemOverhead-1)
				}
				return nil
			},
		},
	}
}
